"""Working-day calendar and deadlines: spec §3 worked examples, UK holidays, BST/GMT."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from tracker.rules.calendar import LOCAL_CLOSURE, CalendarSettings, WorkingCalendar

LONDON = ZoneInfo("Europe/London")
ENG = WorkingCalendar(CalendarSettings())
SCT = WorkingCalendar(CalendarSettings(subdiv="SCT"))
WDE = WorkingCalendar(CalendarSettings(hours_policy="working_day_equivalent"))


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A London wall-clock time (BST or GMT as the date requires)."""
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def wall(t: datetime | None) -> tuple[date, time]:
    """Local date and wall-clock time of a UTC result."""
    assert t is not None
    lt = t.astimezone(LONDON)
    return lt.date(), lt.time()


def assert_utc(t: datetime | None) -> datetime:
    assert t is not None
    assert t.utcoffset() == timedelta(0)
    assert t.tzinfo is UTC
    return t


# -- days and holidays ---------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),  # missing without subdiv (spec §3.2)
        (date(2026, 8, 31), "Late Summer Bank Holiday"),  # also missing without subdiv
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 28), "Boxing Day (observed)"),  # Boxing Day is Sat 26 Dec
        (date(2027, 1, 1), "New Year's Day"),  # a Friday
        (date(2027, 3, 26), "Good Friday"),
        (date(2027, 3, 29), "Easter Monday"),  # the day after BST starts
    ],
)
def test_english_bank_holidays_are_not_working_days(day: date, name: str) -> None:
    assert day.weekday() < 5
    assert not ENG.is_working_day(day)
    assert ENG.holiday_name(day) == name


def test_subdivision_matters_for_easter_monday() -> None:
    easter_monday = date(2026, 4, 6)
    # The pitfall the calendar guards against: no subdiv, no Easter Monday.
    assert easter_monday not in holidays.country_holidays("GB")
    assert not ENG.is_working_day(easter_monday)
    assert SCT.is_working_day(easter_monday)


def test_subdivision_is_required() -> None:
    with pytest.raises(ValueError, match="subdiv"):
        CalendarSettings(subdiv="")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 24), True),  # Christmas Eve is not a bank holiday...
        (date(2026, 12, 26), False),  # Saturday (Boxing Day itself)
        (date(2026, 12, 27), False),  # Sunday
        (date(2026, 12, 29), True),
        (date(2027, 3, 25), True),  # Thursday before Good Friday 2027
        (date(2027, 3, 30), True),  # Tuesday after Easter Monday 2027
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert ENG.is_working_day(day) is working


def test_weekend_has_no_holiday_name() -> None:
    assert ENG.holiday_name(date(2026, 12, 27)) is None
    assert ENG.holiday_name(date(2026, 12, 29)) is None


def test_extra_closure() -> None:
    cal = WorkingCalendar(CalendarSettings(extra_closures=(date(2026, 12, 24),)))
    assert not cal.is_working_day(date(2026, 12, 24))
    assert cal.holiday_name(date(2026, 12, 24)) == LOCAL_CLOSURE
    assert cal.holiday_name(date(2026, 12, 25)) == "Christmas Day"
    # 1 WD from Wed 23 Dec is normally Thu 24 Dec; the closure pushes it past Christmas.
    assert ENG.nth_working_day_after(date(2026, 12, 23), 1) == date(2026, 12, 24)
    assert cal.nth_working_day_after(date(2026, 12, 23), 1) == date(2026, 12, 29)
    due = cal.due(local(2026, 12, 23, 10), 1, "working_days")
    assert due.due_at == utc(2026, 12, 29, 17)


def test_extra_closures_must_be_dates() -> None:
    with pytest.raises(ValueError, match="dates"):
        CalendarSettings(extra_closures=(datetime(2026, 12, 24, 0, 0),))


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 12, 24), date(2026, 12, 29)),
        (date(2026, 12, 31), date(2027, 1, 4)),  # Fri 1 Jan 2027 skipped
        (date(2027, 3, 25), date(2027, 3, 30)),  # Easter 2027
        (date(2026, 9, 4), date(2026, 9, 7)),  # Friday -> Monday
        (date(2026, 9, 5), date(2026, 9, 7)),  # Saturday -> Monday
        (date(2026, 9, 8), date(2026, 9, 9)),
    ],
)
def test_next_working_day_is_strictly_after(start: date, expected: date) -> None:
    assert ENG.next_working_day(start) == expected


