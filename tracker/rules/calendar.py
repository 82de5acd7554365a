"""Working days, business hours and deadline arithmetic (spec §3).

Pure: no I/O and no clock of its own. Callers pass the event time (the tool's
receipt time, spec §3.4) and get back a :class:`Due` whose times are aware UTC,
which is how the store keeps them. Every day-level decision ("which date is
it?", "is it a working day?", "when does the office close?") is made in the
procedure's local time zone (``Europe/London`` for every seed), because a
deadline of "close of business" means the local office's close, and BST/GMT
changes must not move it by an hour. Elapsed-hour timescales are the exception:
they are added in UTC so that "24 hours" is always 24 real hours.

Bank holidays come from the ``holidays`` package, always with a subdivision:
without one it returns only the holidays common to the whole UK and silently
drops Easter Monday and the Late Summer Bank Holiday in England (spec §3.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

HoursPolicy = Literal["clock", "working_day_equivalent"]

#: Units a timescale may be expressed in (spec §3.4).
UNITS: Final[frozenset[str]] = frozenset(
    {"working_days", "same_working_day", "hours", "immediate", "calendar_days", "qualitative"}
)

#: Shown by :meth:`WorkingCalendar.holiday_name` for a configured closure that is
#: not also a bank holiday.
LOCAL_CLOSURE: Final = "Local closure"


@dataclass(frozen=True)
class CalendarSettings:
    """One procedure's calendar (spec §3.4): holidays, time zone and office hours.

    Business hours and the same-day cut-off are per-board settings because
    out-of-hours services take over at different times (often 16:00–16:30 on
    Fridays). ``extra_closures`` exists because some statutory definitions of
    "working day" also exclude days such as Christmas Eve (spec §3.1).
    """

    country: str = "GB"
    subdiv: str = "ENG"
    timezone: str = "Europe/London"
    business_start: time = time(9, 0)
    business_end: time = time(17, 0)
    friday_end: time | None = None
    same_day_cutoff: time | None = None
    extra_closures: tuple[date, ...] = ()
    hours_policy: HoursPolicy = "clock"

    def __post_init__(self) -> None:
        """Refuse settings that would give silently wrong deadlines."""
        if not self.country:
            raise ValueError("calendar country is required (e.g. 'GB')")
        if not self.subdiv:
            raise ValueError(
                "calendar subdiv is required (e.g. 'ENG'): without it the holidays package "
                "returns only UK-wide holidays and misses Easter Monday in England"
            )
        for name in ("business_start", "business_end", "friday_end", "same_day_cutoff"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not None:
                raise ValueError(f"{name} must be a local wall-clock time without tzinfo")
        if not self.business_start < self.business_end:
            raise ValueError(
                f"business_start {self.business_start} must be before "
                f"business_end {self.business_end}"
            )
        if self.friday_end is not None and not self.business_start < self.friday_end:
            raise ValueError(
                f"friday_end {self.friday_end} must be after business_start {self.business_start}"
            )
        if self.same_day_cutoff is not None and not (
            self.business_start < self.same_day_cutoff <= self.business_end
        ):
            raise ValueError(
                f"same_day_cutoff {self.same_day_cutoff} must be after business_start "
                f"{self.business_start} and no later than business_end {self.business_end}"
            )
        for d in self.extra_closures:
            # A datetime is a date subclass but would never match a date lookup.
            if not isinstance(d, date) or isinstance(d, datetime):
                raise ValueError(f"extra_closures must hold dates, got {d!r}")
        if self.hours_policy not in get_args(HoursPolicy):
            raise ValueError(
                f"unknown hours_policy {self.hours_policy!r}; "
                f"expected one of {', '.join(get_args(HoursPolicy))}"
            )


@dataclass(frozen=True)
class Due:
    """A computed deadline and how it was reached.

    ``explanation`` is shown to users and written to the audit trail, so it
    names dates, times and holidays only, never anything about the child.
    """

    #: Aware UTC; ``None`` when the timescale is qualitative (nothing to compute).
    due_at: datetime | None
    #: The case needs an out-of-hours warning: a same-day request made after the
    #: cut-off or on a non-working day, or a literal clock-hours deadline that
    #: falls outside business hours.
    out_of_hours: bool
    #: For a clock-hours deadline outside business hours: the next business
    #: opening (aware UTC), shown alongside the literal time. Otherwise ``None``.
    next_opportunity: datetime | None
    #: One plain-English sentence.
    explanation: str


def _fmt_day(d: date) -> str:
    """``Tue 29 Dec 2026``: unambiguous, no leading zero, locale-independent day number."""
    return f"{d:%a} {d.day} {d:%b %Y}"


def _fmt_local(t: datetime) -> str:
    """``Thu 24 Dec 2026 16:20`` for a local-time datetime."""
    return f"{_fmt_day(t.date())} {t:%H:%M}"


def _fmt_number(value: float) -> str:
    """``24``, ``1.5``: no trailing ``.0`` in sentences people read."""
    return f"{value:g}"


def _plural(n: float, word: str) -> str:
    return f"{_fmt_number(n)} {word}" + ("" if n == 1 else "s")


def _require_aware(t: datetime, what: str) -> None:
    """Naive datetimes are refused: guessing their zone would shift deadlines by an hour."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {t!r}")


