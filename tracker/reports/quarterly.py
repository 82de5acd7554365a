"""The quarterly trend report's figures (pure), and themes worth the partnership's attention.

Every breakdown is over the cases *opened* in the quarter, as they stood at
the quarter's end (or now, for the quarter in progress); time to resolution
is over the cases *resolved* in it; timeliness over the stages *completed*
in it. The previous quarter is computed the same way, so the two columns
compare like with like. Counts here are exact: :mod:`.publish` suppresses
small numbers before anything is shown or written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tracker.reports.agencies import AGENCY_TYPES, NOT_RECORDED, UNCATEGORISED
from tracker.reports.periods import Quarter, Window
from tracker.reports.rows import CaseRow, Dataset, highest_stage, stage_history
from tracker.reports.stats import WorkingDays, median, percentile

IRO_KIND = "iro_secure"
OUTCOMES = ("resolved_stage_1", "resolved_escalated", "open")


@dataclass(frozen=True)
class QuarterFigures:
    """Exact figures for one quarter."""

    quarter: Quarter
    window: Window
    as_at: datetime
    opened: int
    by_category: Mapping[str, int]
    by_agency: Mapping[str, int]
    by_challenged: Mapping[str, int]
    by_highest_stage: Mapping[int, int]
    by_outcome: Mapping[str, int]
    #: Working days from opening to resolution, one per case resolved in the quarter.
    resolution_days: tuple[int, ...]
    #: Per stage: (stages completed with a stated timescale, of which within it).
    timeliness: Mapping[int, tuple[int, int]]
    #: Stages completed in the quarter for which the procedure states no timescale.
    untimed_completed: int
    iro_notifications: int
    iro_cases: int

    @property
    def complete(self) -> bool:
        return self.as_at >= self.window.end

    @property
    def resolved(self) -> int:
        return len(self.resolution_days)

    @property
    def median_days(self) -> float | None:
        return median(self.resolution_days)

    @property
    def p90_days(self) -> float | None:
        return percentile(self.resolution_days, 90)

    @property
    def timed_completed(self) -> int:
        return sum(n for n, _ in self.timeliness.values())

    @property
    def within_timescale(self) -> int:
        return sum(k for _, k in self.timeliness.values())


@dataclass(frozen=True)
class QuarterlyFigures:
    partnership: str
    current: QuarterFigures
    previous: QuarterFigures
    stage_count: int


def _quarter_figures(
    data: Dataset,
    quarter: Quarter,
    zone: ZoneInfo,
    now: datetime,
    working_days: WorkingDays,
) -> QuarterFigures:
    window = quarter.window(zone)
    as_at = min(now, window.end)
    opened: list[CaseRow] = [
        c for c in data.cases if c.opened_at in window and c.opened_at <= as_at
    ]
    by_category: Counter[str] = Counter()
    by_agency: Counter[str] = Counter(dict.fromkeys(AGENCY_TYPES, 0))
    by_challenged: Counter[str] = Counter(dict.fromkeys((*AGENCY_TYPES, NOT_RECORDED), 0))
    by_highest: Counter[int] = Counter()
    by_outcome: Counter[str] = Counter(dict.fromkeys(OUTCOMES, 0))
    for c in opened:
        by_category[c.category or UNCATEGORISED] += 1
        by_agency[c.agency] += 1
        by_challenged[c.challenged] += 1
        top = highest_stage(stage_history(c, data.deadlines_of(c.id)), as_at) or c.stage
        by_highest[top] += 1
        if c.resolved_at is not None and c.resolved_at < as_at:
            by_outcome["resolved_stage_1" if top <= 1 else "resolved_escalated"] += 1
        else:
            by_outcome["open"] += 1

    resolution_days = tuple(
        working_days.between(c.opened_at, c.resolved_at)
        for c in data.cases
        if c.resolved_at is not None and c.resolved_at in window and c.resolved_at <= as_at
    )

    timeliness: dict[int, list[int]] = {}
    untimed = 0
    for d in data.deadlines:
        if d.state != "met" or d.met_at is None or d.met_at not in window or d.met_at > as_at:
            continue
        if d.due_at is None:
            untimed += 1
            continue
        counts = timeliness.setdefault(d.stage, [0, 0])
        counts[0] += 1
        counts[1] += int(d.met_at <= d.due_at)

    iro = [
        n
        for n in data.notices
        if n.kind == IRO_KIND and n.created_at in window and n.created_at <= as_at
    ]
    return QuarterFigures(
        quarter=quarter,
        window=window,
        as_at=as_at,
        opened=len(opened),
        by_category=dict(by_category),
        by_agency=dict(by_agency),
        by_challenged=dict(by_challenged),
        by_highest_stage=dict(by_highest),
        by_outcome=dict(by_outcome),
        resolution_days=resolution_days,
        timeliness={s: (n, k) for s, (n, k) in sorted(timeliness.items())},
        untimed_completed=untimed,
        iro_notifications=len(iro),
        iro_cases=len({n.case_id for n in iro if n.case_id is not None}),
    )


def build_quarterly(
    partnership: str,
    data: Dataset,
    quarter: Quarter,
    zone: ZoneInfo,
    now: datetime,
    working_days: WorkingDays,
    *,
    stage_count: int,
) -> QuarterlyFigures:
    """The figures for ``quarter`` and the one before it (``data``: one partnership's rows)."""
    return QuarterlyFigures(
        partnership=partnership,
        current=_quarter_figures(data, quarter, zone, now, working_days),
        previous=_quarter_figures(data, quarter.previous(), zone, now, working_days),
        stage_count=stage_count,
    )


# -- themes ---------------------------------------------------------------------

#: A category "rises" when it has at least this many cases, this many more than
#: last quarter, and this factor over last quarter.
RISE_MIN, RISE_BY, RISE_FACTOR = 5, 3, 1.5
#: Fewer than this share of completed stages within timescale is worth a look.
TIMELINESS_FLOOR = 0.75
#: This share of cases reaching stage 3 or above (with at least 5 cases) is worth a look.
HIGH_STAGE_SHARE = 0.25
#: This share of cases without a category makes the category figures unreliable.
UNCATEGORISED_SHARE = 0.2
#: Median time to resolution rising by this many working days.
SLOWER_BY = 2.0


@dataclass(frozen=True)
class Theme:
    """Something worth the partnership's attention, with the numbers that show it.

    ``facts`` holds exact counts; the published sentence is written by
    :mod:`.publish`, which suppresses them, so the decision stays pure and testable.
    """

    key: str
    subject: str
    facts: tuple[tuple[str, float], ...]


def themes(fig: QuarterlyFigures) -> list[Theme]:
    """The rules, in order of how much they usually matter to a partnership."""
    cur, prev = fig.current, fig.previous
    out: list[Theme] = []
    for category, n in sorted(cur.by_category.items(), key=lambda kv: (-kv[1], kv[0])):
        if category == UNCATEGORISED:
            continue
        before = prev.by_category.get(category, 0)
        if n >= RISE_MIN and n - before >= RISE_BY and n >= RISE_FACTOR * before:
            out.append(Theme("category_rising", category, (("now", n), ("before", before))))
    if cur.timed_completed >= 5 and cur.within_timescale < TIMELINESS_FLOOR * cur.timed_completed:
        out.append(
            Theme(
                "timeliness_low",
                "",
                (("within", cur.within_timescale), ("completed", cur.timed_completed)),
            )
        )
    high = sum(n for stage, n in cur.by_highest_stage.items() if stage >= 3)
    if high >= 5 and cur.opened and high >= HIGH_STAGE_SHARE * cur.opened:
        out.append(Theme("high_stage", "", (("cases", high), ("opened", cur.opened))))
    m_now, m_before = cur.median_days, prev.median_days
    if (
        cur.resolved >= 5
        and prev.resolved >= 5
        and m_now is not None
        and m_before is not None
        and m_now - m_before >= SLOWER_BY
    ):
        out.append(Theme("slower_resolution", "", (("now", m_now), ("before", m_before))))
    missing = cur.by_category.get(UNCATEGORISED, 0)
    if missing >= 5 and missing >= UNCATEGORISED_SHARE * max(cur.opened, 1):
        out.append(Theme("uncategorised", "", (("cases", missing), ("opened", cur.opened))))
    return out


def stage_numbers(fig: QuarterlyFigures) -> Sequence[int]:
    """Stages 1..N of the procedure, plus any higher stage the data holds."""
    seen = {*fig.current.by_highest_stage, *fig.previous.by_highest_stage}
    return list(range(1, max([fig.stage_count, *seen]) + 1))
