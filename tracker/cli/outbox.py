"""``tracker outbox list|retry``: outgoing mail and its delivery state.

Failed and uncertain mail is never retried by itself (an uncertain mail may
already have arrived); ``retry`` is the operator saying it has checked, and
the transition is :func:`tracker.outbox.requeue`. This module only prints.
"""

from __future__ import annotations

import argparse

from tracker import outbox, queries
from tracker.cli.common import Subcommands, clock, load, open_store, out
from tracker.outbox import RequeueOutcome


def cmd_outbox_list(args: argparse.Namespace) -> int:
    config = load(args)
    rows = queries.outbox_items(open_store(config), args.state)
    if not rows:
        out("Outbox is empty.")
        return 0
    for r in rows:
        error = f"  {r.last_error}" if r.last_error else ""
        out(
            f"{r.id:>6}  {r.state:<9} {r.kind:<6} attempts={r.attempts} "
            f"to={','.join(r.recipients)} <{r.message_id}>{error}"
        )
    return 0


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    """Queue failed or uncertain mail again, after an operator has checked it."""
    config = load(args)
    store = open_store(config)
    now = clock(args).now()
    with store.transaction() as s:
        results = outbox.requeue(s, args.ids, now)
    # Unknown ids first, then the mail in id order.
    for r in sorted(results, key=lambda r: (r.outcome != RequeueOutcome.NOT_FOUND, r.id)):
        if r.outcome == RequeueOutcome.NOT_FOUND:
            out(f"{r.id}: no such outgoing mail")
        elif r.outcome == RequeueOutcome.WRONG_STATE:
            out(f"{r.id}: {r.state}; only failed or uncertain mail can be retried")
        else:
            out(f"{r.id}: queued again (was {r.state})")
    return 0


def add_commands(sub: Subcommands) -> None:
    ob = sub.add_parser("outbox", help="outgoing mail and its delivery state").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION"
    )
    ol = ob.add_parser("list", help="one line per outgoing mail")
    ol.add_argument("--state", choices=["pending", "sending", "sent", "failed", "uncertain"])
    ol.set_defaults(func=cmd_outbox_list)
    orr = ob.add_parser("retry", help="queue failed or uncertain mail again (after checking)")
    orr.add_argument("ids", nargs="+", type=int, metavar="ID")
    orr.set_defaults(func=cmd_outbox_retry)
