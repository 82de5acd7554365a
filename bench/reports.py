"""``python -m bench.reports``: the quarterly report (and a digest) on 10,000 cases.

Not a test: nothing here asserts on timing. It builds a SQLite database of N
seeded cases over two quarters (``tests.reports.seed``, through the ORM:
setup, not measured), then runs ``tracker report quarterly`` as an operator
would, as a subprocess, and times it: once without the PDF (the tracker's
own work) and once with it (plus headless Chromium, when installed). Its
progress lines (stderr) are shown as they come, with the elapsed time. The
digest preview is timed on the same database.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import tomli_w

from tests.reports import seed
from tracker.config import REPO_ROOT
from tracker.reports import chromium
from tracker.rules.calendar import WorkingCalendar
from tracker.rules.schema import load_rule_file
from tracker.store import Store

TRACKER = Path(sys.executable).with_name("tracker")


def build(work: Path, n: int) -> Path:
    """A database of ``n`` Solihull cases opened July to December 2026, and its config."""
    calendar = WorkingCalendar(
        load_rule_file(REPO_ROOT / "rules" / "solihull.yaml").rule_file.calendar.settings()
    )
    t0 = time.perf_counter()
    cases = seed.generate(
        calendar,
        n=n,
        seed=10_000,
        partnerships=(("solihull", 1),),
        first_day=date(2026, 7, 1),
        last_day=date(2026, 12, 15),
    )
    url = f"sqlite:///{work / 'tracker.db'}"
    store = Store(url)
    store.upgrade()
    with store.transaction() as s:
        seed.write(s, cases)
    store.dispose()
    print(f"setup: {n} cases written in {time.perf_counter() - t0:.1f} s (not measured)")
    config = {
        "database": {"url": url},
        "partnerships": {"solihull": {"prefix": "SSCP"}},
        "outgoing": {"transport": "file", "directory": str(work / "outbox"),
                     "from_address": "sscp@solihull.gov.uk"},
        "security": {"secure_domains": ["solihull.gov.uk"]},
        "paths": {"var_dir": str(work / "var")},
    }  # fmt: skip
    path = work / "config.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def timed(argv: Sequence[str]) -> tuple[float, int]:
    """Run ``tracker`` and echo its stderr lines with the elapsed time; (seconds, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(TRACKER), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        print(f"  {time.perf_counter() - t0:6.2f} s  {line.rstrip()}")
    out = proc.stdout.read()
    code = proc.wait()
    for line in out.splitlines():
        print(f"           {line}")
    return time.perf_counter() - t0, code


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=10_000, help="cases (default 10,000)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out" / "reports")
    args = p.parse_args(argv)
    results: dict[str, object] = {"cases": args.n}
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        config = build(Path(tmp), args.n)
        common = ["--config", str(config)]
        now = ["--now", seed.NOW.isoformat()]
        report = [*common, "report", "quarterly", "--partnership", "solihull",
                  "--quarter", "2026Q4", "--out", str(args.out), *now]  # fmt: skip
        print(f"\ntracker report quarterly, {args.n} cases, without the PDF:")
        results["quarterly_no_pdf_s"], code = timed([*report, "--no-pdf"])
        if code:
            return code
        if chromium.find_chromium():
            print(f"\ntracker report quarterly, {args.n} cases, with the PDF:")
            results["quarterly_with_pdf_s"], code = timed(report)
            if code:
                return code
        else:
            print(f"\n(PDF not timed: {chromium.MISSING})")
        print(f"\ntracker digest --preview --period weekly, {args.n} cases:")
        results["digest_weekly_preview_s"], code = timed(
            [
                *common,
                "digest",
                "--partnership",
                "solihull",
                "--preview",
                "--period",
                "weekly",
                "--out",
                str(args.out),
                *now,
            ]
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "timings.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n" + "  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in results.items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
