"""Deadline arithmetic for every partnership's rule file, with a frozen clock.

Each expected due time below is written out by hand from the rules, never
computed with the calendar (spec §3.4/§3.5):

* ``working_days``: the event day never counts; due at close of business
  (17:00 local; Solihull closes at 16:30 on Fridays) of the Nth working day
  after it. An event on a weekend, a bank holiday or late in the evening
  behaves like one made on that day.
* ``same_working_day`` / ``immediate``: close of business the same day if the
  event is on a working day before close of business (no procedure states an
  earlier cut-off), else close of the next working day with ``out_of_hours``.
* ``hours`` (Bedfordshire, ``clock``): literal elapsed hours from the case
  being opened (cumulative 24/36/48 h), never moved into business hours;
  ``out_of_hours`` when that moment is not within business hours on a working day.
* qualitative or ``not_stated`` timescales: no due time is invented.

England, 2026-27: Christmas Day Fri 25 Dec 2026; Boxing Day Sat 26 Dec, observed
Mon 28 Dec; New Year's Day Fri 1 Jan 2027; Good Friday 26 Mar 2027, Easter
Monday 29 Mar 2027; BST starts Sun 28 Mar 2027 (17:00 BST is 16:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from tracker.rules.engine import CaseState, Engine, NewDeadline
from tracker.rules.schema import load_rule_file
from tracker.rules.signals import Signal

RULES = Path(__file__).resolve().parents[3] / "rules"
RAISER = "p.shah@oakfield.example.sch.uk"
PARTNERSHIPS = ("solihull", "merton", "bedfordshire", "hull", "llr")


def utc(y: int, mo: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, mo, d, hh, mm, tzinfo=UTC)


@cache
def engine(name: str) -> Engine:
    return Engine(load_rule_file(RULES / f"{name}.yaml"))


def state(
    name: str,
    stage: int,
    opened: datetime,
    entered: datetime | None = None,
    *,
    track: str | None = None,
    flags: frozenset[str] = frozenset(),
) -> CaseState:
    lad = engine(name)
    return CaseState(
        reference="TEST-2026-0001",
        track=track or lad.rule_file.default_track,
        stage=stage,
        flags=flags,
        status="open",
        category=None,
        opened_at=opened,
        stage_entered_at=entered or opened,
        raised_by=RAISER,
    )


def deadline(
    name: str,
    stage: int,
    opened: datetime,
    entered: datetime | None = None,
    *,
    at: datetime | None = None,
    track: str | None = None,
    flags: frozenset[str] = frozenset(),
) -> NewDeadline:
    st = state(name, stage, opened, entered, track=track, flags=flags)
    nd = engine(name).stage_deadline(st, at or entered or opened)
    assert nd is not None
    return nd


def opened_deadline(name: str, at: datetime, signals: list[Signal] | None = None) -> NewDeadline:
    fx = engine(name).open(
        reference="TEST-2026-0001", opened_at=at, raised_by=RAISER, signals=signals or []
    )
    [nd] = fx.deadlines
    return nd


ARRIVALS = {
    "thu_24_dec_1620": utc(2026, 12, 24, 16, 20),  # Christmas Eve: a working day
    "fri_25_dec": utc(2026, 12, 25, 10, 0),  # Christmas Day
    "sat_26_dec": utc(2026, 12, 26, 11, 0),  # Boxing Day, a Saturday
    "mon_28_dec": utc(2026, 12, 28, 9, 30),  # Boxing Day (observed)
    "thu_31_dec_2230": utc(2026, 12, 31, 22, 30),  # late evening before New Year's Day
    "fri_1_jan": utc(2027, 1, 1, 12, 0),  # New Year's Day
    "thu_25_mar_1400": utc(2027, 3, 25, 14, 0),  # before Easter 2027 (still GMT)
    "fri_13_nov_1600": utc(2026, 11, 13, 16, 0),  # Friday afternoon
    "fri_13_nov_1645": utc(2026, 11, 13, 16, 45),  # after Solihull's 16:30 Friday close
    "thu_12_nov_1000": utc(2026, 11, 12, 10, 0),  # due on a Friday
    "tue_10_nov_0915": utc(2026, 11, 10, 9, 15),  # an ordinary Tuesday morning
}

# -- Solihull: 1 / 2 / 2 / 3 working days, Friday close 16:30 ----------------------

SOLIHULL_STAGE1 = {
    "thu_24_dec_1620": utc(2026, 12, 29, 17),  # 25th, weekend, 28th observed skipped
    "fri_25_dec": utc(2026, 12, 29, 17),
    "sat_26_dec": utc(2026, 12, 29, 17),
    "mon_28_dec": utc(2026, 12, 29, 17),  # the event day never counts
    "thu_31_dec_2230": utc(2027, 1, 4, 17),  # 1 Jan and the weekend skipped
    "fri_1_jan": utc(2027, 1, 4, 17),
    "thu_25_mar_1400": utc(2027, 3, 30, 16),  # Tue 30 Mar 17:00 BST
    "fri_13_nov_1600": utc(2026, 11, 16, 17),
    "fri_13_nov_1645": utc(2026, 11, 16, 17),
    "thu_12_nov_1000": utc(2026, 11, 13, 16, 30),  # Friday: friday_end 16:30
    "tue_10_nov_0915": utc(2026, 11, 11, 17),
}


@pytest.mark.parametrize("arrival", sorted(SOLIHULL_STAGE1))
def test_solihull_stage_1_is_close_of_the_next_working_day(arrival: str) -> None:
    at = ARRIVALS[arrival]
    nd = deadline("solihull", 1, at)
    assert nd.due_at == SOLIHULL_STAGE1[arrival]
    assert nd.out_of_hours is False
    assert (nd.unit, nd.within, nd.basis, nd.start_event) == (
        "working_days",
        1,
        "stated",
        "case_opened",
    )
    assert nd.started_at == at
    opened = opened_deadline("solihull", at)
    assert opened.due_at == SOLIHULL_STAGE1[arrival]
    assert opened.stage == 1


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (
            utc(2026, 12, 24, 16, 20),
            [
                utc(2026, 12, 29, 17),  # Tue
                utc(2026, 12, 31, 17),  # Wed 30, Thu 31
                utc(2027, 1, 5, 17),  # Mon 4, Tue 5 (New Year's Day skipped)
                utc(2027, 1, 8, 16, 30),  # Wed 6, Thu 7, Fri 8: Friday close
            ],
        ),
        (
            utc(2027, 3, 25, 14, 0),
            [
                utc(2027, 3, 30, 16),  # Easter skipped; 17:00 BST
                utc(2027, 4, 1, 16),  # Wed 31 Mar, Thu 1 Apr
                utc(2027, 4, 5, 16),  # Fri 2 Apr, Mon 5 Apr
                utc(2027, 4, 8, 16),  # Tue 6, Wed 7, Thu 8 Apr
            ],
        ),
        (
            # spec §3.6 worst case: Mon 31 Aug 2026 is a bank holiday.
            utc(2026, 8, 28, 14, 0),
            [utc(2026, 9, 1, 16), utc(2026, 9, 3, 16), utc(2026, 9, 7, 16), utc(2026, 9, 10, 16)],
        ),
    ],
    ids=["christmas", "easter", "august"],
)
def test_solihull_full_chain_each_stage_entered_when_the_last_falls_due(
    start: datetime, expected: list[datetime]
) -> None:
    entered = start
    got = []
    for number in (1, 2, 3, 4):
        nd = deadline("solihull", number, start, entered)
        assert nd.stage == number
        assert nd.due_at is not None
        assert nd.started_at == (start if number == 1 else entered)
        got.append(nd.due_at)
        entered = nd.due_at
    assert got == expected


def test_solihull_chain_runs_from_the_actual_stage_entry_not_the_planned_one() -> None:
    opened = utc(2026, 12, 24, 16, 20)
    # Stage 2 entered early, on Wed 30 Dec 10:00: 2 working days are Thu 31 Dec and Mon 4 Jan.
    nd = deadline("solihull", 2, opened, utc(2026, 12, 30, 10, 0))
    assert nd.due_at == utc(2027, 1, 4, 17)
    assert nd.start_event == "stage_entered"
    assert nd.reminder_at == utc(2027, 1, 4, 9)  # start of business on the due day


def test_solihull_flags_do_not_shorten_its_timescales() -> None:
    at = ARRIVALS["thu_24_dec_1620"]
    nd = deadline("solihull", 1, at, flags=frozenset({"significant_harm", "cp_plan"}))
    assert nd.due_at == utc(2026, 12, 29, 17)
    assert nd.start_event == "case_opened"


# -- Merton: 2 then 1 working days; stage 3 not stated; stage 4 qualitative -----------

MERTON_STAGE1 = {
    "thu_24_dec_1620": utc(2026, 12, 30, 17),  # Tue 29, Wed 30
    "fri_25_dec": utc(2026, 12, 30, 17),
    "sat_26_dec": utc(2026, 12, 30, 17),
    "mon_28_dec": utc(2026, 12, 30, 17),
    "thu_31_dec_2230": utc(2027, 1, 5, 17),  # Mon 4, Tue 5
    "fri_1_jan": utc(2027, 1, 5, 17),
    "thu_25_mar_1400": utc(2027, 3, 31, 16),  # Tue 30, Wed 31 Mar (BST)
    "fri_13_nov_1600": utc(2026, 11, 17, 17),  # Mon 16, Tue 17
    "fri_13_nov_1645": utc(2026, 11, 17, 17),
    "thu_12_nov_1000": utc(2026, 11, 16, 17),  # Fri 13, Mon 16
    "tue_10_nov_0915": utc(2026, 11, 12, 17),  # Wed 11, Thu 12
}

MERTON_STAGE2 = {
    **SOLIHULL_STAGE1,
    "thu_12_nov_1000": utc(2026, 11, 13, 17),  # no Friday close in Merton
}


@pytest.mark.parametrize("arrival", sorted(MERTON_STAGE1))
def test_merton_stages_1_and_2(arrival: str) -> None:
    at = ARRIVALS[arrival]
    nd1 = deadline("merton", 1, at)
    assert (nd1.due_at, nd1.out_of_hours, nd1.within) == (MERTON_STAGE1[arrival], False, 2)
    assert opened_deadline("merton", at).due_at == MERTON_STAGE1[arrival]
    # Stage 2 runs from its own entry: entered at this arrival time, a day after opening.
    nd2 = deadline("merton", 2, utc(2026, 11, 2, 9), at)
    assert (nd2.due_at, nd2.start_event, nd2.within) == (MERTON_STAGE2[arrival], "stage_entered", 1)


@pytest.mark.parametrize("arrival", sorted(ARRIVALS))
def test_merton_stages_3_and_4_invent_no_due_time(arrival: str) -> None:
    at = ARRIVALS[arrival]
    nd3 = deadline("merton", 3, at)
    assert nd3.due_at is None and nd3.reminder_at is None and nd3.out_of_hours is False
    assert nd3.basis == "not_stated" and nd3.unit is None
    assert "no timescale stated" in nd3.explanation
    nd4 = deadline("merton", 4, at)
    assert nd4.due_at is None and nd4.reminder_at is None
    assert (nd4.basis, nd4.unit) == ("stated", "qualitative")
    assert "no deadline is computed" in nd4.explanation


# -- Bedfordshire: literal clock hours, cumulative from the case being opened -----------

BEDS_24_48 = {
    # arrival: ((24 h, out of hours), (48 h, out of hours))
    "thu_24_dec_1620": ((utc(2026, 12, 25, 16, 20), True), (utc(2026, 12, 26, 16, 20), True)),
    "fri_25_dec": ((utc(2026, 12, 26, 10), True), (utc(2026, 12, 27, 10), True)),
    "sat_26_dec": ((utc(2026, 12, 27, 11), True), (utc(2026, 12, 28, 11), True)),  # observed
    "mon_28_dec": ((utc(2026, 12, 29, 9, 30), False), (utc(2026, 12, 30, 9, 30), False)),
    "thu_31_dec_2230": ((utc(2027, 1, 1, 22, 30), True), (utc(2027, 1, 2, 22, 30), True)),
    "fri_1_jan": ((utc(2027, 1, 2, 12), True), (utc(2027, 1, 3, 12), True)),
    "thu_25_mar_1400": ((utc(2027, 3, 26, 14), True), (utc(2027, 3, 27, 14), True)),  # Good Fri
    "fri_13_nov_1600": ((utc(2026, 11, 14, 16), True), (utc(2026, 11, 15, 16), True)),
    "fri_13_nov_1645": ((utc(2026, 11, 14, 16, 45), True), (utc(2026, 11, 15, 16, 45), True)),
    "thu_12_nov_1000": ((utc(2026, 11, 13, 10), False), (utc(2026, 11, 14, 10), True)),
    "tue_10_nov_0915": ((utc(2026, 11, 11, 9, 15), False), (utc(2026, 11, 12, 9, 15), False)),
}


@pytest.mark.parametrize("arrival", sorted(BEDS_24_48))
def test_bedfordshire_default_track_24_and_48_clock_hours(arrival: str) -> None:
    at = ARRIVALS[arrival]
    (due24, ooh24), (due48, ooh48) = BEDS_24_48[arrival]
    nd1 = deadline("bedfordshire", 1, at)
    assert nd1.track == "c1_nfa"
    assert (nd1.due_at, nd1.out_of_hours, nd1.unit, nd1.within) == (due24, ooh24, "hours", 24)
    # Stage 2 entered later still runs from the case being opened (cumulative 48 h).
    nd2 = deadline("bedfordshire", 2, at, utc(2027, 6, 1, 12))
    assert (nd2.due_at, nd2.out_of_hours, nd2.within) == (due48, ooh48, 48)
    assert nd2.start_event == "case_opened" and nd2.started_at == at
    opened = opened_deadline("bedfordshire", at)
    assert (opened.due_at, opened.out_of_hours) == (due24, ooh24)


@pytest.mark.parametrize(
    ("arrival", "due24", "due36", "due48"),
    [
        (
            "thu_24_dec_1620",
            utc(2026, 12, 25, 16, 20),
            utc(2026, 12, 26, 4, 20),
            utc(2026, 12, 26, 16, 20),
        ),
        (
            "mon_28_dec",
            utc(2026, 12, 29, 9, 30),
            utc(2026, 12, 29, 21, 30),
            utc(2026, 12, 30, 9, 30),
        ),
        ("thu_25_mar_1400", utc(2027, 3, 26, 14), utc(2027, 3, 27, 2), utc(2027, 3, 27, 14)),
        (
            "tue_10_nov_0915",
            utc(2026, 11, 11, 9, 15),
            utc(2026, 11, 11, 21, 15),
            utc(2026, 11, 12, 9, 15),
        ),
    ],
)
@pytest.mark.parametrize(
    "track",
    [
        "d_s17_initial",
        "e_s17_core",
        "f_s47_strategy",
        "g_s47_cpc_request",
        "i_core_group",
        "j_post_cp_plan",
    ],
)
def test_bedfordshire_24_36_48_tracks_are_cumulative(
    track: str, arrival: str, due24: datetime, due36: datetime, due48: datetime
) -> None:
    at = ARRIVALS[arrival]
    # Stages 2 and 3 are entered long afterwards: the clock still runs from opening.
    got = [
        deadline("bedfordshire", n, at, entered, track=track)
        for n, entered in ((1, at), (2, utc(2027, 5, 4, 10)), (3, utc(2027, 5, 5, 10)))
    ]
    assert [d.due_at for d in got] == [due24, due36, due48]
    assert [d.within for d in got] == [24, 36, 48]
    assert all(d.start_event == "case_opened" and d.started_at == at for d in got)
    assert got[1].out_of_hours is True  # every 36 h example here lands at night


def test_bedfordshire_track_a_is_24_then_48_and_b_is_24() -> None:
    at = ARRIVALS["thu_12_nov_1000"]
    a1 = deadline("bedfordshire", 1, at, track="a_own_manager")
    a2 = deadline("bedfordshire", 2, at, utc(2026, 11, 12, 15), track="a_own_manager")
    b1 = deadline("bedfordshire", 1, at, track="b_caf")
    assert [a1.due_at, a2.due_at, b1.due_at] == [
        utc(2026, 11, 13, 10),
        utc(2026, 11, 14, 10),
        utc(2026, 11, 13, 10),
    ]
    assert [a1.out_of_hours, a2.out_of_hours] == [False, True]


def test_bedfordshire_out_of_hours_shows_the_next_working_opportunity() -> None:
    nd = deadline("bedfordshire", 1, ARRIVALS["thu_24_dec_1620"])
    assert "Fri 25 Dec 2026 16:20" in nd.explanation
    assert "next working opportunity Tue 29 Dec 2026 09:00" in nd.explanation
    nd = deadline("bedfordshire", 2, ARRIVALS["sat_26_dec"])  # Mon 28 Dec 11:00, observed
    assert nd.due_at == utc(2026, 12, 28, 11)
    assert "next working opportunity Tue 29 Dec 2026 09:00" in nd.explanation
    nd = deadline("bedfordshire", 1, ARRIVALS["thu_31_dec_2230"])
    assert "next working opportunity Mon 4 Jan 2027 09:00" in nd.explanation


def test_bedfordshire_hours_are_real_hours_across_the_clock_change() -> None:
    # Sat 27 Mar 2027 12:00 GMT; BST starts at 01:00 UTC on Sun 28 Mar.
    at = utc(2027, 3, 27, 12)
    nd1 = deadline("bedfordshire", 1, at)
    nd2 = deadline("bedfordshire", 2, at)
    assert nd1.due_at == utc(2027, 3, 28, 12)  # 13:00 BST, still exactly 24 h
    assert nd2.due_at == utc(2027, 3, 29, 12)  # Easter Monday 13:00 BST
    assert nd1.out_of_hours and nd2.out_of_hours
    assert "next working opportunity Tue 30 Mar 2027 09:00" in nd2.explanation


def test_bedfordshire_business_hours_are_judged_in_local_time() -> None:
    # Easter Monday 16:30 UTC + 24 h = Tue 30 Mar 16:30 UTC = 17:30 BST: after close.
    nd = deadline("bedfordshire", 1, utc(2027, 3, 29, 16, 30))
    assert nd.due_at == utc(2027, 3, 30, 16, 30)
    assert nd.out_of_hours is True
    assert "next working opportunity Wed 31 Mar 2027 09:00" in nd.explanation
    # ...and 15:30 UTC is 16:30 BST: within business hours.
    nd = deadline("bedfordshire", 1, utc(2027, 3, 29, 15, 30))
    assert nd.due_at == utc(2027, 3, 30, 15, 30)
    assert nd.out_of_hours is False
    # Closing time itself is still "by close of business".
    nd = deadline("bedfordshire", 1, utc(2026, 11, 9, 17, 0))
    assert (nd.due_at, nd.out_of_hours) == (utc(2026, 11, 10, 17), False)


BEDS_IMMEDIATE = {
    "thu_24_dec_1620": (utc(2026, 12, 24, 17), False),  # before close: same day
    "fri_25_dec": (utc(2026, 12, 29, 17), True),
    "sat_26_dec": (utc(2026, 12, 29, 17), True),
    "mon_28_dec": (utc(2026, 12, 29, 17), True),
    "thu_31_dec_2230": (utc(2027, 1, 4, 17), True),
    "fri_1_jan": (utc(2027, 1, 4, 17), True),
    "thu_25_mar_1400": (utc(2027, 3, 25, 17), False),
    "fri_13_nov_1600": (utc(2026, 11, 13, 17), False),
    "fri_13_nov_1645": (utc(2026, 11, 13, 17), False),  # no Friday close in Bedfordshire
    "thu_12_nov_1000": (utc(2026, 11, 12, 17), False),
    "tue_10_nov_0915": (utc(2026, 11, 10, 17), False),
}


@pytest.mark.parametrize("arrival", sorted(BEDS_IMMEDIATE))
def test_bedfordshire_immediate_track(arrival: str) -> None:
    at = ARRIVALS[arrival]
    due, ooh = BEDS_IMMEDIATE[arrival]
    c2 = deadline("bedfordshire", 1, at, track="c2_consent")
    assert (c2.due_at, c2.out_of_hours, c2.unit) == (due, ooh, "immediate")
    assert c2.start_event == "case_opened"


# nai_infant ("resolved immediately") only ever shortens: where the next working day's
# close is later than the track's own 24 h, the 24 h deadline stands.
BEDS_NAI = {
    "thu_24_dec_1620": (utc(2026, 12, 24, 17), "flag:nai_infant"),
    "fri_25_dec": (utc(2026, 12, 26, 10), "case_opened"),
    "sat_26_dec": (utc(2026, 12, 27, 11), "case_opened"),
    "mon_28_dec": (utc(2026, 12, 29, 9, 30), "case_opened"),
    "thu_31_dec_2230": (utc(2027, 1, 1, 22, 30), "case_opened"),
    "fri_1_jan": (utc(2027, 1, 2, 12), "case_opened"),
    "thu_25_mar_1400": (utc(2027, 3, 25, 17), "flag:nai_infant"),
    "fri_13_nov_1600": (utc(2026, 11, 13, 17), "flag:nai_infant"),
    "fri_13_nov_1645": (utc(2026, 11, 13, 17), "flag:nai_infant"),
    "thu_12_nov_1000": (utc(2026, 11, 12, 17), "flag:nai_infant"),
    "tue_10_nov_0915": (utc(2026, 11, 10, 17), "flag:nai_infant"),
}


@pytest.mark.parametrize("arrival", sorted(BEDS_NAI))
def test_bedfordshire_nai_override_takes_the_stricter_deadline(arrival: str) -> None:
    at = ARRIVALS[arrival]
    due, start_event = BEDS_NAI[arrival]
    nai = deadline("bedfordshire", 1, at, flags=frozenset({"nai_infant"}))
    assert (nai.due_at, nai.start_event) == (due, start_event)
    if start_event == "flag:nai_infant":
        assert nai.unit == "immediate" and nai.out_of_hours is False
        assert nai.rule.endswith("flags.nai_infant.deadline_override")
    else:
        assert nai.unit == "hours" and nai.within == 24


def test_bedfordshire_immediate_after_close_is_next_working_day() -> None:
    nd = deadline("bedfordshire", 1, utc(2026, 12, 24, 17, 30), track="c2_consent")
    assert (nd.due_at, nd.out_of_hours) == (utc(2026, 12, 29, 17), True)


@pytest.mark.parametrize("arrival", sorted(ARRIVALS))
def test_bedfordshire_cpc_track_invents_no_later_deadlines(arrival: str) -> None:
    at = ARRIVALS[arrival]
    h1 = deadline("bedfordshire", 1, at, track="h_s47_cpc")
    assert h1.due_at == BEDS_24_48[arrival][0][0]
    for n in (2, 3):
        nd = deadline("bedfordshire", n, at, track="h_s47_cpc")
        assert nd.due_at is None and nd.reminder_at is None and nd.out_of_hours is False
        assert nd.basis == "not_stated"
        assert "no timescale stated" in nd.explanation


# -- Hull: no numeric timescale anywhere -------------------------------------------------

HULL_BASIS = {1: "stated", 2: "stated", 3: "stated", 4: "not_stated", 5: "not_stated"}


@pytest.mark.parametrize("arrival", sorted(ARRIVALS))
@pytest.mark.parametrize(
    "flags", [frozenset(), frozenset({"significant_harm", "immediate_danger"})]
)
def test_hull_invents_no_due_time(arrival: str, flags: frozenset[str]) -> None:
    at = ARRIVALS[arrival]
    for n, basis in HULL_BASIS.items():
        nd = deadline("hull", n, at, flags=flags)
        assert nd.due_at is None, n
        assert nd.reminder_at is None and nd.out_of_hours is False
        assert nd.basis == basis
        assert nd.unit == ("qualitative" if basis == "stated" else None)
        assert "no deadline is computed" in nd.explanation
    opened = opened_deadline("hull", at)
    assert opened.due_at is None and opened.basis == "stated" and opened.unit == "qualitative"


# -- LLR: no numeric timescale, except significant harm: same working day ------------------
# Issue 11 part 8: the procedure states no cut-off, so "same working day" runs to close of
# business (17:00 local); the 16:00 cut-off the rule file used to invent is gone.

LLR_BASIS = {1: "stated", 2: "stated", 3: "not_stated", 4: "not_stated"}

LLR_SAME_DAY = {
    "thu_24_dec_1620": (utc(2026, 12, 24, 17), False),  # before close: no 16:00 cut-off
    "fri_25_dec": (utc(2026, 12, 29, 17), True),  # bank holiday
    "sat_26_dec": (utc(2026, 12, 29, 17), True),
    "mon_28_dec": (utc(2026, 12, 29, 17), True),  # observed bank holiday, even at 09:30
    "thu_31_dec_2230": (utc(2027, 1, 4, 17), True),
    "fri_1_jan": (utc(2027, 1, 4, 17), True),
    "thu_25_mar_1400": (utc(2027, 3, 25, 17), False),
    "fri_13_nov_1600": (utc(2026, 11, 13, 17), False),
    "fri_13_nov_1645": (utc(2026, 11, 13, 17), False),
    "thu_12_nov_1000": (utc(2026, 11, 12, 17), False),
    "tue_10_nov_0915": (utc(2026, 11, 10, 17), False),
}


@pytest.mark.parametrize("arrival", sorted(ARRIVALS))
def test_llr_without_the_flag_invents_no_due_time(arrival: str) -> None:
    at = ARRIVALS[arrival]
    for n, basis in LLR_BASIS.items():
        nd = deadline("llr", n, at)
        assert nd.due_at is None and nd.reminder_at is None and nd.out_of_hours is False
        assert nd.basis == basis
        assert nd.start_event in ("case_opened", "stage_entered")
    assert opened_deadline("llr", at).due_at is None


@pytest.mark.parametrize("arrival", sorted(LLR_SAME_DAY))
def test_llr_significant_harm_is_same_working_day(arrival: str) -> None:
    at = ARRIVALS[arrival]
    due, ooh = LLR_SAME_DAY[arrival]
    flags = frozenset({"significant_harm"})
    for n in (1, 2, 3, 4):
        nd = deadline("llr", n, utc(2026, 11, 2, 9), at, flags=flags)
        assert (nd.due_at, nd.out_of_hours) == (due, ooh), n
        assert (nd.unit, nd.basis, nd.start_event) == (
            "same_working_day",
            "stated",
            "flag:significant_harm",
        )
        assert nd.started_at == at
    sig = Signal("flag", "significant_harm", "significant harm", False)
    opened = opened_deadline("llr", at, [sig])
    assert (opened.due_at, opened.out_of_hours) == (due, ooh)


@pytest.mark.parametrize(
    ("at", "due", "ooh"),
    [
        (utc(2026, 12, 24, 16, 0), utc(2026, 12, 24, 17), False),  # no invented 16:00 cut-off
        (utc(2026, 12, 24, 16, 59), utc(2026, 12, 24, 17), False),  # just before close
        (utc(2026, 12, 24, 17, 0), utc(2026, 12, 29, 17), True),  # at close is after it
        (utc(2026, 11, 13, 15, 59), utc(2026, 11, 13, 17), False),  # Friday: no early close
        (utc(2026, 11, 10, 7, 0), utc(2026, 11, 10, 17), False),  # before opening, same day
        # After the clock change close of business is 17:00 BST = 16:00 UTC.
        (utc(2027, 3, 30, 15, 30), utc(2027, 3, 30, 16), False),
        (utc(2027, 3, 30, 15, 59), utc(2027, 3, 30, 16), False),
        (utc(2027, 3, 30, 16, 0), utc(2027, 3, 31, 16), True),
        (utc(2027, 3, 29, 10, 0), utc(2027, 3, 30, 16), True),  # Easter Monday
        (utc(2027, 3, 26, 10, 0), utc(2027, 3, 30, 16), True),  # Good Friday
    ],
)
def test_llr_significant_harm_cut_off(at: datetime, due: datetime, ooh: bool) -> None:
    nd = deadline("llr", 3, utc(2026, 11, 2, 9), at, flags=frozenset({"significant_harm"}))
    assert (nd.due_at, nd.out_of_hours) == (due, ooh)
    if ooh:
        assert "out-of-hours" in nd.explanation
    else:
        assert "out-of-hours" not in nd.explanation


def test_llr_override_runs_from_the_time_asked_not_the_stage_entry() -> None:
    # Stage 2 entered on Tue 10 Nov; the flag is applied on Thu 12 Nov 11:00.
    st = state(
        "llr", 2, utc(2026, 11, 9, 9), utc(2026, 11, 10, 9), flags=frozenset({"significant_harm"})
    )
    nd = engine("llr").stage_deadline(st, utc(2026, 11, 12, 11))
    assert nd is not None
    assert nd.due_at == utc(2026, 11, 12, 17)
    assert nd.rule.endswith("flags.significant_harm.deadline_override")
