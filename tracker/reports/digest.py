"""What a business manager's digest says, decided from plain rows (pure).

Two kinds of figure, deliberately: *what happened in the period* (new
cases, stage changes, resolutions: the period is from the previous digest to
this one, so nothing is missed or counted twice) and *where things stand
now* (open cases by stage, due today, due in the next seven days, overdue).
A case appears by reference, stage, agency types (raising and challenged) and
due time only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from tracker.reports.agencies import NOT_RECORDED
from tracker.reports.periods import DigestPeriod, local_date, local_midnight
from tracker.reports.rows import (
    Dataset,
    DeadlineRow,
    StageEntry,
    is_open_at,
    stage_at,
    stage_history,
)
from tracker.reports.stats import WorkingDays

#: How many days the chart of open cases by stage covers, per digest kind.
CHART_DAYS = {"daily": 7, "weekly": 28}
#: "This week" in a digest: the seven days after today.
WEEK_AHEAD = 7


@dataclass(frozen=True)
class DigestCase:
    """One line of a digest table."""

    reference: str
    stage: int
    track: str | None
    #: Raising agency type.
    agency: str
    #: The stage's deadline (None: no timescale, or none open).
    due_at: datetime | None = None
    #: When it happened (opened, moved, resolved) for the period's sections.
    at: datetime | None = None
    #: Stage changes: the stage it came from.
    from_stage: int | None = None
    #: Overdue: by how long at the time of the digest.
    overdue_by: timedelta | None = None
    #: Resolved: working days from opening to resolution.
    working_days: int | None = None
    #: Agency challenged type (``not_recorded`` when the form did not say).
    challenged: str = NOT_RECORDED


@dataclass(frozen=True)
class DayCount:
    """Open cases by stage at the end of one local day (the chart)."""

    day: str
    by_stage: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Digest:
    partnership: str
    period: DigestPeriod
    now: datetime
    new_cases: tuple[DigestCase, ...]
    stage_changes: tuple[DigestCase, ...]
    resolved: tuple[DigestCase, ...]
    open_by_stage: tuple[tuple[int, int], ...]
    due_today: tuple[DigestCase, ...]
    due_this_week: tuple[DigestCase, ...]
    overdue: tuple[DigestCase, ...]
    trend: tuple[DayCount, ...]

    @property
    def open_total(self) -> int:
        return sum(n for _, n in self.open_by_stage)

    @property
    def is_empty(self) -> bool:
        """Nothing happened in the period and nothing is due or overdue."""
        return not (
            self.new_cases
            or self.stage_changes
            or self.resolved
            or self.due_today
            or self.due_this_week
            or self.overdue
        )


def _open_deadline(rows: list[DeadlineRow]) -> DeadlineRow | None:
    """The live deadline of a case: the open row due first (rows without a time last)."""
    live = [d for d in rows if d.state == "open"]
    if not live:
        return None
    return min(live, key=lambda d: (d.due_at is None, d.due_at or d.created_at, d.id))


def build_digest(
    partnership: str,
    data: Dataset,
    period: DigestPeriod,
    now: datetime,
    zone: ZoneInfo,
    working_days: WorkingDays,
    *,
    chart_days: int | None = None,
) -> Digest:
    """Every figure of one partnership's digest (``data`` holds that partnership's rows)."""
    window = period.window
    today = local_date(now, zone)
    week_end = today + timedelta(days=WEEK_AHEAD)
    histories: dict[int, list[StageEntry]] = {}
    new_cases: list[DigestCase] = []
    stage_changes: list[DigestCase] = []
    resolved: list[DigestCase] = []
    due_today: list[DigestCase] = []
    due_week: list[DigestCase] = []
    overdue: list[DigestCase] = []
    open_now: Counter[int] = Counter()

    for c in data.cases:
        rows = data.deadlines_of(c.id)
        history = stage_history(c, rows)
        histories[c.id] = history
        live = _open_deadline(rows) if c.status == "open" else None
        base = DigestCase(
            c.reference,
            c.stage,
            c.track,
            c.agency,
            live.due_at if live else None,
            challenged=c.challenged,
        )
        if c.opened_at in window:
            new_cases.append(replace(base, at=c.opened_at))
        for before, entry in pairwise(history):
            if entry.at in window:
                stage_changes.append(
                    replace(base, stage=entry.stage, from_stage=before.stage, at=entry.at)
                )
        if c.status == "resolved" and c.resolved_at is not None and c.resolved_at in window:
            days_taken = working_days.between(c.opened_at, c.resolved_at)
            resolved.append(replace(base, at=c.resolved_at, working_days=days_taken))
        if c.status != "open" or c.opened_at > now:
            continue
        open_now[c.stage] += 1
        due = base.due_at
        if due is None:
            continue
        if due < now:
            overdue.append(replace(base, overdue_by=now - due))
        elif local_date(due, zone) == today:
            due_today.append(base)
        elif local_date(due, zone) <= week_end:
            due_week.append(base)

    days = chart_days if chart_days is not None else CHART_DAYS.get(period.kind, 7)
    end_day = local_date(period.end, zone)
    trend: list[DayCount] = []
    for i in range(days):
        day = end_day - timedelta(days=days - i)  # the day that ended ...
        t = local_midnight(day + timedelta(days=1), zone)  # ... at this midnight
        counts: Counter[int] = Counter()
        for c in data.cases:
            if is_open_at(c, t):
                s = stage_at(histories[c.id], t)
                if s is not None:
                    counts[s] += 1
        trend.append(DayCount(day.isoformat(), tuple(sorted(counts.items()))))

    def by_time(x: DigestCase) -> tuple[datetime, str]:
        return (x.at or now, x.reference)

    def by_due(x: DigestCase) -> tuple[datetime, str]:
        return (x.due_at or now, x.reference)

    return Digest(
        partnership=partnership,
        period=period,
        now=now,
        new_cases=tuple(sorted(new_cases, key=by_time)),
        stage_changes=tuple(sorted(stage_changes, key=by_time)),
        resolved=tuple(sorted(resolved, key=by_time)),
        open_by_stage=tuple(sorted(open_now.items())),
        due_today=tuple(sorted(due_today, key=by_due)),
        due_this_week=tuple(sorted(due_week, key=by_due)),
        overdue=tuple(sorted(overdue, key=by_due)),
        trend=tuple(trend),
    )