@pytest.mark.parametrize("subdiv", ["ENG", "SCT"])
def test_nth_working_day_agrees_with_holidays_package(subdiv: str) -> None:
    """Two years of days, 1–3 WD: our walk and the package's own helper agree."""
    cal = WorkingCalendar(CalendarSettings(subdiv=subdiv))
    ref = holidays.country_holidays("GB", subdiv=subdiv)
    d = date(2026, 1, 1)
    while d < date(2028, 1, 1):
        for n in (1, 2, 3):
            assert cal.nth_working_day_after(d, n) == ref.get_nth_working_day(d, n), (d, n)
        d += timedelta(days=1)


@pytest.mark.parametrize("n", [0, -1])
def test_nth_working_day_needs_positive_n(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ENG.nth_working_day_after(date(2026, 9, 1), n)


# -- spec §3.6 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "eng", "sct"),
    [
        (date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 29)),
        (date(2026, 8, 28), date(2026, 9, 1), date(2026, 8, 31)),
        (date(2026, 4, 2), date(2026, 4, 7), date(2026, 4, 6)),
        (date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 5)),
    ],
)
def test_spec_3_6_one_working_day(event: date, eng: date, sct: date) -> None:
    at = local(event.year, event.month, event.day, 10)
    for cal, expected in ((ENG, eng), (SCT, sct)):
        due = cal.due(at, 1, "working_days")
        assert wall(due.due_at) == (expected, time(17, 0))
        assert not due.out_of_hours
        assert due.next_opportunity is None


def test_spec_3_6_explanation() -> None:
    due = ENG.due(local(2026, 12, 24, 16, 20), 1, "working_days")
    assert due.due_at == utc(2026, 12, 29, 17)  # GMT: UTC equals wall clock
    assert due.explanation == (
        "1 working day from Thu 24 Dec 2026 16:20: close of business on Tue 29 Dec 2026 (17:00)."
    )


def test_solihull_chain_runs_from_each_stage_entered() -> None:
    """Each stage starts at the previous stage's due time (worst case, spec §3.6)."""
    entered = local(2026, 8, 28, 15)
    results = []
    for n in (1, 2, 2, 3):
        due = ENG.due(entered, n, "working_days")
        entered = assert_utc(due.due_at)
        results.append(wall(entered))
    assert results == [
        (date(2026, 9, 1), time(17)),
        (date(2026, 9, 3), time(17)),
        (date(2026, 9, 7), time(17)),
        (date(2026, 9, 10), time(17)),
    ]
    assert entered == utc(2026, 9, 10, 16)  # 17:00 BST


# -- working_days: arrival times -------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected_utc"),
    [
        # Tue 22:30 BST: still Tuesday locally, so 1 WD is Wednesday's close.
        (local(2026, 9, 8, 22, 30), utc(2026, 9, 9, 16)),
        # The same in GMT.
        (local(2026, 11, 10, 22, 30), utc(2026, 11, 11, 17)),
        # Tue 23:30 UTC is Wed 00:30 BST: the local date is Wednesday, so Thursday.
        (utc(2026, 9, 8, 23, 30), utc(2026, 9, 10, 16)),
        # Saturday counts from Saturday: day 1 is Monday.
        (local(2026, 9, 5, 10), utc(2026, 9, 7, 16)),
        # Bank holiday Monday counts from that day: day 1 is Tuesday.
        (local(2026, 8, 31, 10), utc(2026, 9, 1, 16)),
        # Early morning before opening: the event day still never counts.
        (local(2026, 9, 8, 7), utc(2026, 9, 9, 16)),
    ],
)
def test_working_days_from_any_arrival_time(event: datetime, expected_utc: datetime) -> None:
    due = ENG.due(event, 1, "working_days")
    assert assert_utc(due.due_at) == expected_utc


