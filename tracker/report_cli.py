"""The reporting commands: ``tracker digest``, ``tracker report quarterly``, and
``tracker export --anonymised``.

Registered on ``tracker``'s parser by :func:`add_commands`; the work is done
in :mod:`tracker.reports`. Progress goes to stderr, results to stdout, and a
digest that cannot be sent says why and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracker.errors import ConfigError
from tracker.reports.anonymise import MIN_KEY_BYTES
from tracker.reports.periods import DIGEST_KINDS, Quarter
from tracker.rules.partnerships import Partnerships


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _known(partnerships: Partnerships, partnership: str) -> str | None:
    if partnership in partnerships.by_name:
        return None
    known = ", ".join(sorted(partnerships.by_name)) or "none"
    return f"no partnership {partnership!r} is configured (known: {known})"


def cmd_digest(args: argparse.Namespace) -> int:
    from tracker.cli import _clock, _load, _open_store
    from tracker.reports import digest_job

    config = _load(args)
    store = _open_store(config)
    partnerships = Partnerships.from_config(config)
    problem = _known(partnerships, args.partnership)
    if problem:
        _err(f"tracker digest: {problem}")
        return 2
    now = _clock(args).now()
    if args.preview:
        out = Path(args.out) if args.out else config.paths.var_dir / "digests"
        paths = digest_job.preview(
            store, partnerships, config, args.partnership, args.period, now, out
        )
        for path in paths:
            print(f"wrote {path}", flush=True)
        to, why = digest_job.recipient(partnerships[args.partnership], config)
        print(f"would be sent to {to}" if to else f"would not be sent: {why}", flush=True)
        return 0
    result = digest_job.queue(store, partnerships, config, args.partnership, args.period, now)
    print(result.message, flush=True)
    return 0 if result.status in ("queued", "already-queued", "nothing-new") else 1


def cmd_report_quarterly(args: argparse.Namespace) -> int:
    from tracker.cli import _clock, _load, _open_store
    from tracker.reports import report_job

    quarter = Quarter.parse(args.quarter)
    config = _load(args)
    store = _open_store(config)
    partnerships = Partnerships.from_config(config)
    problem = _known(partnerships, args.partnership)
    if problem:
        _err(f"tracker report quarterly: {problem}")
        return 2
    result = report_job.write_quarterly(
        store,
        partnerships,
        config,
        args.partnership,
        quarter,
        Path(args.out),
        _clock(args).now(),
        pdf=not args.no_pdf,
        progress=lambda line: _err(f"report: {line}"),
    )
    for path in result.paths:
        print(f"wrote {path}", flush=True)
    if result.pdf_skipped:
        print(result.pdf_skipped, flush=True)
    return 0


def cmd_export_anonymised(args: argparse.Namespace) -> int:
    """``tracker export --anonymised``: called by ``tracker export`` when the flag is given."""
    from tracker.cli import _clock, _load, _open_store
    from tracker.reports.export import export_rows, write_rows

    if args.include_personal:
        _err("tracker export: --anonymised and --include-personal exclude each other")
        return 2
    config = _load(args)
    key = config.reports.pseudonym_key(config.paths.var_dir / "pseudonym-key.secret")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes: a short key can be "
            "found by trying them all"
        )
    store = _open_store(config)
    partnerships = Partnerships.from_config(config)
    partnership = getattr(args, "partnership", None)
    if partnership:
        problem = _known(partnerships, partnership)
        if problem:
            _err(f"tracker export: {problem}")
            return 2
    names, rows = export_rows(store, partnerships, key, _clock(args).now(), partnership)
    if not args.out:
        write_rows(names, rows, args.format, sys.stdout)
        return 0
    with open(args.out, "w", encoding="utf-8", newline="") as stream:
        write_rows(names, rows, args.format, stream)
    _err(f"exported {len(rows)} anonymised case(s) to {args.out}")
    return 0


def add_export_options(exp: argparse.ArgumentParser) -> None:
    """``--anonymised`` (and ``--partnership``) on the existing ``tracker export``."""
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


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``digest`` and ``report`` on ``tracker``'s sub-command parser."""
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
