"""``tracker cases list|show``: what an operator sees of the cases.

``show`` prints the child's identifiers and the narrative fields only with
``--include-personal``; by default a case is described by its metadata
(stage, deadlines, who raised it, the messages' addresses and the timeline).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tracker import queries
from tracker.case_export import METADATA_FIELDS
from tracker.cli.common import Subcommands, load, open_store, out
from tracker.config import Config
from tracker.model import Case, Child, Deadline
from tracker.rules.partnerships import rule_path
from tracker.rules.schema import RuleFileError, load_rule_file


def cmd_cases_list(args: argparse.Namespace) -> int:
    config = load(args)
    cases = queries.cases(open_store(config), args.status, args.partnership)
    if not cases:
        out("No cases.")
        return 0
    out(
        f"{'REFERENCE':<16} {'PARTNERSHIP':<12} {'STATUS':<8} {'STAGE':>5}  "
        f"{'OPENED (UTC)':<17} RAISED BY"
    )
    for c in cases:
        out(
            f"{c.reference:<16} {c.partnership:<12} {c.status:<8} {c.stage:>5}  "
            f"{c.opened_at:%Y-%m-%d %H:%M} {c.raised_by}"
        )
    out(f"{len(cases)} case(s)")
    return 0


def _ladder_position(config: Config, case: Case) -> str:
    """``2 of 4 (Management finding solutions), track default``, from the rule file if loadable."""
    try:
        rule_file = load_rule_file(rule_path(config, case.partnership)).rule_file
    except RuleFileError:
        return str(case.stage)
    track = rule_file.track(case.track)
    stage = track.stage(case.stage)
    name = f" ({stage.name})" if stage else ""
    return (
        f"{case.stage} of {len(track.stages)}{name}, track {case.track or rule_file.default_track}"
    )


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


def _child(child: Child | None, include_personal: bool) -> str:
    if child is None:
        return "not recorded"
    if include_personal:
        return (
            f"{child.name or 'name not given'}, born {child.dob or 'unknown'}"
            + (f", ref {child.local_ref}" if child.local_ref else "")
            + (f" (key {child.child_key[:12]})" if child.child_key else "")
        )
    key = f", key {child.child_key[:12]}" if child.child_key else ""
    return f"recorded{key} (--include-personal shows the identifiers)"


def _deadline(d: Deadline) -> str:
    due = f"{d.due_at:%Y-%m-%d %H:%M} UTC" if d.due_at else "no fixed time"
    met = f", met {d.met_at:%Y-%m-%d %H:%M}" if d.met_at else ""
    late = " (late)" if d.met_at and d.due_at and d.met_at > d.due_at else ""
    hours = "  out of hours" if d.out_of_hours else ""
    return f"stage {d.stage}: {due} [{d.basis}; {d.state}{met}{late}]{hours}"


def cmd_cases_show(args: argparse.Namespace) -> int:
    config = load(args)
    detail = queries.case_detail(open_store(config), args.reference.upper())
    if detail is None:
        out(f"No case {args.reference}.")
        return 1
    case = detail.case
    out(f"{case.reference}  ({case.partnership})")
    out(f"  status:    {case.status}")
    out(f"  stage:     {_ladder_position(config, case)}")
    out(f"  next due:  {_next_due(detail.deadlines, case.status)}")
    out(f"  flags:     {', '.join(case.flags) or 'none'}")
    out(f"  category:  {case.category or 'not recorded'}")
    out(f"  opened:    {case.opened_at:%Y-%m-%d %H:%M} UTC via mailbox {case.mailbox}")
    out(f"  raised by: {case.raised_by}")
    people = [f"{p.address} ({p.role})" for p in detail.participants]
    out(f"  participants: {', '.join(people) or 'none recorded'}")
    out(f"  child:     {_child(detail.child, args.include_personal)}")
    shown = [f for f in detail.fields if args.include_personal or f.name in METADATA_FIELDS]
    if shown:
        out("  fields:")
        for f in shown:
            out(f"    {f.name:<16} {' '.join(f.value.split())[:100]}  [{f.source}]")
    if detail.deadlines:
        out("  deadlines:")
        for d in detail.deadlines:
            out(f"    {_deadline(d)}")
    out("  messages:")
    for m in detail.messages:
        arrow = "<-" if m.direction == "in" else "->"
        via = f" ({m.threaded_via})" if m.threaded_via else ""
        out(f"    {m.at:%Y-%m-%d %H:%M} {arrow} <{m.message_id}> {m.from_addr} [{m.verdict}]{via}")
    out("  timeline:")
    for e in detail.events:
        out(f"    {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<16} {e.detail}")
    return 0


def add_commands(sub: Subcommands) -> None:
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