class WorkingCalendar:
    """Working days and business hours for one procedure, and :meth:`due` on top of them.

    Dates are local dates in ``settings.timezone``; datetimes going in must be
    aware (any zone) and datetimes coming out are UTC.
    """

    def __init__(self, settings: CalendarSettings) -> None:
        self.settings = settings
        try:
            self._tz = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {settings.timezone!r}") from exc
        try:
            # Years load lazily (expand=True), so any date can be asked about.
            self._holidays = holidays.country_holidays(settings.country, subdiv=settings.subdiv)
        except NotImplementedError as exc:
            raise ValueError(
                f"no holiday calendar for {settings.country!r} subdivision {settings.subdiv!r}: "
                f"{exc}"
            ) from exc
        self._closures = frozenset(settings.extra_closures)

    # -- days -----------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Not a Saturday or Sunday, not a bank holiday, not a local closure.

        The holidays package lists a weekend holiday under its real date and adds
        the substitute weekday as a separate "(observed)" entry, so a plain
        membership test already skips substitute days (spec §3.2).
        """
        return d.weekday() < 5 and d not in self._holidays and d not in self._closures

    def holiday_name(self, d: date) -> str | None:
        """The bank holiday's name (names joined by "; " if several), or
        :data:`LOCAL_CLOSURE` for a configured closure; ``None`` otherwise.

        Weekends are not holidays and give ``None``.
        """
        name = self._holidays.get(d)
        if name is not None:
            return name
        return LOCAL_CLOSURE if d in self._closures else None

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (n ≥ 1); ``d`` itself never counts.

        This is the "clear days" reading of "within n working days" (spec §3.3):
        one working day from any moment on ``d`` is the next working day.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    # -- hours ----------------------------------------------------------------

    def _close_time(self, d: date) -> time:
        """Local closing time: ``friday_end`` on Fridays when set, else ``business_end``."""
        s = self.settings
        if d.weekday() == 4 and s.friday_end is not None:
            return s.friday_end
        return s.business_end

    def _cutoff_time(self, d: date) -> time:
        """Local same-day cut-off, never later than that day's close.

        With a 16:45 cut-off and a 16:30 Friday close, a Friday 16:40 request
        would otherwise be "due" before it arrived.
        """
        close = self._close_time(d)
        cutoff = self.settings.same_day_cutoff
        return close if cutoff is None else min(cutoff, close)

    def _utc_at(self, d: date, t: time) -> datetime:
        """Local wall-clock ``t`` on ``d``, as UTC."""
        return datetime.combine(d, t, tzinfo=self._tz).astimezone(UTC)

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self._tz)

    def business_open(self, d: date) -> datetime:
        """Opening time on ``d`` in UTC (computed for any date, working or not)."""
        return self._utc_at(d, self.settings.business_start)

    def business_close(self, d: date) -> datetime:
        """Closing time on ``d`` in UTC; Fridays use ``friday_end`` when set."""
        return self._utc_at(d, self._close_time(d))

    def in_business_hours(self, t: datetime) -> bool:
        """``t`` is on a working day, at or after opening and before closing."""
        _require_aware(t, "t")
        local = self._local(t)
        d = local.date()
        return self.is_working_day(
            d
        ) and self.settings.business_start <= local.time() < self._close_time(d)

    def next_business_open(self, t: datetime) -> datetime:
        """``t`` itself (as UTC) if in business hours, else the next opening, in UTC."""
        _require_aware(t, "t")
        if self.in_business_hours(t):
            return t.astimezone(UTC)
        local = self._local(t)
        d = local.date()
        if self.is_working_day(d) and local.time() < self.settings.business_start:
            return self.business_open(d)
        return self.business_open(self.next_working_day(d))

    def _deadline_in_hours(self, t: datetime) -> bool:
        """Whether a literal deadline can be met during business hours.

        Unlike :meth:`in_business_hours`, closing time itself counts: a deadline
        at 17:00 is the same "close of business" every working-day rule gives.
        """
        local = self._local(t)
        d = local.date()
        return self.is_working_day(
            d
        ) and self.settings.business_start <= local.time() <= self._close_time(d)

    def _why_not_working(self, d: date) -> str:
        """Why ``d`` is not a working day, for explanations."""
        name = self.holiday_name(d)
        if name is not None:
            return f"a non-working day ({name})"
        return f"a non-working day ({d:%A})"

    # -- deadlines ------------------------------------------------------------

    def due(self, event_at: datetime, value: float | None, unit: str) -> Due:
        """The deadline for a timescale of ``value`` ``unit`` starting at ``event_at``.

        ``event_at`` is the authoritative event time (spec §3.4); for a chained
        stage it is the actual time the stage was entered. See spec §3.4–3.5 for
        each unit's rule; ``value`` is ignored for ``same_working_day``,
        ``immediate`` and ``qualitative``.
        """
        if unit not in UNITS:
            raise ValueError(f"unknown timescale unit {unit!r}; expected one of {sorted(UNITS)}")
        _require_aware(event_at, "event_at")
        local = self._local(event_at)
        if unit == "qualitative":
            return Due(None, False, None, "No fixed timescale: no deadline is computed.")
        if unit == "same_working_day":
            return self._same_working_day(local, immediately=False)
        if unit == "immediate":
            return self._same_working_day(local, immediately=True)
        if unit == "working_days":
            n = _whole_number(value, unit)
            d = self.nth_working_day_after(local.date(), n)
            return self._at_close(d, f"{_plural(n, 'working day')} from {_fmt_local(local)}")
        if unit == "calendar_days":
            n = _whole_number(value, unit)
            d = local.date() + timedelta(days=n)
            suffix = "" if self.is_working_day(d) else f", {self._why_not_working(d)}"
            return self._at_close(
                d, f"{_plural(n, 'calendar day')} from {_fmt_local(local)}", suffix
            )
        hours = _positive_hours(value)
        if self.settings.hours_policy == "clock":
            return self._clock_hours(event_at, local, hours)
        return self._working_day_equivalent(local, hours)

    def _at_close(self, d: date, lead: str, suffix: str = "") -> Due:
        close = self.business_close(d)
        text = f"{lead}: close of business on {_fmt_day(d)} ({self._close_time(d):%H:%M}){suffix}."
        return Due(close, False, None, text)

    def _same_working_day(self, local: datetime, *, immediately: bool) -> Due:
        """Close of business today if before the cut-off on a working day, else
        close of the next working day with an out-of-hours warning (spec §3.4).

        ``immediate`` is reported as overdue on the same terms (spec §3.4).
        """
        d = local.date()
        cutoff = self._cutoff_time(d)
        lead = "Immediately" if immediately else "Same working day"
        lead = f"{lead} from {_fmt_local(local)}"
        if self.is_working_day(d) and local.time() < cutoff:
            due_day, why, out = d, "", False
        else:
            due_day, out = self.next_working_day(d), True
            if not self.is_working_day(d):
                why = f", {self._why_not_working(d)}"
            else:
                why = f", after the {cutoff:%H:%M} cut-off"
        tail = (
            "; out of hours, so a child at risk needs the out-of-hours or emergency duty service"
            if out
            else ""
        )
        overdue = "overdue after close of business" if immediately else "close of business"
        text = (
            f"{lead}{why}: {overdue} on {_fmt_day(due_day)} "
            f"({self._close_time(due_day):%H:%M}){tail}."
        )
        return Due(self.business_close(due_day), out, None, text)

    def _clock_hours(self, event_at: datetime, local: datetime, hours: float) -> Due:
        """Literal elapsed hours, added in UTC so clock changes cannot stretch them.

        Never moved into business hours: compliance is measured against the
        literal time, and the next opening is only offered alongside it.
        """
        due_at = event_at.astimezone(UTC) + timedelta(hours=hours)
        lead = (
            f"{_plural(hours, 'hour')} from {_fmt_local(local)}: {_fmt_local(self._local(due_at))}"
        )
        if self._deadline_in_hours(due_at):
            return Due(due_at, False, None, f"{lead}.")
        nxt = self.next_business_open(due_at)
        text = (
            f"{lead}, outside business hours (next working opportunity "
            f"{_fmt_local(self._local(nxt))}; a child at risk needs the out-of-hours or "
            f"emergency duty service)."
        )
        return Due(due_at, True, nxt, text)

    def _working_day_equivalent(self, local: datetime, hours: float) -> Due:
        """Each 24 h is one working day; a remainder is that fraction of the next
        working day's business hours (spec §3.5: 36 h is 13:00 on working day 2
        with a 09:00–17:00 day).
        """
        days = Fraction(hours) / 24
        whole = math.floor(days)
        fraction = days - whole
        lead = (
            f"{_plural(hours, 'hour')} from {_fmt_local(local)}, counted as "
            f"{_plural(round(float(days), 3), 'working day')}"
        )
        if fraction == 0:
            return self._at_close(self.nth_working_day_after(local.date(), whole), lead)
        d = self.nth_working_day_after(local.date(), whole + 1)
        # Wall-clock arithmetic within one local day (no clock change happens
        # inside business hours in the UK).
        start = datetime.combine(d, self.settings.business_start)
        length = datetime.combine(d, self._close_time(d)) - start
        offset = timedelta(seconds=round(Fraction(length.total_seconds()) * fraction))
        wall = start + offset
        due_at = wall.replace(tzinfo=self._tz).astimezone(UTC)
        return Due(due_at, False, None, f"{lead}: {_fmt_local(wall)}.")


def _whole_number(value: float | None, unit: str) -> int:
    """A whole count of at least 1: fractional days have no agreed meaning."""
    if value is None or not math.isfinite(value) or value != int(value) or value < 1:
        raise ValueError(f"{unit} needs a whole number of at least 1, got {value!r}")
    return int(value)


def _positive_hours(value: float | None) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"hours needs a positive number, got {value!r}")
    return float(value)
