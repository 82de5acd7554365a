"""Expected figures, counted straight from the seed records (never by the code under test)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise

from tests.reports.seed import LONDON, SeedCase
from tracker.rules.calendar import WorkingCalendar

#: How digests label agency types (written out here, not taken from the code under test).
AGENCY_LABELS = {
    "school": "School",
    "health": "Health",
    "police": "Police",
    "local_authority": "Local authority",
    "other": "Other",
    "not_recorded": "Not recorded",
}
#: The rows of the report's agency breakdowns.
RAISING_ITEMS = ("school", "health", "police", "local_authority", "other")
CHALLENGED_ITEMS = (*RAISING_ITEMS, "not_recorded")


def in_(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


@dataclass
class DigestExpectation:
    new: list[str]
    changes: list[tuple[str, int, int]]
    resolved: list[str]
    open_by_stage: dict[int, int]
    overdue: list[str]
    due_today: list[str]
    due_week: list[str]


def digest(
    cases: Iterable[SeedCase], start: datetime, end: datetime, now: datetime
) -> DigestExpectation:
    cases = [c for c in cases if c.partnership == "solihull"]
    today = now.astimezone(LONDON).date()
    live = {
        c.reference: d.due_at
        for c in cases
        if c.status == "open"
        for d in c.deadlines
        if d.state == "open" and d.due_at is not None
    }
    return DigestExpectation(
        new=sorted(c.reference for c in cases if in_(c.opened_at, start, end)),
        changes=sorted(
            (c.reference, a, b)
            for c in cases
            for (a, _), (b, at) in pairwise(c.stages)
            if in_(at, start, end)
        ),
        resolved=sorted(c.reference for c in cases if in_(c.resolved_at, start, end)),
        open_by_stage=dict(Counter(c.stage for c in cases if c.status == "open")),
        overdue=sorted(r for r, due in live.items() if due < now),
        due_today=sorted(
            r for r, due in live.items() if due >= now and due.astimezone(LONDON).date() == today
        ),
        due_week=sorted(
            r
            for r, due in live.items()
            if today < due.astimezone(LONDON).date() <= today + timedelta(days=7)
        ),
    )


def working_days(calendar: WorkingCalendar, a: datetime, b: datetime) -> int:
    """Days after ``a``'s local date up to and including ``b``'s that are working days."""
    da, db = a.astimezone(LONDON).date(), b.astimezone(LONDON).date()
    return sum(
        1 for i in range(1, (db - da).days + 1) if calendar.is_working_day(da + timedelta(days=i))
    )


@dataclass
class QuarterExpectation:
    opened: int
    resolved: int
    categories: dict[str, int]
    agencies: dict[str, int]
    challenged: dict[str, int]
    highest: dict[str, int]
    outcomes: dict[str, int]
    days: list[int]
    timeliness: dict[int, tuple[int, int]]
    iro: int
    iro_cases: int

    @property
    def median(self) -> float:
        return float(statistics.median(self.days))

    @property
    def p90(self) -> float:
        ordered = sorted(self.days)
        return float(ordered[math.ceil(0.9 * len(ordered)) - 1])


def quarter(
    cases: Sequence[SeedCase],
    start: datetime,
    end: datetime,
    now: datetime,
    calendar: WorkingCalendar,
) -> QuarterExpectation:
    as_at = min(now, end)
    cases = [c for c in cases if c.partnership == "solihull"]
    opened = [c for c in cases if in_(c.opened_at, start, end)]
    highest = {c.reference: max(s for s, at in c.stages if at < as_at) for c in opened}
    outcomes: Counter[str] = Counter()
    for c in opened:
        if c.resolved_at is not None and c.resolved_at < as_at:
            outcomes["resolved_stage_1" if highest[c.reference] == 1 else "resolved_escalated"] += 1
        else:
            outcomes["open"] += 1
    resolved = [c for c in cases if in_(c.resolved_at, start, end)]
    timeliness: dict[int, tuple[int, int]] = {}
    for c in cases:
        for d in c.deadlines:
            if d.state == "met" and d.due_at is not None and in_(d.met_at, start, end):
                assert d.met_at is not None
                n, k = timeliness.get(d.stage, (0, 0))
                timeliness[d.stage] = (n + 1, k + int(d.met_at <= d.due_at))
    iro = [(c.reference, at) for c in cases for at in c.iro_at if in_(at, start, end)]
    return QuarterExpectation(
        opened=len(opened),
        resolved=len(resolved),
        categories=dict(Counter(c.category or "uncategorised" for c in opened)),
        agencies=dict(Counter(c.agency for c in opened)),
        challenged=dict(Counter(c.challenged for c in opened)),
        highest=dict(Counter(str(v) for v in highest.values())),
        outcomes=dict(outcomes),
        days=[working_days(calendar, c.opened_at, c.resolved_at) for c in resolved],  # type: ignore[arg-type]
        timeliness=timeliness,
        iro=len(iro),
        iro_cases=len({r for r, _ in iro}),
    )


def check_published(counts: Mapping[str, int], shown: Mapping[str, str]) -> None:
    """The suppression rule, checked cell by cell: 1-4 as "<5"; a lone small cell makes
    the smallest cell of 5 or more "*"; everything else exact."""
    small = [k for k, v in counts.items() if 0 < v < 5]
    big = [k for k, v in counts.items() if v >= 5]
    withheld = [k for k, v in shown.items() if v == "*"]
    if len(small) == 1 and big:
        assert len(withheld) == 1
        assert counts[withheld[0]] == min(counts[k] for k in big)
    else:
        assert withheld == []
    for k, n in counts.items():
        if k in withheld:
            continue
        assert shown[k] == ("<5" if 0 < n < 5 else str(n)), (k, n, shown[k])


def weeks(d: date) -> str:
    return (d - timedelta(days=d.weekday())).isoformat()
