"""Digest and report documents from Jinja2 templates (``templates/_default/digest|report``).

HTML templates are autoescaped (a reference or label can never become
markup); text templates are not. A partnership may override any template in
``templates/<partnership>/...``, as with the notification templates. The
contexts built here hold formatted strings only, made from a
:class:`~tracker.reports.digest.Digest` or a
:class:`~tracker.reports.publish.PublishedReport`: there is nothing else a
template could show.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from tracker.notify import TemplateError
from tracker.reports.agencies import agency_label
from tracker.reports.digest import Digest, DigestCase
from tracker.reports.publish import PublishedReport

KIND_LABELS = {"daily": "Daily", "weekly": "Weekly"}
#: Rows shown per digest section: a mail with hundreds of rows helps nobody (and some
#: servers refuse its size); the heading still gives the full count.
MAX_ROWS = 100


class Templates:
    """Finds templates for a partnership (its own copy first), one environment each."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self._envs: dict[str, Environment] = {}

    def env(self, partnership: str) -> Environment:
        env = self._envs.get(partnership)
        if env is None:
            env = Environment(
                loader=FileSystemLoader(
                    [str(self.templates_dir / partnership), str(self.templates_dir / "_default")]
                ),
                undefined=StrictUndefined,
                autoescape=select_autoescape(enabled_extensions=("html.j2",)),
                keep_trailing_newline=True,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            self._envs[partnership] = env
        return env

    def render(self, partnership: str, name: str, context: Mapping[str, object]) -> str:
        try:
            return self.env(partnership).get_template(name).render(context)
        except TemplateNotFound as exc:
            raise TemplateError(f"template {exc.name} not found in {self.templates_dir}") from exc
        except Exception as exc:  # Jinja raises many types; all mean "fix the template".
            raise TemplateError(f"template {name} for {partnership}: {exc}") from exc


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def local_short(t: datetime | None, zone: ZoneInfo) -> str:
    """``Mon 23 Nov 17:00``; empty for no time."""
    if t is None:
        return ""
    lt = t.astimezone(zone)
    return f"{lt:%a} {lt.day} {lt:%b %H:%M}"


def duration(d: timedelta) -> str:
    """``5 h``, ``2 d 3 h``: how long something has been overdue."""
    hours = int(d.total_seconds() // 3600)
    if hours < 1:
        return f"{max(int(d.total_seconds() // 60), 0)} min"
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def agencies(c: DigestCase) -> str:
    """Raising agency type, then the agency challenged (``Police → Local authority``)."""
    return f"{agency_label(c.agency)} → {agency_label(c.challenged)}"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str
    #: How many there are; ``rows`` holds at most :data:`MAX_ROWS` of them.
    count: int = 0

    @property
    def more(self) -> int:
        return self.count - len(self.rows)

    @property
    def text_lines(self) -> list[str]:
        """The table for the plain-text part: a header line, then one line per row."""
        widths = [
            max([len(c), *(len(r[i]) for r in self.rows)]) for i, c in enumerate(self.columns)
        ]
        return [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in (self.columns, *self.rows)
        ]


def digest_sections(digest: Digest, zone: ZoneInfo) -> list[Section]:
    """The digest's tables, action first: overdue, due today, due this week, then the period."""
    who = "Raised by → challenged"

    def due(c: DigestCase) -> str:
        return local_short(c.due_at, zone) or "no timescale"

    def plain(cases: Sequence[DigestCase]) -> tuple[tuple[str, ...], ...]:
        return tuple((c.reference, str(c.stage), agencies(c), due(c)) for c in cases)

    sections = [
        Section(
            "overdue",
            "Overdue",
            ("Reference", "Stage", who, "Was due", "Overdue by"),
            tuple(
                (c.reference, str(c.stage), agencies(c), due(c), duration(c.overdue_by))
                for c in digest.overdue
                if c.overdue_by is not None
            ),
            "Nothing is overdue.",
        ),
        Section(
            "due_today",
            "Due today",
            ("Reference", "Stage", who, "Due"),
            plain(digest.due_today),
            "Nothing else is due today.",
        ),
        Section(
            "due_this_week",
            "Due in the next 7 days",
            ("Reference", "Stage", who, "Due"),
            plain(digest.due_this_week),
            "Nothing is due in the next 7 days.",
        ),
        Section(
            "new_cases",
            "New cases",
            ("Reference", "Stage", who, "Opened", "Due"),
            tuple(
                (
                    c.reference,
                    str(c.stage),
                    agencies(c),
                    local_short(c.at, zone),
                    due(c) if c.due_at else "",
                )
                for c in digest.new_cases
            ),
            "No new cases.",
        ),
        Section(
            "stage_changes",
            "Stage changes",
            ("Reference", "Stage", who, "Moved", "Due"),
            tuple(
                (
                    c.reference,
                    f"{c.from_stage} → {c.stage}",
                    agencies(c),
                    local_short(c.at, zone),
                    local_short(c.due_at, zone),
                )
                for c in digest.stage_changes
            ),
            "No stage changes.",
        ),
        Section(
            "resolved",
            "Resolved",
            ("Reference", "Final stage", who, "Resolved", "Working days"),
            tuple(
                (
                    c.reference,
                    str(c.stage),
                    agencies(c),
                    local_short(c.at, zone),
                    str(c.working_days if c.working_days is not None else ""),
                )
                for c in digest.resolved
            ),
            "No cases resolved.",
        ),
    ]
    return [replace(x, rows=x.rows[:MAX_ROWS], count=len(x.rows)) for x in sections]


def digest_context(
    digest: Digest,
    *,
    display_name: str,
    zone: ZoneInfo,
    stage_names: Mapping[int, str],
    chart_src: str,
) -> dict[str, Any]:
    """Everything the digest templates may show (formatted strings and counts only)."""
    sections = digest_sections(digest, zone)
    counts = {s.key: s.count for s in sections}
    period = digest.period
    stages = sorted({s for s, _ in digest.open_by_stage} | set(stage_names))
    open_counts = dict(digest.open_by_stage)
    return {
        "partnership_name": display_name,
        "kind": period.kind,
        "kind_label": KIND_LABELS.get(period.kind, period.kind.capitalize()),
        "period_label": f"{local_short(period.start, zone)} to {local_short(period.end, zone)}",
        "period_day": period.end.astimezone(zone).strftime("%a %d %b %Y").replace(" 0", " "),
        "as_at": local_short(digest.now, zone),
        "empty": digest.is_empty,
        "summary": [
            {"label": "Overdue", "count": counts["overdue"]},
            {"label": "Due today", "count": counts["due_today"]},
            {"label": "Due in 7 days", "count": counts["due_this_week"]},
            {"label": "New", "count": counts["new_cases"]},
            {"label": "Stage changes", "count": counts["stage_changes"]},
            {"label": "Resolved", "count": counts["resolved"]},
        ],
        "sections": sections,
        "open_total": digest.open_total,
        "open_by_stage": [
            {"stage": s, "name": stage_names.get(s, ""), "count": open_counts.get(s, 0)}
            for s in stages
        ],
        "chart_src": chart_src,
        "chart_alt": (
            f"Chart: open cases by stage at the end of each of the last {len(digest.trend)} "
            f"days; {digest.open_total} open now."
        ),
    }


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def render_digest(
    templates: Templates, partnership: str, context: Mapping[str, object]
) -> RenderedDigest:
    subject = templates.render(partnership, "digest/digest.subject.j2", context)
    return RenderedDigest(
        subject=" ".join(subject.split()),
        text=templates.render(partnership, "digest/digest.txt.j2", context),
        html=templates.render(partnership, "digest/digest.html.j2", context),
    )


def report_context(report: PublishedReport, charts: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """The quarterly report's template context: the published tables and the charts."""
    return {
        "report": report,
        "generated": f"{report.as_at:%d %B %Y}",
        "charts": [{"title": title, "src": data_uri(png)} for title, png in charts],
    }


def render_report(
    templates: Templates,
    partnership: str,
    report: PublishedReport,
    charts: Sequence[tuple[str, bytes]],
) -> str:
    return templates.render(partnership, "report/quarterly.html.j2", report_context(report, charts))
