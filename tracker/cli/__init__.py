"""``tracker``: the command line operators and tests drive the daemon with.

One module per command group registers its commands with ``add_commands``
and does its work through :mod:`.common`; the state changes themselves live
with the data they change (:meth:`tracker.service.Service.replay`,
:func:`tracker.outbox.requeue`, :mod:`tracker.case_export`), so a
command module only parses, calls and prints. Exit codes: 0 done, 1 the
command found a problem it reports (no such case, a rule file with errors),
2 bad usage or configuration, 130 interrupted, 141 the reader of stdout left.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ingest.errors import EscalationTrackerError
from tracker.cli import cases, db, export, outbox, quarantine, reports, rules, run

__all__ = ["build_parser", "main"]

#: In the order ``tracker --help`` lists them.
_COMMAND_GROUPS = (run, export, cases, quarantine, outbox, reports, db, rules)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tracker",
        description="Track safeguarding escalations that arrive by email.",
        epilog="Without --config (or $TRACKER_CONFIG) the embedded demo defaults are used: "
        "SQLite, Maildir and outgoing files under ./var/.",
    )
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration file")
    p.add_argument("--verbose", "-v", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _COMMAND_GROUPS:
        group.add_commands(sub)
    return p


def _configure_logging(command: str, verbose: int) -> None:
    level = (
        logging.WARNING
        if command == "demo" and not verbose
        else (logging.DEBUG if verbose > 1 else logging.INFO)
    )
    # imapclient's wire trace shows LOGIN passwords and whole messages: never at DEBUG.
    logging.getLogger("imapclient").setLevel(max(level, logging.INFO))
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.command, args.verbose)
    try:
        return int(args.func(args))
    except EscalationTrackerError as exc:
        print(f"tracker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tracker cases show X | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
