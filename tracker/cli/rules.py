"""``tracker rules check|explain`` and ``tracker chasers``: the partnerships' procedures.

``check`` validates rule files and their templates before a daemon is
restarted on them; ``explain`` reads one back in plain English with an
example timeline; ``chasers`` queues (or with ``--dry-run`` lists) the
reminders, overdue notices and roll-ups due at a time.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from tracker import chasers
from tracker.cli.common import Subcommands, load, open_store, out, parse_time
from tracker.notify import Renderer, TemplateError
from tracker.rules.explain import explain
from tracker.rules.partnerships import Partnerships, engine_for, rule_path
from tracker.rules.schema import RuleFileError, load_rule_file, rule_files
from tracker.store import observe_clock


def _when(text: str | None, option: str) -> datetime:
    """The time given to ``option`` in UTC, or now."""
    if not text:
        return datetime.now(UTC)
    return parse_time(text, option).astimezone(UTC)


def cmd_rules_check(args: argparse.Namespace) -> int:
    config = load(args)
    paths = [Path(f) for f in args.files] or rule_files(config.paths.rules_dir)
    if not paths:
        out(f"No rule files in {config.paths.rules_dir}.")
        return 1
    renderer = Renderer(config.paths.templates_dir)
    failed = 0
    for path in paths:
        try:
            loaded = load_rule_file(path)
        except RuleFileError as exc:
            failed += 1
            for problem in exc.problems:
                out(f"error: {problem}")
            continue
        rule_file = loaded.rule_file
        problems = renderer.missing(rule_file.id, rule_file.templates())
        for problem in problems:
            out(f"error: {path}: {problem}")
        if problems:
            failed += 1
            continue
        stages = sum(len(t.stages) for t in rule_file.tracks.values())
        out(
            f"ok: {path}: {rule_file.partnership.short}, {len(rule_file.tracks)} track(s), "
            f"{stages} stage(s), {len(rule_file.notifications)} notification(s), "
            f"version {loaded.version}"
        )
    if failed:
        out(f"{failed} of {len(paths)} rule file(s) have errors.")
        return 1
    out(f"All {len(paths)} rule file(s) are valid.")
    return 0


def cmd_rules_explain(args: argparse.Namespace) -> int:
    config = load(args)
    path = rule_path(config, args.partnership)
    if not path.exists():
        known = ", ".join(p.stem for p in rule_files(config.paths.rules_dir)) or "none"
        out(f"No rule file for {args.partnership!r} (known: {known}).")
        return 1
    loaded = load_rule_file(path)
    engine = engine_for(config, args.partnership, loaded)
    if args.track and args.track not in loaded.rule_file.tracks:
        out(f"No track {args.track!r}; tracks: {', '.join(loaded.rule_file.tracks)}")
        return 1
    start = _when(args.start, "--start")
    for line in explain(engine, start, datetime.now(UTC).date(), args.track):
        out(line)
    return 0


def cmd_chasers(args: argparse.Namespace) -> int:
    config = load(args)
    store = open_store(config)
    at = _when(args.at, "--at")
    partnerships = Partnerships.from_config(config)
    renderer = Renderer(config.paths.templates_dir)
    if not args.dry_run:
        at = observe_clock(store, at, explicit=bool(args.at))
    try:
        rep = chasers.run_due(store, partnerships, renderer, config, at, dry_run=args.dry_run)
    except TemplateError as exc:
        out(f"error: {exc}")
        return 1
    verb = "would go out" if args.dry_run else "queued"
    if not rep.due:
        out(f"No chasers due at {at.isoformat()}.")
        return 0
    for c in rep.due:
        what = c.reference or f"{len(c.cases)} overdue case(s)"
        due = f" (stage {c.stage} due {c.due_at.isoformat()})" if c.due_at else ""
        out(f"{c.kind:<8} {c.partnership:<12} {what}{due} -> {', '.join(c.to)}")
    out(f"{len(rep.due)} chaser(s) {verb} at {at.isoformat()}: {rep.summary()}")
    if not args.dry_run:
        out("They are sent by the running daemon, or by: tracker run --once")
    return 0


def add_commands(sub: Subcommands) -> None:
    rules = sub.add_parser("rules", help="check or explain the partnerships' rule files")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    rc = rsub.add_parser("check", help="validate rule files (default: every file in rules_dir)")
    rc.add_argument("files", nargs="*", metavar="FILE")
    rc.set_defaults(func=cmd_rules_check)
    re_ = rsub.add_parser("explain", help="a procedure in plain English with an example timeline")
    re_.add_argument("partnership")
    re_.add_argument("--start", help="example arrival time (ISO 8601 with offset; default now)")
    re_.add_argument("--track", help="the track for the example timeline (default: the default)")
    re_.set_defaults(func=cmd_rules_explain)
    ch = sub.add_parser("chasers", help="queue (or list with --dry-run) the chasers due at a time")
    ch.add_argument("--at", help="ISO 8601 time with offset (default: now)")
    ch.add_argument("--dry-run", action="store_true", help="list what would go out; queue nothing")
    ch.set_defaults(func=cmd_chasers)
