"""The rules engine (tracker.rules.engine) applied to real rule files with plain values.

Solihull: opening, moving up, who may move a case back, notices and their
once-per-stage keys, resolution. LLR: the significant-harm override. Merton:
feedback to the person who raised the concern. Due times are written out by
hand (England, 09:00-17:00; Solihull closes at 16:30 on Fridays).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from tracker.rules.authority import Standing
from tracker.rules.engine import CaseState, Effects, Engine, OpenDeadline
from tracker.rules.schema import load_rule_file
from tracker.rules.signals import Signal, read_signals

RULES = Path(__file__).resolve().parents[3] / "rules"
RAISER = "p.shah@oakfield.example.sch.uk"
SOLIHULL_STAFF = "sscp@solihull.gov.uk"
BEDS_STAFF = "lscb@centralbedfordshire.gov.uk"


def utc(y: int, mo: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, mo, d, hh, mm, tzinfo=UTC)


OPENED = utc(2026, 11, 10, 9, 15)  # Tue


@cache
def engine(name: str) -> Engine:
    return Engine(load_rule_file(RULES / f"{name}.yaml"))


def read(name: str, text: str, subject: str = "") -> list[Signal]:
    return read_signals(text, subject, engine(name).vocabulary)


def case(
    name: str,
    stage: int,
    *,
    flags: frozenset[str] = frozenset(),
    status: str = "open",
    entered: datetime = OPENED,
    notified: frozenset[str] = frozenset(),
    track: str | None = None,
) -> CaseState:
    return CaseState(
        reference="TEST-2026-0001",
        track=track or engine(name).rule_file.default_track,
        stage=stage,
        flags=flags,
        status=status,
        category=None,
        opened_at=OPENED,
        stage_entered_at=entered,
        raised_by=RAISER,
        notified=notified,
    )


def apply(
    name: str,
    state: CaseState,
    text: str,
    *,
    sender: str = RAISER,
    at: datetime,
    live: list[OpenDeadline] | None = None,
) -> Effects:
    signals = read(name, text)
    assert signals, f"no signal read from {text!r}"
    e = engine(name)
    # The engine's tests speak as the raiser or as staff whose origin was authenticated.
    standing = Standing.STAFF if sender in e.staff else Standing.RAISER
    return e.apply(state, live or [], signals, sender, at, standing)


def names(fx: Effects) -> list[str]:
    return sorted(n.name for n in fx.notices)


def kinds(fx: Effects) -> list[str]:
    return [kind for kind, _ in fx.events]


# -- Solihull: opening ---------------------------------------------------------------


def test_open_starts_stage_1_with_its_deadline_and_no_notices() -> None:
    text = "We disagree with the decision made yesterday and would like to discuss it."
    assert read("solihull", text) == []
    fx = engine("solihull").open(
        reference="SSCP-2026-0001", opened_at=OPENED, raised_by=RAISER, signals=[]
    )
    assert (fx.state.stage, fx.state.status, fx.state.flags) == (1, "open", frozenset())
    [d] = fx.deadlines
    assert (d.stage, d.due_at, d.start_event) == (1, utc(2026, 11, 11, 17), "case_opened")
    assert d.reminder_at == utc(2026, 11, 11, 9)
    assert d.rule.startswith(f"solihull@{engine('solihull').loaded.version} ")
    assert fx.notices == [] and fx.closed == []
    assert fx.events[0] == (
        "ladder",
        "SSCP procedure, track default: stage 1 of 4 "
        "(Promoting discussion to find a resolution for the child)",
    )


def test_open_with_a_cp_plan_sends_one_secure_iro_notice() -> None:
    signals = read("solihull", "Jamie Example is subject to a child protection plan.")
    fx = engine("solihull").open(
        reference="SSCP-2026-0001", opened_at=OPENED, raised_by=RAISER, signals=signals
    )
    assert fx.state.flags == {"cp_plan"}
    [n] = fx.notices
    assert (n.name, n.key, n.roles, n.content, n.template, n.trigger) == (
        "iro_secure",
        "iro_secure:s1",
        ("iro",),
        "identifiers",
        "iro/notification",
        "flag_set",
    )
    assert fx.state.notified == {"iro_secure:s1"}
    [d] = fx.deadlines
    assert (d.stage, d.due_at) == (1, utc(2026, 11, 11, 17))
    assert "flag-set" in kinds(fx)


def test_open_naming_stage_2_starts_there_with_evidence_but_no_stage_confirmation() -> None:
    signals = read("solihull", "I am escalating this to stage 2.")
    fx = engine("solihull").open(
        reference="SSCP-2026-0001", opened_at=OPENED, raised_by=RAISER, signals=signals
    )
    assert fx.state.stage == 2 and fx.state.stage_entered_at == OPENED
    [d] = fx.deadlines
    assert (d.stage, d.due_at, d.start_event) == (2, utc(2026, 11, 12, 17), "stage_entered")
    assert names(fx) == ["bm_evidence"]
    [n] = fx.notices
    assert (n.key, n.trigger, n.roles) == ("bm_evidence:s2", "case_opened", ("business_manager",))
    assert fx.events[0][1].startswith("SSCP procedure, track default: stage 2 of 4")
    assert "stage" in kinds(fx)


# -- Solihull: moving up -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (frozenset({"cp_plan"}), ["bm_evidence", "iro_secure", "stage_confirmation"]),
        (frozenset(), ["bm_evidence", "stage_confirmation"]),
    ],
)
def test_reply_moving_to_stage_2(flags: frozenset[str], expected: list[str]) -> None:
    notified = frozenset({"iro_secure:s1"}) if flags else frozenset()
    state = case("solihull", 1, flags=flags, notified=notified)
    at = utc(2026, 11, 11, 14, 30)  # Wed
    live = [OpenDeadline(41, 1, utc(2026, 11, 11, 17))]
    text = "Thank you. I am now referring the matter to the next managerial level."
    fx = apply("solihull", state, text, at=at, live=live)
    assert fx.closed == [(41, "met")]
    assert (fx.state.stage, fx.state.stage_entered_at) == (2, at)
    [d] = fx.deadlines
    # 2 working days from the reply: Thu 12, Fri 13 Nov (Friday close 16:30).
    assert (d.stage, d.started_at, d.due_at) == (2, at, utc(2026, 11, 13, 16, 30))
    assert names(fx) == expected
    assert {n.trigger for n in fx.notices} == {"stage_changed"}
    assert fx.state.notified == notified | {f"{n}:s2" for n in expected}
    assert (
        "stage",
        "stage 1 → 2 (Management finding solutions): read from mail "
        f'"referring the matter to the next managerial level" ({RAISER})',
    ) in fx.events


def test_iro_is_not_told_twice_at_the_same_stage_but_is_at_the_next() -> None:
    state = case(
        "solihull",
        2,
        flags=frozenset({"cp_plan"}),
        entered=utc(2026, 11, 11, 14, 30),
        notified=frozenset({"iro_secure:s1", "iro_secure:s2", "bm_evidence:s2"}),
    )
    fx = apply("solihull", state, "Jamie is also a looked after child.", at=utc(2026, 11, 12, 10))
    assert fx.state.flags == {"cp_plan", "looked_after"}
    assert fx.notices == []
    assert fx.state.notified == state.notified
    # Positive control: at stage 3 the IRO is told again.
    fx = apply("solihull", fx.state, "Stage: 3", sender=SOLIHULL_STAFF, at=utc(2026, 11, 12, 11))
    assert fx.state.stage == 3
    assert names(fx) == ["bm_evidence", "iro_secure", "stage_confirmation"]
    assert "iro_secure:s3" in fx.state.notified


# -- Solihull: who may move a case back ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "reason"),
    [
        ("open", "Stage: 1", "only the partnership's staff can move a case back a stage"),
        ("open", "Flag: -cp_plan", "only the partnership's staff can clear a flag"),
        ("open", "Track: default", "only the partnership's staff can change the track"),
        ("resolved", "Status: open", "only the partnership's staff can reopen a case"),
    ],
)
def test_non_staff_commands_are_recorded_and_not_applied(
    status: str, text: str, reason: str
) -> None:
    state = case("solihull", 2, flags=frozenset({"cp_plan"}), status=status)
    live = [OpenDeadline(9, 2, utc(2026, 11, 12, 17))] if status == "open" else []
    fx = apply("solihull", state, text, at=utc(2026, 11, 11, 10), live=live)
    assert fx.events == [("not-applied", f'"{text}" from {RAISER} not applied: {reason}')]
    assert fx.state == state
    assert fx.closed == [] and fx.deadlines == [] and fx.notices == []
    # Nothing but the record that it was not applied.
    assert {kind for kind, _ in fx.events} == {"not-applied"}


def test_staff_can_move_a_case_back_a_stage() -> None:
    state = case("solihull", 3, entered=utc(2026, 11, 12, 9))
    live = [OpenDeadline(12, 3, utc(2026, 11, 16, 17))]
    fx = apply(
        "solihull", state, "Stage: 2", sender=SOLIHULL_STAFF, at=utc(2026, 11, 13, 10), live=live
    )
    assert fx.state.stage == 2 and fx.state.stage_entered_at == utc(2026, 11, 13, 10)
    assert fx.closed == [(12, "met")]
    [d] = fx.deadlines
    assert (d.stage, d.due_at) == (2, utc(2026, 11, 17, 17))  # Mon 16, Tue 17
    assert fx.events == [
        (
            "stage",
            "stage 3 → 2 (Management finding solutions): "
            'command "Stage: 2" (staff: sscp@solihull.gov.uk)',
        )
    ]


def test_staff_can_clear_a_flag() -> None:
    state = case("solihull", 2, flags=frozenset({"cp_plan", "looked_after"}))
    fx = apply("solihull", state, "Flag: -cp_plan", sender=SOLIHULL_STAFF, at=utc(2026, 11, 11))
    assert fx.state.flags == {"looked_after"}
    assert fx.events == [
        (
            "flag-cleared",
            'flag cp_plan cleared: command "Flag: -cp_plan" (staff: sscp@solihull.gov.uk)',
        )
    ]


def test_staff_can_reopen_a_case_with_a_fresh_deadline() -> None:
    state = case("solihull", 2, status="resolved")
    at = utc(2026, 11, 16, 10)  # Mon
    fx = apply("solihull", state, "Status: open", sender=SOLIHULL_STAFF, at=at)
    assert fx.state.status == "open" and fx.state.stage_entered_at == at
    [d] = fx.deadlines
    assert (d.stage, d.due_at) == (2, utc(2026, 11, 18, 17))  # Tue 17, Wed 18
    assert kinds(fx) == ["reopened"]


def test_staff_naming_an_unknown_track_is_refused() -> None:
    state = case("solihull", 2)
    fx = apply("solihull", state, "Track: c1_nfa", sender=SOLIHULL_STAFF, at=utc(2026, 11, 11))
    assert fx.state == state
    assert fx.events == [
        (
            "not-applied",
            # An unknown value is never quoted on the timeline (issue 10: free text).
            f"track command (unknown value) from {SOLIHULL_STAFF} not applied: "
            "no such track in this procedure",
        )
    ]


def test_only_staff_change_the_track_and_bedfordshire_hours_still_run_from_opening() -> None:
    state = case("bedfordshire", 2, entered=utc(2026, 11, 10, 15))
    live = [OpenDeadline(20, 2, utc(2026, 11, 12, 9, 15))]
    at = utc(2026, 11, 10, 16)
    refused = apply("bedfordshire", state, "Track: d_s17_initial", at=at, live=live)
    assert kinds(refused) == ["not-applied"] and refused.state == state
    fx = apply("bedfordshire", state, "Track: d_s17_initial", sender=BEDS_STAFF, at=at, live=live)
    assert (fx.state.track, fx.state.stage) == ("d_s17_initial", 1)
    assert fx.closed == [(20, "met")]
    [d] = fx.deadlines
    assert (d.track, d.stage, d.due_at) == ("d_s17_initial", 1, utc(2026, 11, 11, 9, 15))
    assert names(fx) == ["stage_confirmation"]


# -- Solihull: resolution --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sender"),
    [
        ("Good news: the matter has now been resolved.", RAISER),
        ("Status: resolved", SOLIHULL_STAFF),
    ],
)
def test_resolution_closes_the_open_deadlines(text: str, sender: str) -> None:
    state = case("solihull", 2, entered=utc(2026, 11, 11, 14, 30))
    live = [OpenDeadline(7, 2, utc(2026, 11, 13, 16, 30))]
    fx = apply("solihull", state, text, sender=sender, at=utc(2026, 11, 12, 10), live=live)
    assert fx.state.status == "resolved"
    assert fx.closed == [(7, "met")]
    assert fx.deadlines == [] and fx.notices == []
    assert kinds(fx) == ["resolved"]


def test_a_resolved_case_ignores_escalation_from_non_staff() -> None:
    state = case("solihull", 2, status="resolved")
    fx = apply(
        "solihull",
        state,
        "I am escalating this to stage 3 as the child is subject to a child protection plan.",
        at=utc(2026, 11, 12, 10),
    )
    assert fx.state == state
    assert kinds(fx) == ["not-applied", "not-applied"]
    assert all("the case is resolved" in text for _, text in fx.events)
    assert fx.deadlines == [] and fx.notices == [] and fx.closed == []


# -- LLR: significant harm ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "due", "ooh"),
    [
        (utc(2026, 11, 10, 11), utc(2026, 11, 10, 17), False),
        # Issue 11 part 8: no invented 16:00 cut-off; "same working day" runs to close.
        (utc(2026, 11, 10, 16, 30), utc(2026, 11, 10, 17), False),
        (utc(2026, 11, 10, 17, 30), utc(2026, 11, 11, 17), True),  # after close of business
        (utc(2026, 12, 28, 10), utc(2026, 12, 29, 17), True),  # Boxing Day (observed)
    ],
)
def test_llr_significant_harm_mid_stage_supersedes_the_open_deadline(
    at: datetime, due: datetime, ooh: bool
) -> None:
    state = case("llr", 2, entered=utc(2026, 11, 9, 10))
    live = [OpenDeadline(5, 2, None)]  # stage 2 is "timely": no due time
    fx = apply(
        "llr", state, "We now believe the child is at risk of significant harm.", at=at, live=live
    )
    assert "significant_harm" in fx.state.flags
    assert fx.closed == [(5, "superseded")]
    [d] = fx.deadlines
    assert (d.stage, d.due_at, d.out_of_hours) == (2, due, ooh)
    assert (d.unit, d.start_event, d.started_at) == (
        "same_working_day",
        "flag:significant_harm",
        at,
    )
    assert any(
        kind == "deadline" and text.startswith("stricter timescale for flag significant_harm")
        for kind, text in fx.events
    )


def test_llr_flag_already_set_applies_to_the_next_stage_from_the_move() -> None:
    state = case("llr", 2, flags=frozenset({"significant_harm"}))
    live = [OpenDeadline(6, 2, utc(2026, 11, 10, 17))]
    at = utc(2026, 11, 11, 10)
    text = "I am referring the matter to the Designated Safeguarding Lead."
    fx = apply("llr", state, text, at=at, live=live)
    assert fx.state.stage == 3
    assert fx.closed == [(6, "met")]
    [d] = fx.deadlines
    assert (d.stage, d.due_at, d.start_event) == (3, utc(2026, 11, 11, 17), "flag:significant_harm")


@pytest.mark.parametrize(
    ("name", "text", "stage", "due"),
    [
        (
            "llr",
            "I am escalating this to stage 3: the child is at risk of significant harm.",
            3,
            utc(2026, 11, 10, 17),
        ),
        (
            "bedfordshire",
            "I am escalating this to stage 2. We suspect a non-accidental injury.",
            2,
            utc(2026, 11, 10, 17),
        ),
    ],
)
def test_opening_at_a_later_stage_with_an_override_flag_has_a_deadline(
    name: str, text: str, stage: int, due: datetime
) -> None:
    signals = read(name, text)
    assert [s.kind for s in signals] == ["stage", "flag"]
    fx = engine(name).open(
        reference="X-2026-0001", opened_at=OPENED, raised_by=RAISER, signals=signals
    )
    assert fx.state.stage == stage
    assert [(d.stage, d.due_at) for d in fx.deadlines] == [(stage, due)]


# -- Merton: feedback to the raiser ------------------------------------------------------------


def test_merton_opening_sends_no_feedback() -> None:
    fx = engine("merton").open(
        reference="MSCB-2026-0001", opened_at=OPENED, raised_by=RAISER, signals=[]
    )
    assert fx.notices == []
    [d] = fx.deadlines
    assert d.due_at == utc(2026, 11, 12, 17)  # Wed 11, Thu 12


def test_merton_raiser_feedback_on_stage_change() -> None:
    state = case("merton", 1)
    at = utc(2026, 11, 10, 11)
    live = [OpenDeadline(3, 1, utc(2026, 11, 12, 17))]
    fx = apply("merton", state, "I have now referred this to my line manager.", at=at, live=live)
    assert fx.state.stage == 2 and fx.closed == [(3, "met")]
    [n] = fx.notices
    assert (n.name, n.key, n.roles, n.template, n.trigger) == (
        "raiser_feedback",
        "raiser_feedback:s2",
        ("raiser",),
        "raiser/feedback",
        "stage_changed",
    )
    [d] = fx.deadlines
    assert d.due_at == utc(2026, 11, 11, 17)


def test_merton_raiser_feedback_on_resolution() -> None:
    state = case("merton", 2, notified=frozenset({"raiser_feedback:s2"}))
    fx = apply("merton", state, "The disagreement has now been resolved.", at=utc(2026, 11, 11, 9))
    [n] = fx.notices
    assert (n.name, n.key, n.trigger) == ("raiser_feedback", "raiser_feedback:resolved", "resolved")
    assert fx.state.status == "resolved"


def test_merton_stage_4_also_tells_the_business_manager() -> None:
    state = case("merton", 3)
    fx = apply("merton", state, "Stage: 4", sender=RAISER, at=utc(2026, 11, 11, 9))
    assert fx.state.stage == 4
    assert names(fx) == ["qa_referral_notice", "raiser_feedback"]
    [d] = fx.deadlines
    assert d.due_at is None and d.basis == "stated" and d.unit == "qualitative"


@pytest.mark.parametrize(("track", "stage"), [("c1_nfa", "2"), ("d_s17_initial", "3")])
def test_stage_phrases_are_read_per_track(track: str, stage: str) -> None:
    lad = engine("bedfordshire")
    signals = read_signals(
        "I am now referring the matter to the Head of Service.", "", lad.vocabulary_for(track)
    )
    assert [(s.kind, s.value) for s in signals if s.kind == "stage"] == [("stage", stage)]