def test_friday_afternoon_with_early_friday_close() -> None:
    cal = WorkingCalendar(CalendarSettings(friday_end=time(16, 30)))
    fri_1645 = local(2026, 9, 4, 16, 45)
    # 1 WD from a Friday afternoon: Monday's ordinary close.
    assert wall(cal.due(fri_1645, 1, "working_days").due_at) == (date(2026, 9, 7), time(17))
    # 1 WD from Thursday: Friday's early close.
    due = cal.due(local(2026, 9, 3, 11), 1, "working_days")
    assert due.due_at == utc(2026, 9, 4, 15, 30)
    assert due.explanation.endswith("close of business on Fri 4 Sep 2026 (16:30).")
    # Same working day: 16:15 is before Friday's close, 16:45 is after it.
    assert cal.due(local(2026, 9, 4, 16, 15), None, "same_working_day").due_at == utc(
        2026, 9, 4, 15, 30
    )
    late = cal.due(fri_1645, None, "same_working_day")
    assert wall(late.due_at) == (date(2026, 9, 7), time(17))
    assert late.out_of_hours


@pytest.mark.parametrize("value", [None, 0, -1, 1.5, float("nan"), float("inf")])
def test_working_days_needs_whole_positive_count(value: float | None) -> None:
    with pytest.raises(ValueError, match="whole number"):
        ENG.due(local(2026, 9, 8), value, "working_days")


# -- same_working_day / immediate ------------------------------------------------

CUTOFF = WorkingCalendar(CalendarSettings(same_day_cutoff=time(16, 0)))


@pytest.mark.parametrize(
    ("event", "due_day", "out"),
    [
        (local(2026, 9, 8, 7, 0), date(2026, 9, 8), False),  # before opening: still today
        (local(2026, 9, 8, 15, 59), date(2026, 9, 8), False),
        (local(2026, 9, 8, 16, 0), date(2026, 9, 9), True),  # at the cut-off: too late
        (local(2026, 9, 8, 16, 30), date(2026, 9, 9), True),
        (local(2026, 9, 5, 10, 0), date(2026, 9, 7), True),  # Saturday
        (local(2026, 8, 29, 10, 0), date(2026, 9, 1), True),  # Sat before bank holiday
        (local(2026, 8, 31, 10, 0), date(2026, 9, 1), True),  # bank holiday Monday
        (local(2026, 12, 24, 15, 0), date(2026, 12, 24), False),
        (local(2026, 12, 24, 16, 20), date(2026, 12, 29), True),
    ],
)
def test_same_working_day_with_cutoff(event: datetime, due_day: date, out: bool) -> None:
    due = CUTOFF.due(event, None, "same_working_day")
    assert wall(due.due_at) == (due_day, time(17))
    assert due.out_of_hours is out
    assert due.next_opportunity is None


def test_same_working_day_without_cutoff_uses_close() -> None:
    assert wall(ENG.due(local(2026, 9, 8, 16, 30), None, "same_working_day").due_at) == (
        date(2026, 9, 8),
        time(17),
    )
    late = ENG.due(local(2026, 9, 8, 17, 0), None, "same_working_day")
    assert wall(late.due_at) == (date(2026, 9, 9), time(17))
    assert late.out_of_hours


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (local(2026, 9, 8, 16, 30), "after the 16:00 cut-off"),
        (local(2026, 9, 5, 10), "a non-working day (Saturday)"),
        (local(2026, 8, 31, 10), "a non-working day (Late Summer Bank Holiday)"),
    ],
)
def test_same_working_day_explains_out_of_hours(event: datetime, reason: str) -> None:
    text = CUTOFF.due(event, None, "same_working_day").explanation
    assert reason in text
    assert "out-of-hours" in text


@pytest.mark.parametrize(
    "event",
    [local(2026, 9, 8, 10), local(2026, 9, 8, 16, 30), local(2026, 8, 31, 10)],
)
def test_immediate_is_overdue_like_same_working_day(event: datetime) -> None:
    imm = CUTOFF.due(event, None, "immediate")
    swd = CUTOFF.due(event, None, "same_working_day")
    assert (imm.due_at, imm.out_of_hours) == (swd.due_at, swd.out_of_hours)
    assert imm.explanation.startswith("Immediately from ")


def test_cutoff_never_later_than_friday_close() -> None:
    cal = WorkingCalendar(CalendarSettings(friday_end=time(16, 30), same_day_cutoff=time(16, 45)))
    # 16:40 on a Friday is after close; without clamping it would be due at 16:30, before arrival.
    due = cal.due(local(2026, 9, 4, 16, 40), None, "same_working_day")
    assert wall(due.due_at) == (date(2026, 9, 7), time(17))
    assert due.out_of_hours


# -- hours (spec §3.5) -----------------------------------------------------------

FRI = local(2026, 8, 28, 15)  # Mon 31 Aug 2026 is the Late Summer Bank Holiday


