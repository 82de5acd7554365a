"""The quarterly figures as they may be published: every count suppressed, every line a string.

Suppression happens here, once, before anything is drawn or written: the
HTML, the CSV, the PDF and the charts are all made from a
:class:`PublishedReport`, so none of them can show a number under 5 from a
breakdown that could identify a child or family. Charts get ``None`` for a
suppressed cell, never the number behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tracker.reports.agencies import (
    AGENCY_TYPES,
    NOT_RECORDED,
    UNCATEGORISED,
    agency_label,
    category_label,
)
from tracker.reports.quarterly import (
    OUTCOMES,
    QuarterFigures,
    QuarterlyFigures,
    Theme,
    stage_numbers,
    themes,
)
from tracker.reports.stats import SMALL, SUPPRESSED, WITHHELD, share, suppress, suppress_breakdown
from tracker.rules.schema import TAXONOMY

OUTCOME_LABELS = {
    "resolved_stage_1": "Resolved at stage 1",
    "resolved_escalated": "Resolved after escalation (stage 2 or above)",
    "open": "Still open",
}


@dataclass(frozen=True)
class Row:
    item: str
    label: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    #: Machine names of the value columns (CSV) and their headings (HTML).
    columns: tuple[str, ...]
    headings: tuple[str, ...]
    rows: tuple[Row, ...]
    note: str = ""

    def numbers(self, column: int) -> list[tuple[str, int | None]]:
        """``(label, value)`` per row for a chart; ``None`` where the value is not published."""
        out: list[tuple[str, int | None]] = []
        for r in self.rows:
            v = r.values[column]
            out.append((r.label, int(v) if v.isdigit() else None))
        return out


@dataclass(frozen=True)
class PublishedReport:
    partnership: str
    display_name: str
    quarter: str
    quarter_code: str
    previous: str
    previous_code: str
    months: str
    as_at: datetime
    complete: bool
    summary: Table
    breakdowns: tuple[Table, ...]
    resolution: Table
    timeliness: Table
    themes: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.summary, *self.breakdowns, self.resolution, self.timeliness)

    def csv_rows(self) -> list[dict[str, str]]:
        """Long format (one value a line), which pivots in any spreadsheet."""
        out: list[dict[str, str]] = []
        for t in self.tables:
            for r in t.rows:
                for column, value in zip(t.columns, r.values, strict=True):
                    out.append(
                        {
                            "partnership": self.partnership,
                            "section": t.key,
                            "item": r.item,
                            "label": r.label,
                            "column": column,
                            "value": value,
                        }
                    )
        for i, text in enumerate(self.themes, 1):
            out.append(
                {
                    "partnership": self.partnership,
                    "section": "themes",
                    "item": f"theme_{i}",
                    "label": text,
                    "column": self.quarter_code,
                    "value": "",
                }
            )
        return out


CSV_FIELDS = ("partnership", "section", "item", "label", "column", "value")


def _days(value: float | None, n: int) -> str:
    if n < SMALL or value is None:
        return SUPPRESSED if n else "–"
    return f"{value:g}"


def _breakdown(
    key: str,
    title: str,
    fig: QuarterlyFigures,
    items: Sequence[tuple[str, str]],
    current: Mapping[str, int],
    previous: Mapping[str, int],
    note: str = "",
) -> Table:
    cur = suppress_breakdown({k: current.get(k, 0) for k, _ in items})
    prev = suppress_breakdown({k: previous.get(k, 0) for k, _ in items})
    return Table(
        key,
        title,
        (fig.current.quarter.code, fig.previous.quarter.code),
        (fig.current.quarter.label, fig.previous.quarter.label),
        tuple(Row(k, label, (cur[k], prev[k])) for k, label in items),
        note,
    )


class _Cells:
    """Published cells by (table, item, column): theme sentences quote only these,
    so a sentence can never disclose what a table suppressed or withheld."""

    def __init__(self, tables: Sequence[Table]) -> None:
        self._cells = {
            (t.key, r.item, i): v for t in tables for r in t.rows for i, v in enumerate(r.values)
        }

    def get(self, table: str, item: str, column: int = 0) -> str:
        return self._cells.get((table, item, column), "0")

    def numeric(self, table: str, item: str, column: int = 0) -> bool:
        return self.get(table, item, column).isdigit()


def _theme_text(t: Theme, fig: QuarterlyFigures, cells: _Cells) -> str:
    f = dict(t.facts)
    if t.key == "category_rising":
        label = category_label(t.subject).lower()
        now, before = cells.get("category", t.subject, 0), cells.get("category", t.subject, 1)
        if not now.isdigit():
            return f"Escalations about {label} rose markedly against last quarter."
        if before.isdigit():
            was = f"from {before} last quarter"
        elif before == SUPPRESSED:
            was = "from fewer than 5 last quarter"
        else:
            was = "well above last quarter"
        return f"Escalations about {label} rose to {now} this quarter, {was}."
    if t.key == "timeliness_low":
        within, done = cells.get("timeliness", "all", 1), cells.get("timeliness", "all", 0)
        return (
            f"Only {cells.get('timeliness', 'all', 2)} of the stages completed this quarter were "
            f"completed within the procedure's timescale ({within} of {done})."
        )
    if t.key == "high_stage":
        parts = [str(n) for n in stage_numbers(fig) if n >= 3]
        opened = cells.get("summary", "opened")
        if all(cells.numeric("highest_stage", item) for item in parts):
            return (
                f"{int(f['cases'])} of the {opened} cases opened this quarter reached stage 3 or "
                "above: senior leaders were drawn into a large share of disagreements."
            )
        return (
            "A quarter or more of the cases opened this quarter reached stage 3 or above: "
            "senior leaders were drawn into a large share of disagreements."
        )
    if t.key == "slower_resolution":
        return (
            f"Cases took longer to resolve: the median rose from {f['before']:g} to "
            f"{f['now']:g} working days."
        )
    if t.key == "uncategorised":
        missing = cells.get("category", UNCATEGORISED)
        opened = cells.get("summary", "opened")
        if missing.isdigit():
            return (
                f"{missing} of the {opened} cases opened this quarter have no category recorded; "
                "categorising them would make the themes more reliable."
            )
        return (
            "A fifth or more of the cases opened this quarter have no category recorded; "
            "categorising them would make the themes more reliable."
        )
    raise ValueError(f"no wording for theme {t.key!r}")


def _published_share(within: str, done: str) -> str:
    """A share only when both counts are published: a percentage of a shown total would
    otherwise give a suppressed count away."""
    if done == "0":
        return "–"
    if not (within.isdigit() and done.isdigit()):
        return WITHHELD
    return share(int(within), int(done))


def _timeliness(fig: QuarterlyFigures, stage_names: Mapping[int, str]) -> Table:
    cur, prev = fig.current, fig.previous
    stages = sorted({*cur.timeliness, *prev.timeliness})

    def cells(q: QuarterFigures, which: int) -> dict[str, str]:
        return suppress_breakdown({str(s): q.timeliness.get(s, (0, 0))[which] for s in stages})

    done, within = cells(cur, 0), cells(cur, 1)
    p_done, p_within = cells(prev, 0), cells(prev, 1)
    rows = [
        Row(
            f"stage_{s}",
            stage_names.get(s, f"Stage {s}"),
            (
                done[str(s)],
                within[str(s)],
                _published_share(within[str(s)], done[str(s)]),
                _published_share(p_within[str(s)], p_done[str(s)]),
            ),
        )
        for s in stages
    ]
    total, total_within = suppress(cur.timed_completed), suppress(cur.within_timescale)
    rows.append(
        Row(
            "all",
            "All stages",
            (
                total,
                total_within,
                _published_share(total_within, total),
                _published_share(suppress(prev.within_timescale), suppress(prev.timed_completed)),
            ),
        )
    )
    q, p = cur.quarter, prev.quarter
    return Table(
        "timeliness",
        "Stages completed within timescale",
        (f"{q.code}_completed", f"{q.code}_within", f"{q.code}_share", f"{p.code}_share"),
        (
            f"Completed {q.label}",
            "Within timescale",
            f"Share {q.label}",
            f"Share {p.label}",
        ),
        tuple(rows),
        f"Stages completed in the quarter for which the procedure states a timescale "
        f"(completed on or before the deadline). Stages without a stated timescale: "
        f"{suppress(cur.untimed_completed)}.",
    )


def publish(
    fig: QuarterlyFigures,
    *,
    display_name: str,
    stage_names: Mapping[int, str],
) -> PublishedReport:
    """Suppress, label and word the figures; ``stage_names`` labels the stage rows."""
    cur, prev = fig.current, fig.previous

    def both(n: int, m: int) -> tuple[str, str]:
        return suppress(n), suppress(m)

    q, p = cur.quarter, prev.quarter
    summary = Table(
        "summary",
        "Summary",
        (q.code, p.code),
        (q.label, p.label),
        (
            Row("opened", "Cases opened", both(cur.opened, prev.opened)),
            Row("resolved", "Cases resolved", both(cur.resolved, prev.resolved)),
            Row(
                "iro_notifications",
                "IRO notifications sent (child on a plan or looked after)",
                both(cur.iro_notifications, prev.iro_notifications),
            ),
            Row("iro_cases", "Cases with an IRO notification", both(cur.iro_cases, prev.iro_cases)),
        ),
    )
    used = {*cur.by_category, *prev.by_category}
    categories = [(c, category_label(c)) for c in (*TAXONOMY, UNCATEGORISED) if c in used]
    stages = stage_numbers(fig)
    stage_labels = [
        (str(s), f"Stage {s}: {stage_names[s]}" if s in stage_names else f"Stage {s}")
        for s in stages
    ]
    breakdowns = (
        _breakdown(
            "category",
            "Cases by category (shared taxonomy)",
            fig,
            categories,
            cur.by_category,
            prev.by_category,
        ),
        _breakdown(
            "raising_agency",
            "Cases by raising agency",
            fig,
            [(a, agency_label(a)) for a in AGENCY_TYPES],
            cur.by_agency,
            prev.by_agency,
            "The type of the raiser's organisation: from the agency named on the escalation "
            "form, by keywords, else from their email domain.",
        ),
        _breakdown(
            "agency_challenged",
            "Cases by agency challenged",
            fig,
            [(a, agency_label(a)) for a in (*AGENCY_TYPES, NOT_RECORDED)],
            cur.by_challenged,
            prev.by_challenged,
            "The type of the agency the raiser disagreed with, from the other party named on "
            'the escalation form, by keywords; "Not recorded" when the form did not name one '
            "or the case did not come from a form.",
        ),
        _breakdown(
            "highest_stage",
            "Highest stage reached",
            fig,
            stage_labels,
            {str(k): v for k, v in cur.by_highest_stage.items()},
            {str(k): v for k, v in prev.by_highest_stage.items()},
        ),
        _breakdown(
            "outcome",
            "Outcome at the end of the quarter",
            fig,
            [(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
            cur.by_outcome,
            prev.by_outcome,
        ),
    )
    resolution = Table(
        "time_to_resolution",
        "Time to resolution (working days)",
        (q.code, p.code),
        (q.label, p.label),
        (
            Row("cases", "Cases resolved in the quarter", both(cur.resolved, prev.resolved)),
            Row(
                "median",
                "Median",
                (_days(cur.median_days, cur.resolved), _days(prev.median_days, prev.resolved)),
            ),
            Row(
                "p90",
                "90th percentile",
                (_days(cur.p90_days, cur.resolved), _days(prev.p90_days, prev.resolved)),
            ),
        ),
        "Working days in the partnership's calendar (weekends, bank holidays and local "
        "closures excluded), from the day the case was opened to the day it was resolved. "
        "Not shown for fewer than 5 cases.",
    )
    timeliness = _timeliness(fig, stage_names)
    cells = _Cells([summary, *breakdowns, resolution, timeliness])
    found = [_theme_text(t, fig, cells) for t in themes(fig)]
    notes = [
        f'Counts from 1 to 4 are shown as "{SUPPRESSED}" so that no child or family can be '
        f'identified; "{WITHHELD}" marks a figure withheld so that a suppressed one cannot '
        "be worked out from the others.",
        "Breakdowns cover the cases opened in each quarter, as they stood at its end.",
        "Agency types are derived by keywords from the free text of the escalation form "
        "(the raiser's email domain when the form names no agency); the text itself is "
        "not used in this report.",
        "No names, dates of birth, message text or email addresses are used in this report.",
    ]
    if not cur.complete:
        notes.insert(0, f"{q.label} is not over: figures are as at {cur.as_at:%d %B %Y %H:%M} UTC.")
    return PublishedReport(
        partnership=fig.partnership,
        display_name=display_name,
        quarter=q.label,
        quarter_code=q.code,
        previous=p.label,
        previous_code=p.code,
        months=q.months(),
        as_at=cur.as_at,
        complete=cur.complete,
        summary=summary,
        breakdowns=breakdowns,
        resolution=resolution,
        timeliness=timeliness,
        themes=tuple(found),
        notes=tuple(notes),
    )
