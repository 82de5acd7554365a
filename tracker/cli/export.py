"""``tracker export``: every case for the operator, or (``--anonymised``) for learning reviews.

The data comes from :mod:`tracker.case_export` and
:mod:`tracker.reports.export`; this module checks the options,
picks the stream and says on stderr how many cases went to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from tracker.cli.common import Subcommands, clock, err, load, open_store, unknown_partnership
from tracker.errors import ConfigError
from tracker.private_files import open_private_text
from tracker.reports.anonymise import MIN_KEY_BYTES
from tracker.rules.partnerships import Partnerships


def _write(path: str | None, write: Callable[[TextIO], None]) -> None:
    if not path:
        write(sys.stdout)
        return
    # An export can hold every case (and with --include-personal, the children): 0600.
    with open_private_text(Path(path)) as stream:
        write(stream)


def cmd_export(args: argparse.Namespace) -> int:
    if args.anonymised:
        return cmd_export_anonymised(args)
    from tracker.case_export import export_cases, write_export

    config = load(args)
    cases = export_cases(open_store(config), args.include_personal)
    _write(args.out, lambda stream: write_export(cases, args.format, stream))
    if args.out:
        err(f"exported {len(cases)} case(s) to {args.out}")
    return 0


def cmd_export_anonymised(args: argparse.Namespace) -> int:
    """``tracker export --anonymised``: pseudonymous ids, agency types, dates to the week."""
    from tracker.reports.export import export_rows, write_rows

    if args.include_personal:
        err("tracker export: --anonymised and --include-personal exclude each other")
        return 2
    config = load(args)
    key = config.reports.pseudonym_key(config.paths.var_dir / "pseudonym-key.secret")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes: a short key can be "
            "found by trying them all"
        )
    store = open_store(config)
    partnerships = Partnerships.from_config(config)
    if args.partnership:
        problem = unknown_partnership(partnerships, args.partnership)
        if problem:
            err(f"tracker export: {problem}")
            return 2
    names, rows = export_rows(store, partnerships, key, clock(args).now(), args.partnership)
    _write(args.out, lambda stream: write_rows(names, rows, args.format, stream))
    if args.out:
        err(f"exported {len(rows)} anonymised case(s) to {args.out}")
    return 0


def add_commands(sub: Subcommands) -> None:
    exp = sub.add_parser("export", help="export every case with its messages and timeline")
    exp.add_argument("--format", choices=["json", "csv"], default="json")
    exp.add_argument(
        "--include-personal",
        action="store_true",
        help="also export the child's identifiers, narrative fields, attachment names and "
        "message subjects",
    )
    exp.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    exp.add_argument(
        "--anonymised",
        action="store_true",
        help="one row per case for learning reviews: pseudonymous ids (keyed hash), agency "
        "types, stages with dates rounded to the week; no names, text or addresses",
    )
    exp.add_argument("--partnership", help="with --anonymised: only this partnership")
    exp.add_argument(
        "--now", metavar="ISO-TIME", help="with --anonymised: judge overdue stages at this time"
    )
    exp.set_defaults(func=cmd_export)
