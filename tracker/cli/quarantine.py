"""``tracker quarantine list [--ignored]|replay``: the messages held for a person to review.

``--ignored`` lists what was ignored instead (robots, duplicates, our own mail):
it opened no case, so the reason each row keeps is the only trace to check.

Replaying is :meth:`tracker.service.Service.replay` (the rows are made
pending again and processed); this module only prints the outcomes and
delivers what the replay queued.
"""

from __future__ import annotations

import argparse

from tracker import delivery, queries
from tracker.cli.common import Subcommands, build, load, open_store, out
from tracker.senders.base import make_sender
from tracker.store import Store


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    config = load(args)
    if args.ignored:
        return _list_ignored(open_store(config), args.limit)
    rows = queries.quarantined(open_store(config))
    if not rows:
        out("Quarantine is empty.")
        return 0
    out(f"{'ID':>6}  {'MAILBOX':<10} {'RECEIVED (UTC)':<17} {'SIZE':>8}  REASON")
    for r in rows:
        out(f"{r.id:>6}  {r.mailbox:<10} {r.received_at:%Y-%m-%d %H:%M} {r.size:>8}  {r.reason}")
    out(f"{len(rows)} message(s) held. 'tracker quarantine replay ID' processes one again.")
    return 0


def _list_ignored(store: Store, limit: int) -> int:
    """The messages no case was opened for, with the reason (robot, duplicate, own mail)."""
    rows = queries.ignored(store, limit)
    if not rows:
        out("No message was ignored.")
        return 0
    out(f"{'ID':>6}  {'MAILBOX':<10} {'RECEIVED (UTC)':<17} {'SIZE':>8}  REASON")
    for r in rows:
        out(f"{r.id:>6}  {r.mailbox:<10} {r.received_at:%Y-%m-%d %H:%M} {r.size:>8}  {r.reason}")
    out(f"{len(rows)} message(s) ignored (the last {limit} at most).")
    return 0


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    config = load(args)
    store, service, clock = build(args, config)
    if not args.all and not args.ids:
        out("Give message ids (see 'tracker quarantine list') or --all.")
        return 2
    results = service.replay(None if args.all else args.ids)
    if not results:
        out("Nothing to replay.")
        return 1
    for r in results:
        out(f"message {r.raw_id}: {r.outcome}: {r.reason}")
    sender = make_sender(config.outgoing)
    try:
        rep = delivery.deliver_pending(store, sender, clock)
    finally:
        sender.close()
    out(f"replayed {len(results)}; {rep.sent} mail(s) sent")
    return 0


def add_commands(sub: Subcommands) -> None:
    q = sub.add_parser("quarantine", help="messages held for review").add_subparsers(
        dest="quarantine_command", required=True, metavar="ACTION"
    )
    ql = q.add_parser("list", help="what is held and why")
    ql.add_argument(
        "--ignored",
        action="store_true",
        help="list the messages ignored instead (robots, duplicates, our own mail) and why",
    )
    ql.add_argument("--limit", type=int, default=200, help="with --ignored: at most N (200)")
    ql.set_defaults(func=cmd_quarantine_list)
    qr = q.add_parser("replay", help="process held messages again (after a fix)")
    qr.add_argument("ids", nargs="*", type=int, metavar="ID")
    qr.add_argument("--all", action="store_true", help="replay every held message")
    qr.set_defaults(func=cmd_quarantine_replay)
