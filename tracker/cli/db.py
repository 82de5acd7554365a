"""``tracker db upgrade``: apply the database migrations by hand (the daemon does it on start)."""

from __future__ import annotations

import argparse

from tracker.cli.common import Subcommands, load, out
from tracker.store import Store


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    config = load(args)
    store = Store(config.database.url)
    changed = store.upgrade()
    out(
        f"{store.safe_url}: {'migrated to' if changed else 'already at'} "
        f"revision {store.current_revision()}"
    )
    return 0


def add_commands(sub: Subcommands) -> None:
    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="apply database migrations").set_defaults(func=cmd_db_upgrade)
