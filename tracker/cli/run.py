"""``tracker run`` and ``tracker demo``: the daemon, in the foreground or once through.

``run --once`` processes every mailbox until it is empty, delivers the
outbox and exits 1 if a mailbox could not be read; without ``--once`` the
daemon runs until SIGTERM or Ctrl-C, which stop it within a few seconds (a batch
not yet committed is rolled back and read again at the next start).
``demo`` writes the example escalations into the first Maildir and runs on
the embedded defaults, saying what happened to each message.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import queries
from tracker.cli.common import Subcommands, build, load, out
from tracker.clock import Clock
from tracker.config import Config
from tracker.errors import ConfigError
from tracker.intake import Result
from tracker.kinds import Outcome
from tracker.service import Service
from tracker.store import Store, observe_clock

if TYPE_CHECKING:
    from tracker.daemon import Daemon, Reporter

log = logging.getLogger("tracker.cli")


def _make_daemon(
    config: Config, store: Store, service: Service, clock: Clock, reporter: Reporter | None = None
) -> Daemon:
    # Imported here: the scheduler and the mailbox clients are only needed to run.
    from tracker.daemon import Daemon, all_sources
    from tracker.senders.base import make_sender

    return Daemon(
        config,
        store,
        clock,
        service,
        all_sources(config, store),
        make_sender(config.outgoing),
        reporter=reporter,
    )


#: After SIGTERM or Ctrl-C the process ends within this many seconds whatever it is doing:
#: the daemon's threads get a short grace period (``STOP_GRACE_SECONDS``), and if the
#: process is still alive after this (a thread pool busy with a message, a stuck send), it
#: exits at once. Nothing is lost: raw mail is committed before it is processed, an
#: uncommitted batch is rolled back and read again at the next start.
HARD_STOP_SECONDS = 4.0


def _install_signals(daemon: Daemon) -> None:
    stopping = threading.Event()

    def hard_exit() -> None:
        log.warning("still busy %.0f s after the stop signal; exiting now", HARD_STOP_SECONDS)
        logging.shutdown()
        os._exit(0)

    def stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            log.warning("second stop signal; exiting now")
            logging.shutdown()
            os._exit(1)
        stopping.set()
        log.info("signal %s received; stopping", signum)
        daemon.stop()
        watchdog = threading.Timer(HARD_STOP_SECONDS, hard_exit)
        watchdog.daemon = True
        watchdog.start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def cmd_run(args: argparse.Namespace) -> int:
    config = load(args)
    store, service, clock = build(args, config)
    if args.now:
        # Refuse a replay that would move this database's clock backwards.
        observe_clock(store, clock.now(), explicit=True)
    daemon = _make_daemon(config, store, service, clock)
    if args.once:
        report = daemon.run_once(progress=lambda line: print(line, file=sys.stderr, flush=True))
        out(f"done: {report.summary()}")
        for error in report.errors:
            out(f"error: {error}")
        return 1 if report.errors else 0
    _install_signals(daemon)
    names = ", ".join(f"{m.name} ({m.kind})" for m in config.mailbox) or "no mailboxes"
    log.info("watching %s; outgoing via %s; press Ctrl-C to stop", names, config.outgoing.transport)
    daemon.run_forever()
    log.info("stopped: %s", daemon.report.summary())
    return 0


def _program() -> str:
    """How the user can run us again: ``.venv/bin/tracker`` after ``make demo``."""
    path = Path(sys.argv[0])
    if path.name == "tracker" and path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return "tracker"


def _describe(mailbox: str, o: Result) -> str:
    if o.outcome == Outcome.CASE:
        ack = "acknowledgement queued" if o.acknowledged else "no acknowledgement"
        return f"[{mailbox}] new case {o.reference} opened; {ack}"
    if o.outcome == Outcome.THREAD:
        return f"[{mailbox}] follow-up added to {o.reference}: {o.reason}"
    return f"[{mailbox}] {o.outcome}: {o.reason}"


def _say(mailbox: str, o: Result) -> None:
    out(_describe(mailbox, o))


def cmd_demo(args: argparse.Namespace) -> int:
    from tracker.demo import seed_demo_mail

    config = load(args)
    maildirs = [m for m in config.mailbox if m.kind == "maildir"]
    if not maildirs or maildirs[0].path is None:
        raise ConfigError("the demo needs a maildir mailbox (the embedded defaults have one)")
    store, service, clock = build(args, config)
    written = seed_demo_mail(maildirs[0].path)
    out(f"Database:  {store.safe_url}")
    out("Mailboxes: " + ", ".join(f"{m.name} -> {m.path}" for m in maildirs))
    out(f"Outgoing:  {config.outgoing.transport} -> {config.outgoing.directory}")
    out(f"Wrote {written} example messages into {maildirs[0].path / 'new'}")
    out("")
    daemon = _make_daemon(config, store, service, clock, reporter=_say)
    report = daemon.run_once()
    out("")
    out(f"Processed: {report.summary()}")
    sender = daemon.sender
    if report.sent and hasattr(sender, "path_for"):
        out(f"Outgoing mail written to {config.outgoing.directory}:")
        for message_id in queries.sent_message_ids(store, limit=report.sent):
            out(f"  {sender.path_for(message_id)}")
    prog = _program()
    out(f"Try: {prog} cases list, {prog} cases show SSCP-2026-0001, {prog} quarantine list")
    if args.once:
        return 0
    out("")
    out(f"Watching {', '.join(str(m.path) for m in maildirs)} for new mail; Ctrl-C to stop.")
    out("(Drop an .eml file into a mailbox's new/ folder to see it processed.)")
    daemon = _make_daemon(config, store, service, clock, reporter=_say)
    _install_signals(daemon)
    daemon.run_forever()
    out(f"Stopped. This session: {daemon.report.summary()}")
    return 0


def add_commands(sub: Subcommands) -> None:
    run = sub.add_parser("run", help="run the daemon (or process what is there with --once)")
    run.add_argument(
        "--once",
        action="store_true",
        help="process every mailbox until empty, deliver the outbox, exit",
    )
    run.add_argument("--now", metavar="ISO-TIME", help="act as if it were this time (replays)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="write example escalations and run on embedded defaults")
    demo.add_argument("--once", action="store_true", help="exit after the examples")
    demo.set_defaults(func=cmd_demo)