@pytest.mark.parametrize(
    ("hours", "expected_wall"),
    [
        (24, (date(2026, 8, 29), time(15))),
        (36, (date(2026, 8, 30), time(3))),
        (48, (date(2026, 8, 30), time(15))),
    ],
)
def test_spec_3_5_clock(hours: int, expected_wall: tuple[date, time]) -> None:
    due = ENG.due(FRI, hours, "hours")
    assert assert_utc(due.due_at) == FRI + timedelta(hours=hours)
    assert wall(due.due_at) == expected_wall
    assert due.out_of_hours
    assert due.next_opportunity == utc(2026, 9, 1, 8)  # Tue 1 Sep 09:00 BST
    assert "next working opportunity Tue 1 Sep 2026 09:00" in due.explanation


@pytest.mark.parametrize(
    ("hours", "expected_wall", "expected_utc"),
    [
        (24, (date(2026, 9, 1), time(17)), utc(2026, 9, 1, 16)),
        (36, (date(2026, 9, 2), time(13)), utc(2026, 9, 2, 12)),
        (48, (date(2026, 9, 2), time(17)), utc(2026, 9, 2, 16)),
        (12, (date(2026, 9, 1), time(13)), utc(2026, 9, 1, 12)),
        (8, (date(2026, 9, 1), time(11, 40)), utc(2026, 9, 1, 10, 40)),
    ],
)
def test_spec_3_5_working_day_equivalent(
    hours: int, expected_wall: tuple[date, time], expected_utc: datetime
) -> None:
    due = WDE.due(FRI, hours, "hours")
    assert assert_utc(due.due_at) == expected_utc
    assert wall(due.due_at) == expected_wall
    assert not due.out_of_hours
    assert due.next_opportunity is None


def test_working_day_equivalent_explanation() -> None:
    assert WDE.due(FRI, 36, "hours").explanation == (
        "36 hours from Fri 28 Aug 2026 15:00, counted as 1.5 working days: Wed 2 Sep 2026 13:00."
    )


@pytest.mark.parametrize(
    ("event", "hours", "expected_utc", "expected_wall"),
    [
        # BST ends Sun 25 Oct 2026: 24 real hours from 12:00 BST is 11:00 GMT.
        (local(2026, 10, 24, 12), 24, utc(2026, 10, 25, 11), (date(2026, 10, 25), time(11))),
        # Fri 16:00 BST + 72 h lands on Monday 15:00 GMT, in business hours.
        (local(2026, 10, 23, 16), 72, utc(2026, 10, 26, 15), (date(2026, 10, 26), time(15))),
        # BST starts Sun 28 Mar 2027 (Easter Day): 12:00 GMT + 24 h is 13:00 BST.
        (local(2027, 3, 27, 12), 24, utc(2027, 3, 28, 12), (date(2027, 3, 28), time(13))),
        # Thu 25 Mar 2027 10:00 GMT + 120 h: Tue 30 Mar 11:00 BST (Good Friday, Easter Monday).
        (local(2027, 3, 25, 10), 120, utc(2027, 3, 30, 10), (date(2027, 3, 30), time(11))),
    ],
)
def test_clock_hours_across_clock_change(
    event: datetime, hours: int, expected_utc: datetime, expected_wall: tuple[date, time]
) -> None:
    due = ENG.due(event, hours, "hours")
    assert assert_utc(due.due_at) == expected_utc
    assert wall(due.due_at) == expected_wall


@pytest.mark.parametrize(
    ("event", "hours", "out", "next_open"),
    [
        (local(2026, 9, 8, 9), 8, False, None),  # 17:00 exactly: close of business
        (local(2026, 9, 8, 9), 7.5, False, None),
        (local(2026, 9, 8, 9, 1), 8, True, utc(2026, 9, 9, 8)),  # 17:01
        (local(2026, 9, 7, 22), 9, True, utc(2026, 9, 8, 8)),  # Tue 07:00 -> Tue 09:00
        (local(2026, 9, 7, 22), 11, False, None),  # Tue 09:00
        (local(2027, 3, 25, 10), 24, True, utc(2027, 3, 30, 8)),  # Good Friday 2027
    ],
)
def test_clock_hours_out_of_hours_flag(
    event: datetime, hours: float, out: bool, next_open: datetime | None
) -> None:
    due = ENG.due(event, hours, "hours")
    assert due.out_of_hours is out
    assert due.next_opportunity == next_open


