"""``tracker``: the command line operators and tests drive the daemon with."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import undefer

from ingest.errors import EscalationTrackerError
from tracker import rules_cli
from tracker.clock import Clock, FrozenClock, SystemClock
from tracker.config import Config, default_config, load_config
from tracker.errors import ConfigError
from tracker.model import (
    Attachment,
    Case,
    CaseField,
    Child,
    Deadline,
    Event,
    Message,
    OutboxItem,
    RawMail,
)
from tracker.notify import Renderer
from tracker.service import Outcome, Service
from tracker.store import Store, observe_clock

log = logging.getLogger("tracker.cli")


def _out(text: str = "") -> None:
    print(text, flush=True)


def _load(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("TRACKER_CONFIG")
    if path:
        return load_config(Path(path))
    return default_config(Path.cwd())


def _clock(args: argparse.Namespace) -> Clock:
    when = getattr(args, "now", None)
    if when:
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            raise ConfigError(f"--now: not an ISO 8601 time: {when!r}") from None
        if moment.tzinfo is None:
            raise ConfigError("--now needs a UTC offset, e.g. 2026-12-24T16:20:00+00:00")
        return FrozenClock(moment)
    return SystemClock()


def _open_store(config: Config) -> Store:
    store = Store(config.database.url)
    store.upgrade()
    return store


def _build(args: argparse.Namespace, config: Config) -> tuple[Store, Service, Clock]:
    store = _open_store(config)
    clock = _clock(args)
    return store, Service(config, store, clock, Renderer(config.paths.templates_dir)), clock


# -- run / demo ---------------------------------------------------------------


def _make_daemon(
    config: Config, store: Store, service: Service, clock: Clock, reporter: Any = None
) -> Any:
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


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    store, service, clock = _build(args, config)
    if args.now:
        # Refuse a replay that would move this database's clock backwards.
        observe_clock(store, clock.now(), explicit=True)
    daemon = _make_daemon(config, store, service, clock)
    if args.once:
        report = daemon.run_once(progress=lambda line: print(line, file=sys.stderr, flush=True))
        _out(f"done: {report.summary()}")
        for err in report.errors:
            _out(f"error: {err}")
        return 1 if report.errors else 0
    _install_signals(daemon)
    names = ", ".join(f"{m.name} ({m.kind})" for m in config.mailbox) or "no mailboxes"
    log.info("watching %s; outgoing via %s; press Ctrl-C to stop", names, config.outgoing.transport)
    daemon.run_forever()
    log.info("stopped: %s", daemon.report.summary())
    return 0


def _install_signals(daemon: Any) -> None:
    def stop(signum: int, frame: object) -> None:
        log.info("signal %s received; finishing the current batch", signum)
        daemon.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _program() -> str:
    """How the user can run us again: ``.venv/bin/tracker`` after ``make demo``."""
    path = Path(sys.argv[0])
    if path.name == "tracker" and path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return "tracker"


def _describe(mailbox: str, o: Outcome) -> str:
    if o.outcome == "case":
        ack = "acknowledgement queued" if o.acknowledged else "no acknowledgement"
        return f"[{mailbox}] new case {o.reference} opened; {ack}"
    if o.outcome == "thread":
        return f"[{mailbox}] follow-up added to {o.reference}: {o.reason}"
    return f"[{mailbox}] {o.outcome}: {o.reason}"


def _sent_ids(store: Store, limit: int) -> list[str]:
    with store.transaction() as s:
        rows = s.scalars(
            select(OutboxItem.message_id)
            .where(OutboxItem.state == "sent")
            .order_by(OutboxItem.id.desc())
            .limit(limit)
        ).all()
    return list(reversed(rows))


def cmd_demo(args: argparse.Namespace) -> int:
    from tracker.demo import seed_demo_mail

    config = _load(args)
    maildirs = [m for m in config.mailbox if m.kind == "maildir"]
    if not maildirs or maildirs[0].path is None:
        raise ConfigError("the demo needs a maildir mailbox (the embedded defaults have one)")
    store, service, clock = _build(args, config)
    written = seed_demo_mail(maildirs[0].path)
    _out(f"Database:  {store.safe_url}")
    _out("Mailboxes: " + ", ".join(f"{m.name} -> {m.path}" for m in maildirs))
    _out(f"Outgoing:  {config.outgoing.transport} -> {config.outgoing.directory}")
    _out(f"Wrote {written} example messages into {maildirs[0].path / 'new'}")
    _out("")
    daemon = _make_daemon(
        config, store, service, clock, reporter=lambda name, o: _out(_describe(name, o))
    )
    report = daemon.run_once()
    _out("")
    _out(f"Processed: {report.summary()}")
    sender = daemon.sender
    if report.sent and hasattr(sender, "path_for"):
        _out(f"Outgoing mail written to {config.outgoing.directory}:")
        for message_id in _sent_ids(store, limit=report.sent):
            _out(f"  {sender.path_for(message_id)}")
    prog = _program()
    _out(f"Try: {prog} cases list, {prog} cases show SSCP-2026-0001, {prog} quarantine list")
    if args.once:
        return 0
    _out("")
    _out(f"Watching {', '.join(str(m.path) for m in maildirs)} for new mail; Ctrl-C to stop.")
    _out("(Drop an .eml file into a mailbox's new/ folder to see it processed.)")
    daemon = _make_daemon(
        config, store, service, clock, reporter=lambda name, o: _out(_describe(name, o))
    )
    _install_signals(daemon)
    daemon.run_forever()
    _out(f"Stopped. This session: {daemon.report.summary()}")
    return 0


# -- cases --------------------------------------------------------------------


def cmd_cases_list(args: argparse.Namespace) -> int:
    config = _load(args)
    store = _open_store(config)
    with store.transaction() as s:
        q = select(Case).order_by(Case.id)
        if args.status:
            q = q.where(Case.status == args.status)
        if args.partnership:
            q = q.where(Case.partnership == args.partnership)
        cases = s.scalars(q).all()
        if not cases:
            _out("No cases.")
            return 0
        _out(
            f"{'REFERENCE':<16} {'PARTNERSHIP':<12} {'STATUS':<8} {'STAGE':>5}  "
            f"{'OPENED (UTC)':<17} RAISED BY"
        )
        for c in cases:
            _out(
                f"{c.reference:<16} {c.partnership:<12} {c.status:<8} {c.stage:>5}  "
                f"{c.opened_at:%Y-%m-%d %H:%M} {c.raised_by}"
            )
        _out(f"{len(cases)} case(s)")
    return 0


def _ladder_position(config: Config, case: Case) -> str:
    """``2 of 4 (Management finding solutions), track default``, from the rule file if loadable."""
    from tracker.rules.partnerships import rule_path
    from tracker.rules.schema import RuleFileError, load_rule_file

    try:
        proc = load_rule_file(rule_path(config, case.partnership)).rule_file
    except RuleFileError:
        return str(case.stage)
    track = proc.track(case.track)
    stage = track.stage(case.stage)
    name = f" ({stage.name})" if stage else ""
    return f"{case.stage} of {len(track.stages)}{name}, track {case.track or proc.default_track}"


def _next_due(deadlines: Sequence[Deadline], status: str) -> str:
    if status == "resolved":
        return "nothing (resolved)"
    live = [d for d in deadlines if d.state == "open"]
    if not live:
        return "nothing"
    d = live[-1]
    if d.due_at is None:
        return f"stage {d.stage}: no fixed timescale ({d.basis.replace('_', ' ')})"
    warn = " OUT OF HOURS:" if d.out_of_hours else ""
    return f"stage {d.stage} by {d.due_at:%Y-%m-%d %H:%M} UTC ({warn}{d.explanation})"


def cmd_cases_show(args: argparse.Namespace) -> int:
    config = _load(args)
    store = _open_store(config)
    with store.transaction() as s:
        case = s.scalars(select(Case).where(Case.reference == args.reference.upper())).first()
        if case is None:
            _out(f"No case {args.reference}.")
            return 1
        _out(f"{case.reference}  ({case.partnership})")
        _out(f"  status:    {case.status}")
        _out(f"  stage:     {_ladder_position(config, case)}")
        deadlines = s.scalars(
            select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)
        ).all()
        _out(f"  next due:  {_next_due(deadlines, case.status)}")
        _out(f"  flags:     {', '.join(case.flags) or 'none'}")
        _out(f"  category:  {case.category or 'not recorded'}")
        _out(f"  opened:    {case.opened_at:%Y-%m-%d %H:%M} UTC via mailbox {case.mailbox}")
        _out(f"  raised by: {case.raised_by}")
        child = s.scalars(select(Child).where(Child.case_id == case.id)).first()
        if child is None:
            _out("  child:     not recorded")
        elif args.include_personal:
            _out(
                f"  child:     {child.name or 'name not given'}, born {child.dob or 'unknown'}"
                + (f", ref {child.local_ref}" if child.local_ref else "")
                + (f" (key {child.child_key[:12]})" if child.child_key else "")
            )
        else:
            key = f", key {child.child_key[:12]}" if child.child_key else ""
            _out(f"  child:     recorded{key} (--include-personal shows the identifiers)")
        fields = s.scalars(
            select(CaseField).where(CaseField.case_id == case.id).order_by(CaseField.id)
        ).all()
        shown = [f for f in fields if args.include_personal or f.name in METADATA_FIELDS]
        if shown:
            _out("  fields:")
            for f in shown:
                _out(f"    {f.name:<16} {' '.join(f.value.split())[:100]}  [{f.source}]")
        if deadlines:
            _out("  deadlines:")
            for d in deadlines:
                due = f"{d.due_at:%Y-%m-%d %H:%M} UTC" if d.due_at else "no fixed time"
                met = f", met {d.met_at:%Y-%m-%d %H:%M}" if d.met_at else ""
                late = " (late)" if d.met_at and d.due_at and d.met_at > d.due_at else ""
                _out(
                    f"    stage {d.stage}: {due} [{d.basis}; {d.state}{met}{late}]"
                    f"{'  out of hours' if d.out_of_hours else ''}"
                )
        _out("  messages:")
        for m in s.scalars(select(Message).where(Message.case_id == case.id).order_by(Message.id)):
            arrow = "<-" if m.direction == "in" else "->"
            via = f" ({m.threaded_via})" if m.threaded_via else ""
            _out(
                f"    {m.at:%Y-%m-%d %H:%M} {arrow} <{m.message_id}> {m.from_addr}"
                f" [{m.verdict}]{via}"
            )
        _out("  timeline:")
        for e in s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id)):
            _out(f"    {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<16} {e.detail}")
    return 0


# -- export -------------------------------------------------------------------


def export_cases(store: Store, include_personal: bool) -> list[dict[str, Any]]:
    """Every case with its message ids and timeline, as plain data."""
    from ingest.parse import parse

    out: list[dict[str, Any]] = []
    with store.transaction() as s:
        for case in s.scalars(select(Case).order_by(Case.id)):
            messages = s.scalars(
                select(Message).where(Message.case_id == case.id).order_by(Message.id)
            ).all()
            row: dict[str, Any] = {
                "reference": case.reference,
                "partnership": case.partnership,
                "status": case.status,
                "stage": case.stage,
                "flags": list(case.flags),
                "category": case.category,
                "opened_at": case.opened_at.isoformat(),
                "raised_by": case.raised_by,
                "mailbox": case.mailbox,
                "message_ids": [m.message_id for m in messages if m.message_id],
                "messages": [
                    {
                        "direction": m.direction,
                        "message_id": m.message_id,
                        "from": m.from_addr,
                        "at": m.at.isoformat(),
                        "verdict": m.verdict,
                        "threaded_via": m.threaded_via,
                    }
                    for m in messages
                ],
                "events": [
                    {"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail}
                    for e in s.scalars(
                        select(Event).where(Event.case_id == case.id).order_by(Event.id)
                    )
                ],
                "track": case.track,
                "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
                "deadlines": [
                    {
                        "stage": d.stage,
                        "due_at": d.due_at.isoformat() if d.due_at else None,
                        "basis": d.basis,
                        "unit": d.unit,
                        "within": d.within,
                        "rule": d.rule,
                        "state": d.state,
                        "met_at": d.met_at.isoformat() if d.met_at else None,
                        "out_of_hours": d.out_of_hours,
                    }
                    for d in s.scalars(
                        select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)
                    )
                ],
                "notifications": [
                    {
                        "kind": o.kind,
                        "to": list(o.recipients),
                        "state": o.state,
                        "sent_at": o.sent_at.isoformat() if o.sent_at else None,
                    }
                    for o in s.scalars(
                        select(OutboxItem)
                        .where(OutboxItem.case_id == case.id)
                        .order_by(OutboxItem.id)
                    )
                ],
            }
            child = s.scalars(select(Child).where(Child.case_id == case.id)).first()
            fields = {
                f.name: f for f in s.scalars(select(CaseField).where(CaseField.case_id == case.id))
            }
            # The pseudonymous key links cases about one child without naming it.
            row["child_key"] = child.child_key if child else None
            row["fields"] = {name: fields[name].value for name in METADATA_FIELDS if name in fields}
            if include_personal:
                row["child"] = (
                    {"name": child.name, "dob": child.dob, "local_ref": child.local_ref}
                    if child
                    else None
                )
                row["fields"] = {name: f.value for name, f in fields.items()}
                row["field_sources"] = {name: f.source for name, f in fields.items()}
                raw_ids_all = [m.raw_id for m in messages if m.raw_id is not None]
                row["attachments"] = [
                    {
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "size": a.size,
                        "sha256": a.sha256,
                        "status": a.status,
                        "reason": a.reason,
                    }
                    for a in (
                        s.scalars(
                            select(Attachment)
                            .where(Attachment.raw_id.in_(raw_ids_all))
                            .order_by(Attachment.id)
                        )
                        if raw_ids_all
                        else []
                    )
                ]
                # Subjects and bodies may name the child: only on explicit request.
                raw_ids = [m.raw_id for m in messages if m.raw_id is not None]
                raws = (
                    s.scalars(
                        select(RawMail)
                        .options(undefer(RawMail.data))
                        .where(RawMail.id.in_(raw_ids))
                    ).all()
                    if raw_ids
                    else []
                )
                subjects: dict[int, str | None] = {}
                for r in raws:
                    try:
                        subjects[r.id] = parse(r.data).subject
                    except EscalationTrackerError:
                        subjects[r.id] = None
                for m, d in zip(messages, row["messages"], strict=True):
                    if m.raw_id is not None:
                        d["subject"] = subjects.get(m.raw_id)
            out.append(row)
    return out


#: Case fields about professionals and the procedure (classes C and D), exported by default;
#: the narrative (concern, requested action, response, resolution) only with --include-personal.
METADATA_FIELDS = ("raiser_name", "raiser_email", "raiser_agency", "other_party", "form_date")

EXPORT_CSV_FIELDS = [
    "reference",
    "partnership",
    "status",
    "stage",
    "flags",
    "category",
    "opened_at",
    "raised_by",
    "mailbox",
    "child_key",
    "fields",
    "message_ids",
    "deadlines",
    "notifications",
    "events",
]


def write_export(cases: list[dict[str, Any]], fmt: str, stream: TextIO) -> None:
    if fmt == "json":
        json.dump({"cases": cases}, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    writer = csv.DictWriter(stream, fieldnames=EXPORT_CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for c in cases:
        writer.writerow(
            {
                **c,
                "flags": " ".join(c["flags"]),
                "message_ids": " ".join(f"<{m}>" for m in c["message_ids"]),
                "events": json.dumps(c["events"], ensure_ascii=False),
                "deadlines": json.dumps(c["deadlines"], ensure_ascii=False),
                "fields": json.dumps(c["fields"], ensure_ascii=False),
                "notifications": json.dumps(c["notifications"], ensure_ascii=False),
            }
        )


def cmd_export(args: argparse.Namespace) -> int:
    if getattr(args, "anonymised", False):
        from tracker.report_cli import cmd_export_anonymised

        return cmd_export_anonymised(args)
    config = _load(args)
    store = _open_store(config)
    cases = export_cases(store, args.include_personal)
    if not args.out:
        write_export(cases, args.format, sys.stdout)
        return 0
    with open(args.out, "w", encoding="utf-8", newline="") as stream:
        write_export(cases, args.format, stream)
    print(f"exported {len(cases)} case(s) to {args.out}", file=sys.stderr)
    return 0


# -- quarantine -----------------------------------------------------------------


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    config = _load(args)
    store = _open_store(config)
    with store.transaction() as s:
        rows = s.scalars(
            select(RawMail).where(RawMail.outcome == "quarantined").order_by(RawMail.id)
        ).all()
        if not rows:
            _out("Quarantine is empty.")
            return 0
        _out(f"{'ID':>6}  {'MAILBOX':<10} {'RECEIVED (UTC)':<17} {'SIZE':>8}  REASON")
        for r in rows:
            _out(
                f"{r.id:>6}  {r.mailbox:<10} {r.received_at:%Y-%m-%d %H:%M} {r.size:>8}  {r.reason}"
            )
        _out(f"{len(rows)} message(s) held. 'tracker quarantine replay ID' processes one again.")
    return 0


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    config = _load(args)
    store, service, clock = _build(args, config)
    with store.transaction() as s:
        q = select(RawMail).where(RawMail.outcome == "quarantined")
        if not args.all:
            if not args.ids:
                _out("Give message ids (see 'tracker quarantine list') or --all.")
                return 2
            q = q.where(RawMail.id.in_(args.ids))
        rows = s.scalars(q).all()
        for r in rows:
            r.state, r.outcome, r.attempts, r.replays = "pending", None, 0, r.replays + 1
        ids = [r.id for r in rows]
    if not ids:
        _out("Nothing to replay.")
        return 1
    outcomes = service.process_pending(limit=len(ids) + 1000)
    for o in outcomes:
        _out(f"message {o.raw_id}: {o.outcome}: {o.reason}")
    from tracker import outbox
    from tracker.senders.base import make_sender

    sender = make_sender(config.outgoing)
    try:
        rep = outbox.deliver_pending(store, sender, clock)
    finally:
        sender.close()
    _out(f"replayed {len(outcomes)}; {rep.sent} mail(s) sent")
    return 0


# -- outbox / db ----------------------------------------------------------------


def cmd_outbox_list(args: argparse.Namespace) -> int:
    config = _load(args)
    store = _open_store(config)
    with store.transaction() as s:
        q = select(OutboxItem).order_by(OutboxItem.id)
        if args.state:
            q = q.where(OutboxItem.state == args.state)
        rows = s.scalars(q).all()
        if not rows:
            _out("Outbox is empty.")
            return 0
        for r in rows:
            error = f"  {r.last_error}" if r.last_error else ""
            _out(
                f"{r.id:>6}  {r.state:<9} {r.kind:<6} attempts={r.attempts} "
                f"to={','.join(r.recipients)} <{r.message_id}>{error}"
            )
    return 0


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    """Queue failed or uncertain mail again, after an operator has checked it."""
    config = _load(args)
    store = _open_store(config)
    now = _clock(args).now()
    with store.transaction() as s:
        rows = s.scalars(select(OutboxItem).where(OutboxItem.id.in_(args.ids))).all()
        found = {r.id for r in rows}
        for missing in sorted(set(args.ids) - found):
            _out(f"{missing}: no such outgoing mail")
        for r in rows:
            if r.state not in ("failed", "uncertain"):
                _out(f"{r.id}: {r.state}; only failed or uncertain mail can be retried")
                continue
            previous = r.state
            r.state, r.next_attempt_at, r.sending_since = "pending", now, None
            s.add(
                Event(
                    case_id=r.case_id,
                    at=now,
                    kind="delivery-requeued",
                    detail=f"{r.kind} <{r.message_id}> was {previous}; queued again by an operator",
                )
            )
            _out(f"{r.id}: queued again (was {previous})")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    config = _load(args)
    store = Store(config.database.url)
    changed = store.upgrade()
    _out(
        f"{store.safe_url}: {'migrated to' if changed else 'already at'} "
        f"revision {store.current_revision()}"
    )
    return 0


# -- parser ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tracker",
        description="Track safeguarding escalations that arrive by email.",
        epilog="Without --config (or $TRACKER_CONFIG) the embedded demo defaults are used: "
        "SQLite, Maildir and outgoing files under ./var/.",
    )
    p.add_argument("--config", "-c", metavar="FILE", help="TOML configuration file")
    p.add_argument("--verbose", "-v", action="count", default=0, help="more log output")
    from tracker import report_cli

    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    exp = sub.add_parser("export", help="export every case with its messages and timeline")
    exp.add_argument("--format", choices=["json", "csv"], default="json")
    exp.add_argument(
        "--include-personal",
        action="store_true",
        help="also export the child's identifiers, narrative fields, attachment names and "
        "message subjects",
    )
    exp.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    report_cli.add_export_options(exp)
    exp.set_defaults(func=cmd_export)

    cases = sub.add_parser("cases", help="list cases or show one").add_subparsers(
        dest="cases_command", required=True, metavar="ACTION"
    )
    cl = cases.add_parser("list", help="one line per case")
    cl.add_argument("--status", choices=["open", "resolved", "closed"])
    cl.add_argument("--partnership")
    cl.set_defaults(func=cmd_cases_list)
    cs = cases.add_parser("show", help="a case's messages and timeline")
    cs.add_argument("reference")
    cs.add_argument(
        "--include-personal",
        action="store_true",
        help="also show the child's identifiers and the narrative fields",
    )
    cs.set_defaults(func=cmd_cases_show)

    q = sub.add_parser("quarantine", help="messages held for review").add_subparsers(
        dest="quarantine_command", required=True, metavar="ACTION"
    )
    q.add_parser("list", help="what is held and why").set_defaults(func=cmd_quarantine_list)
    qr = q.add_parser("replay", help="process held messages again (after a fix)")
    qr.add_argument("ids", nargs="*", type=int, metavar="ID")
    qr.add_argument("--all", action="store_true", help="replay every held message")
    qr.set_defaults(func=cmd_quarantine_replay)

    ob = sub.add_parser("outbox", help="outgoing mail and its delivery state").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION"
    )
    ol = ob.add_parser("list", help="one line per outgoing mail")
    ol.add_argument("--state", choices=["pending", "sending", "sent", "failed", "uncertain"])
    ol.set_defaults(func=cmd_outbox_list)
    orr = ob.add_parser("retry", help="queue failed or uncertain mail again (after checking)")
    orr.add_argument("ids", nargs="+", type=int, metavar="ID")
    orr.set_defaults(func=cmd_outbox_retry)

    report_cli.add_commands(sub)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="apply database migrations").set_defaults(func=cmd_db_upgrade)

    rules_cli.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = (
        logging.WARNING
        if args.command == "demo" and not args.verbose
        else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    )
    # imapclient's wire trace shows LOGIN passwords and whole messages: never at DEBUG.
    logging.getLogger("imapclient").setLevel(max(level, logging.INFO))
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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


if __name__ == "__main__":
    sys.exit(main())
