"""Working-day durations, median and 90th percentile, and small-number suppression.

Durations are counted in the partnership's working days because that is how
its procedure states timescales ("within 5 working days"): a case opened on
Friday and settled on Monday took one working day, not three calendar days.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from tracker.rules.calendar import WorkingCalendar

#: Counts under this are shown as ``"<5"`` wherever they could identify a child or family.
SMALL: Final = 5
SUPPRESSED: Final = "<5"
#: A figure withheld only so that a suppressed one cannot be worked out from the total.
WITHHELD: Final = "*"


class WorkingDays:
    """Working days between two moments, O(1) per question.

    A report asks this for thousands of cases; asking the holiday calendar
    day by day for each would dominate its run time, so each date's running
    count of working days is computed once and durations are differences.
    """

    def __init__(self, calendar: WorkingCalendar) -> None:
        self._calendar = calendar
        self.zone = ZoneInfo(calendar.settings.timezone)
        self._first: date | None = None
        self._cumulative: list[int] = []

    def _cover(self, lo: date, hi: date) -> None:
        """Extend the running counts to cover ``lo``..``hi`` (before any lookup)."""
        if self._first is None:
            self._first = lo
            self._cumulative = [int(self._calendar.is_working_day(lo))]
        if lo < self._first:
            prefix: list[int] = []
            running = 0
            for i in range((self._first - lo).days):
                running += int(self._calendar.is_working_day(lo + timedelta(days=i)))
                prefix.append(running)
            self._cumulative = prefix + [c + running for c in self._cumulative]
            self._first = lo
        while len(self._cumulative) <= (hi - self._first).days:
            nxt = self._first + timedelta(days=len(self._cumulative))
            self._cumulative.append(self._cumulative[-1] + int(self._calendar.is_working_day(nxt)))

    def between(self, start: datetime, end: datetime) -> int:
        """Working days after ``start``'s local date, up to and including ``end``'s.

        Same day: 0; Friday to the following Monday: 1; never negative.
        """
        a = start.astimezone(self.zone).date()
        b = end.astimezone(self.zone).date()
        if b <= a:
            return 0
        self._cover(a, b)
        assert self._first is not None
        return self._cumulative[(b - self._first).days] - self._cumulative[(a - self._first).days]


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: an observed value, the smallest with ``p``% at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def suppress(n: int) -> str:
    """``"0"``, ``"<5"`` for 1 to 4, else the number."""
    return SUPPRESSED if 0 < n < SMALL else str(n)


def suppress_breakdown(counts: Mapping[str, int]) -> dict[str, str]:
    """A breakdown whose total is published, suppressed so no small cell can be derived.

    Cells of 1 to 4 become ``"<5"``. If exactly one cell is suppressed, the
    total minus the others would give it away, so the next smallest non-zero
    cell is withheld too (``"*"``): secondary suppression.
    """
    shown = {k: suppress(v) for k, v in counts.items()}
    small = [k for k, v in counts.items() if 0 < v < SMALL]
    if len(small) == 1:
        others = sorted((v, k) for k, v in counts.items() if v >= SMALL)
        if others:
            shown[others[0][1]] = WITHHELD
    return shown


def share(part: int, whole: int) -> str:
    """A percentage, suppressed when the denominator is small."""
    if whole == 0:
        return "–"
    if whole < SMALL:
        return SUPPRESSED
    return f"{round(100 * part / whole)}%"