@pytest.mark.parametrize("value", [None, 0, -24, float("nan")])
def test_hours_needs_positive_value(value: float | None) -> None:
    with pytest.raises(ValueError, match="positive"):
        ENG.due(FRI, value, "hours")


# -- other units and errors -------------------------------------------------------


def test_calendar_days() -> None:
    due = ENG.due(local(2026, 12, 24, 16, 20), 3, "calendar_days")
    assert due.due_at == utc(2026, 12, 27, 17)
    assert "Sunday" in due.explanation
    due = ENG.due(local(2026, 10, 20, 10), 7, "calendar_days")  # across the clock change
    assert wall(due.due_at) == (date(2026, 10, 27), time(17))
    assert due.due_at == utc(2026, 10, 27, 17)


def test_qualitative_has_no_due_date() -> None:
    due = ENG.due(FRI, None, "qualitative")
    assert due.due_at is None
    assert not due.out_of_hours
    assert due.next_opportunity is None
    assert "No fixed timescale" in due.explanation


@pytest.mark.parametrize("unit", ["days", "working_day", "WORKING_DAYS", ""])
def test_unknown_unit(unit: str) -> None:
    with pytest.raises(ValueError, match="unknown timescale unit"):
        ENG.due(FRI, 1, unit)


@pytest.mark.parametrize("unit", ["working_days", "same_working_day", "hours", "qualitative"])
def test_naive_event_refused(unit: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ENG.due(datetime(2026, 9, 8, 10, 0), 1, unit)


def test_naive_time_refused_by_hour_helpers() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ENG.in_business_hours(datetime(2026, 9, 8, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        ENG.next_business_open(datetime(2026, 9, 8, 10, 0))


@pytest.mark.parametrize(
    "settings",
    [
        {"business_start": time(17), "business_end": time(9)},
        {"friday_end": time(8, 0)},
        {"same_day_cutoff": time(18, 0)},
        {"hours_policy": "elastic"},
        {"country": ""},
    ],
)
def test_bad_settings_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CalendarSettings(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [CalendarSettings(timezone="Europe/Nowhere"), CalendarSettings(subdiv="XXX")],
)
def test_bad_zone_or_subdivision_refused(settings: CalendarSettings) -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(settings)


# -- business hours ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (local(2026, 9, 8, 9, 0), True),
        (local(2026, 9, 8, 16, 59), True),
        (local(2026, 9, 8, 17, 0), False),
        (local(2026, 9, 8, 8, 59), False),
        (local(2026, 9, 5, 12), False),  # Saturday
        (local(2026, 8, 31, 12), False),  # bank holiday
        (utc(2026, 9, 8, 8, 30), True),  # 09:30 BST
        (utc(2026, 12, 8, 8, 30), False),  # 08:30 GMT
    ],
)
def test_in_business_hours(t: datetime, expected: bool) -> None:
    assert ENG.in_business_hours(t) is expected


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (local(2026, 9, 8, 10), utc(2026, 9, 8, 9)),  # in hours: itself
        (local(2026, 9, 8, 7), utc(2026, 9, 8, 8)),  # before opening: today
        (local(2026, 9, 8, 18), utc(2026, 9, 9, 8)),  # after close: tomorrow
        (local(2026, 8, 28, 17, 30), utc(2026, 9, 1, 8)),  # over the bank holiday weekend
        (local(2026, 10, 23, 18), utc(2026, 10, 26, 9)),  # into GMT: 09:00 is 09:00 UTC
        (local(2027, 3, 25, 18), utc(2027, 3, 30, 8)),  # Easter 2027, into BST
    ],
)
def test_next_business_open(t: datetime, expected: datetime) -> None:
    assert assert_utc(ENG.next_business_open(t)) == expected


def test_business_open_and_close_in_utc() -> None:
    assert ENG.business_open(date(2026, 9, 8)) == utc(2026, 9, 8, 8)
    assert ENG.business_close(date(2026, 12, 8)) == utc(2026, 12, 8, 17)
    early = WorkingCalendar(CalendarSettings(friday_end=time(16, 30)))
    assert early.business_close(date(2026, 9, 4)) == utc(2026, 9, 4, 15, 30)  # Friday
    assert early.business_close(date(2026, 9, 3)) == utc(2026, 9, 3, 16)  # Thursday
