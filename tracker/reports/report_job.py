"""``tracker report quarterly``: load, aggregate, publish, draw and write the report.

Writes ``<partnership>-<quarter>.html`` (self-contained: charts inlined),
``.csv`` (the published aggregates, long format) and, when a headless
Chromium is available, ``.pdf``. Each step reports its progress and timing
through ``progress`` (the CLI prints it on stderr), so a slow step on a big
database is visible rather than a silent wait.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tracker.config import Config
from tracker.reports import charts, chromium
from tracker.reports.digest_job import stage_names
from tracker.reports.load import load_dataset
from tracker.reports.periods import Quarter
from tracker.reports.publish import CSV_FIELDS, PublishedReport, publish
from tracker.reports.quarterly import build_quarterly
from tracker.reports.render import Templates, render_report
from tracker.reports.stats import WorkingDays
from tracker.rules.partnerships import Partnerships
from tracker.store import Store

Progress = Callable[[str], None]


@dataclass
class QuarterlyResult:
    report: PublishedReport
    paths: list[Path] = field(default_factory=list)
    pdf_skipped: str = ""


def report_charts(report: PublishedReport) -> list[tuple[str, bytes]]:
    """(table title, PNG) for the breakdowns worth a picture; published values only."""
    out: list[tuple[str, bytes]] = []
    for table in report.breakdowns:
        if table.key not in ("category", "raising_agency", "agency_challenged", "highest_stage"):
            continue
        stages = table.key == "highest_stage"  # long stage names: "Stage N" on the chart
        labels = [f"Stage {r.item}" if stages else r.label for r in table.rows]
        series = [
            (heading, [r.values[i] for r in table.rows]) for i, heading in enumerate(table.headings)
        ]
        out.append((table.title, charts.paired_bars(table.title, labels, series)))
    t = report.timeliness
    rows = [r for r in t.rows if r.item != "all"]
    if rows:
        out.append(
            (
                t.title,
                charts.paired_bars(
                    t.title,
                    [f"Stage {r.item.removeprefix('stage_')}" for r in rows],
                    [
                        (t.headings[2], [r.values[2] for r in rows]),
                        (t.headings[3], [r.values[3] for r in rows]),
                    ],
                    percent=True,
                ),
            )
        )
    return out


def write_quarterly(
    store: Store,
    partnerships: Partnerships,
    config: Config,
    partnership: str,
    quarter: Quarter,
    out_dir: Path,
    now: datetime,
    *,
    pdf: bool = True,
    progress: Progress = lambda line: None,
) -> QuarterlyResult:
    p = partnerships[partnership]
    zone = p.engine.zone
    since = quarter.previous().window(zone).start
    until = quarter.window(zone).end
    t0 = time.perf_counter()
    progress(f"loading {partnership} cases for {quarter.previous().code} and {quarter.code}")
    with store.transaction() as s:
        data = load_dataset(s, partnership=partnership, since=since, until=until)
    t1 = time.perf_counter()
    progress(
        f"loaded {len(data.cases)} cases, {len(data.deadlines)} deadlines, "
        f"{len(data.notices)} IRO notifications in {t1 - t0:.2f} s"
    )
    names = stage_names(p)
    figures = build_quarterly(
        partnership,
        data,
        quarter,
        zone,
        now,
        WorkingDays(p.engine.calendar),
        stage_count=max(len(t.stages) for t in p.engine.rule_file.tracks.values()),
    )
    report = publish(figures, display_name=p.display_name, stage_names=names)
    t2 = time.perf_counter()
    progress(
        f"aggregated {figures.current.opened} cases opened in {quarter.code} "
        f"({figures.previous.opened} in {quarter.previous().code}) in {t2 - t1:.2f} s"
    )
    drawn = report_charts(report)
    t3 = time.perf_counter()
    progress(f"drew {len(drawn)} charts in {t3 - t2:.2f} s")

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{partnership}-{quarter.code}"
    html = stem.with_suffix(".html")
    html.write_text(
        render_report(Templates(config.paths.templates_dir), partnership, report, drawn),
        encoding="utf-8",
    )
    table = stem.with_suffix(".csv")
    with table.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(report.csv_rows())
    result = QuarterlyResult(report, [html, table])
    t4 = time.perf_counter()
    progress(f"wrote {html.name} and {table.name} in {t4 - t3:.2f} s")
    if not pdf:
        result.pdf_skipped = "PDF not requested (--no-pdf)"
    else:
        binary = chromium.find_chromium(config.reports.chromium)
        if binary is None:
            result.pdf_skipped = f"PDF skipped: {chromium.MISSING}"
        else:
            progress(f"printing the PDF with {binary}")
            target = stem.with_suffix(".pdf")
            try:
                chromium.print_to_pdf(binary, html, target)
            except chromium.ChromiumError as exc:
                result.pdf_skipped = f"PDF skipped: {exc}"
            else:
                result.paths.append(target)
                progress(f"wrote {target.name} in {time.perf_counter() - t4:.2f} s")
    if result.pdf_skipped:
        progress(result.pdf_skipped)
    progress(f"done in {time.perf_counter() - t0:.2f} s")
    return result
