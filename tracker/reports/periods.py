"""Reporting periods: quarters, and the window a scheduled digest covers.

Boundaries are local midnights (a partnership's office works in
``Europe/London``; a quarter that began at midnight UTC would put the first
hour of July's cases into June) returned as aware UTC datetimes, which is
how the database stores times. A period is half-open: ``start <= t < end``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from tracker.errors import ConfigError

DIGEST_KINDS = ("daily", "weekly")
#: Used when a digest is previewed or sent by hand for a kind the configuration does not schedule.
DEFAULT_CRON = {"daily": "0 8 * * mon-fri", "weekly": "0 8 * * mon"}

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


def local_midnight(d: date, zone: ZoneInfo) -> datetime:
    """The start of local day ``d``, as UTC."""
    return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)


def local_date(t: datetime, zone: ZoneInfo) -> date:
    return t.astimezone(zone).date()


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __contains__(self, t: object) -> bool:
        return isinstance(t, datetime) and self.start <= t < self.end


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q4`` (also ``2026-Q4``, ``2026q4``)."""
        m = _QUARTER.match(text)
        if not m:
            raise ConfigError(f"--quarter: expected a quarter like 2026Q4, got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, t: datetime, zone: ZoneInfo) -> Quarter:
        d = local_date(t, zone)
        return cls(d.year, (d.month - 1) // 3 + 1)

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def window(self, zone: ZoneInfo) -> Window:
        return Window(
            local_midnight(self.first_day, zone), local_midnight(self.next().first_day, zone)
        )

    def months(self) -> str:
        """``October to December 2026``."""
        first = self.first_day
        last = date(self.year, 3 * self.number, 1)
        return f"{first:%B} to {last:%B} {self.year}"


@dataclass(frozen=True)
class DigestPeriod:
    """What one digest covers: from the previous scheduled run to this one.

    A Monday daily digest therefore covers Friday 08:00 to Monday 08:00 with
    a ``mon-fri`` schedule, and nothing falls between two digests. ``label``
    (the local date of ``end``) makes the outbox intent unique per run.
    """

    kind: str
    start: datetime
    end: datetime
    label: str

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)


def cron_trigger(expression: str, zone: ZoneInfo | str = "UTC") -> CronTrigger:
    """A crontab line (``minute hour day month day_of_week``) as an APScheduler trigger."""
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise ConfigError(f"not a crontab schedule: {expression!r}: {exc}") from None


def digest_period(kind: str, expression: str, zone: ZoneInfo, now: datetime) -> DigestPeriod:
    """The period ending at the latest scheduled run at or before ``now``.

    Computed from the schedule, not remembered: a daemon restarted late, or
    an operator sending by hand, lands on the same period and so on the same
    outbox intent (at most one digest per period).
    """
    if kind not in DIGEST_KINDS:
        raise ConfigError(f"digest kind must be one of {', '.join(DIGEST_KINDS)}, not {kind!r}")
    trigger = cron_trigger(expression, zone)
    horizon = timedelta(days=40)
    fires: list[datetime] = []
    t: datetime | None = trigger.get_next_fire_time(None, now - horizon)
    while t is not None and t <= now:
        fires.append(t)
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    fallback = timedelta(days=1 if kind == "daily" else 7)
    end = fires[-1] if fires else now
    start = fires[-2] if len(fires) >= 2 else end - fallback
    end, start = end.astimezone(UTC), start.astimezone(UTC)
    return DigestPeriod(kind, start, end, local_date(end, zone).isoformat())
