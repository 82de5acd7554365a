"""``tracker digest`` and ``tracker report quarterly``: the business managers' reports.

The work is done in :mod:`tracker.reports` (the digest is queued through the
outbox once per period by :func:`tracker.reports.digest_job.queue`).
Progress goes to stderr, results to stdout, and a digest that cannot be sent
says why and exits 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tracker.cli.common import Subcommands, clock, err, load, open_store, out, unknown_partnership
from tracker.reports.periods import DIGEST_KINDS, Quarter
from tracker.rules.partnerships import Partnerships

#: The digest results that are not a failure: sent now, sent before, or nothing to send.
_DIGEST_OK = ("queued", "already-queued", "nothing-new")


def cmd_digest(args: argparse.Namespace) -> int:
    from tracker.reports import digest_job

    config = load(args)
    store = open_store(config)
    partnerships = Partnerships.from_config(config)
    problem = unknown_partnership(partnerships, args.partnership)
    if problem:
        err(f"tracker digest: {problem}")
        return 2
    now = clock(args).now()
    if args.preview:
        directory = Path(args.out) if args.out else config.paths.var_dir / "digests"
        paths = digest_job.preview(
            store, partnerships, config, args.partnership, args.period, now, directory
        )
        for path in paths:
            out(f"wrote {path}")
        to, why = digest_job.recipient(partnerships[args.partnership], config)
        out(f"would be sent to {to}" if to else f"would not be sent: {why}")
        return 0
    result = digest_job.queue(store, partnerships, config, args.partnership, args.period, now)
    out(result.message)
    return 0 if result.status in _DIGEST_OK else 1


def cmd_report_quarterly(args: argparse.Namespace) -> int:
    from tracker.reports import report_job

    quarter = Quarter.parse(args.quarter)
    config = load(args)
    store = open_store(config)
    partnerships = Partnerships.from_config(config)
    problem = unknown_partnership(partnerships, args.partnership)
    if problem:
        err(f"tracker report quarterly: {problem}")
        return 2
    result = report_job.write_quarterly(
        store,
        partnerships,
        config,
        args.partnership,
        quarter,
        Path(args.out),
        clock(args).now(),
        pdf=not args.no_pdf,
        progress=lambda line: err(f"report: {line}"),
    )
    for path in result.paths:
        out(f"wrote {path}")
    if result.pdf_skipped:
        out(result.pdf_skipped)
    return 0


def add_commands(sub: Subcommands) -> None:
    dg = sub.add_parser(
        "digest", help="a business manager's daily or weekly digest: preview it or queue it"
    )
    dg.add_argument("--partnership", required=True, metavar="NAME")
    dg.add_argument("--period", choices=DIGEST_KINDS, default="daily")
    mode = dg.add_mutually_exclusive_group(required=True)
    mode.add_argument("--preview", action="store_true", help="write .html, .txt and .eml files")
    mode.add_argument(
        "--send", action="store_true", help="queue it through the outbox (once per period)"
    )
    dg.add_argument("--out", metavar="DIR", help="--preview: where to write (default var/digests)")
    dg.add_argument("--now", metavar="ISO-TIME", help="act as if it were this time")
    dg.set_defaults(func=cmd_digest)

    rp = sub.add_parser("report", help="reports for the partnership").add_subparsers(
        dest="report_command", required=True, metavar="ACTION"
    )
    rq = rp.add_parser("quarterly", help="quarterly trend report: HTML, CSV and PDF")
    rq.add_argument("--partnership", required=True, metavar="NAME")
    rq.add_argument("--quarter", required=True, metavar="YYYYQN", help="e.g. 2026Q4")
    rq.add_argument("--out", required=True, metavar="DIR")
    rq.add_argument("--no-pdf", action="store_true", help="do not print a PDF")
    rq.add_argument("--now", metavar="ISO-TIME", help="act as if it were this time")
    rq.set_defaults(func=cmd_report_quarterly)
