"""Reading stage moves, flags, commands and resolutions from mail text (tracker.rules.signals).

Vocabularies come from the real rule files, so a rule file's stage phrases are
part of what is tested. Names in the examples are fictional.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tracker.rules.engine import Engine
from tracker.rules.schema import load_rule_file
from tracker.rules.signals import Signal, Vocabulary, read_signals

RULES = Path(__file__).resolve().parents[3] / "rules"


@cache
def vocab(name: str) -> Vocabulary:
    return Engine(load_rule_file(RULES / f"{name}.yaml")).vocabulary


def read(text: str, subject: str = "", name: str = "solihull") -> list[Signal]:
    return read_signals(text, subject, vocab(name))


def of_kind(signals: list[Signal], kind: str) -> list[Signal]:
    return [s for s in signals if s.kind == kind]


# -- stage phrases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "words"),
    [
        ("I am escalating this to stage 2.", "2", "escalating this to stage 2"),
        (
            "We are now escalating the matter to stage 3 today.",
            "3",
            "escalating the matter to stage 3",
        ),
        ("The disagreement is now at stage 2.", "2", "now at stage 2"),
        ("Please treat this as a stage 2 escalation.", "2", "stage 2 escalation"),
    ],
)
def test_stage_phrases(text: str, value: str, words: str) -> None:
    assert read(text) == [Signal("stage", value, words, False)]


def test_a_rule_file_stage_phrase_moves_the_case() -> None:
    text = "I am now referring the matter to the Head of Service."
    # Bedfordshire's default track (C1, referral closed with no further action) has the
    # Head of Service at its second level.
    assert read(text, name="bedfordshire") == [
        Signal("stage", "2", "referring the matter to the Head of Service", False)
    ]
    # Solihull's rule file has no such phrase, so nothing is read there.
    assert of_kind(read(text, name="solihull"), "stage") == []
    # ...but its own stage 2 phrase is.
    assert read("I am now referring the matter to the next managerial level.") == [
        Signal("stage", "2", "referring the matter to the next managerial level", False)
    ]


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("llr", "I have referred this to the Designated Safeguarding Lead.", "3"),
        ("merton", "I have now referred this to my line manager.", "2"),
        ("hull", "We are referring the matter to the Independent Chair.", "5"),
    ],
)
def test_other_rule_files_stage_phrases(name: str, text: str, value: str) -> None:
    [sig] = read(text, name=name)
    assert (sig.kind, sig.value, sig.command) == ("stage", value, False)


@pytest.mark.parametrize("subject", ["Stage 2", "RE: Stage 2 escalation", "Fwd: stage2"])
def test_stage_from_the_subject(subject: str) -> None:
    [sig] = read("Please see the notes below.", subject)
    assert (sig.kind, sig.value, sig.command) == ("stage", "2", False)
    assert sig.words.startswith("subject: ") and "2" in sig.words


def test_the_highest_stage_named_wins() -> None:
    [sig] = read("I am escalating this to stage 3.", "RE: Stage 2")
    assert sig.value == "3"


# -- negations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "We are not escalating to stage 3 at this point.",
        "We have not escalated this to stage 2 yet.",
        "The child is not at risk of significant harm.",
        "There is no risk of significant harm.",
        "Jamie Example is no longer on a child protection plan.",
        "The child is not subject to a child protection plan.",
        "Jamie's child protection plan ended last month.",
        "Jamie is no longer looked after.",
        "Jamie isn't a looked after child.",
    ],
)
def test_negations_produce_nothing(text: str) -> None:
    assert read(text) == []


def test_a_negated_subject_produces_nothing() -> None:
    assert read("", "RE: Not escalating to stage 3") == []


def test_negation_is_local_to_its_phrase() -> None:
    signals = read("We are not escalating to stage 3, but we are escalating to stage 2.")
    assert signals == [Signal("stage", "2", "escalating to stage 2", False)]
    signals = read(
        "The child is not on a child protection plan. "
        "We believe she is at risk of significant harm."
    )
    assert signals == [Signal("flag", "significant_harm", "significant harm", False)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I am escalating this to stage 2 because Jamie is not safe.",
            Signal("stage", "2", "escalating this to stage 2", False),
        ),
        (
            "Jamie is subject to a child protection plan and is not attending school.",
            Signal("flag", "cp_plan", "child protection plan", False),
        ),
    ],
)
def test_a_negative_in_the_next_clause_does_not_cancel_the_phrase(
    text: str, expected: Signal
) -> None:
    assert read(text) == [expected]


# -- flags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The child is subject to a child protection plan.", "child protection plan"),
        ("She has been on a CP plan since June.", "CP plan"),
    ],
)
def test_cp_plan(text: str, words: str) -> None:
    assert read(text) == [Signal("flag", "cp_plan", words, False)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Jamie is a looked after child.", "looked after child"),
        ("Jamie is a looked-after child.", "looked-after child"),
        ("Jamie is a child looked after by the council.", "child looked after"),
        ("Sam, who is looked after, moved placement.", "is looked after"),
        ("Sam is in the care of the local authority.", "in the care of the local authority"),
        ("Sam is subject to a care order.", "care order"),
        ("He is a CLA placed out of area.", "CLA"),
    ],
)
def test_looked_after_variants(text: str, words: str) -> None:
    assert read(text) == [Signal("flag", "looked_after", words, False)]


def test_a_rule_file_flag_phrase() -> None:
    [sig] = read("We think this should go to the Joint Steering Group.", name="bedfordshire")
    assert sig == Signal("flag", "policy_gap", "Joint Steering Group", False)
    assert read("We think this should go to the Joint Steering Group.") == []


# -- commands --------------------------------------------------------------------------------


def test_commands() -> None:
    text = "Stage: 3\nFlag: cp_plan\nStatus: resolved\nCategory: thresholds\n"
    assert read(text) == [
        Signal("stage", "3", "Stage: 3", True),
        Signal("flag", "cp_plan", "Flag: cp_plan", True),
        Signal("status", "resolved", "Status: resolved", True),
        Signal("category", "thresholds", "Category: thresholds", True),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Flag: -cp_plan", Signal("unflag", "cp_plan", "Flag: -cp_plan", True)),
        ("Unflag: cp_plan", Signal("unflag", "cp_plan", "Flag: -cp_plan", True)),
        ("flag: CP plan", Signal("flag", "cp_plan", "Flag: cp_plan", True)),
        ("Status: open", Signal("status", "open", "Status: open", True)),
        ("Status: closed", Signal("status", "resolved", "Status: resolved", True)),
        ("Track: D_S17_Initial", Signal("track", "d_s17_initial", "Track: d_s17_initial", True)),
        ("  Stage: stage 4", Signal("stage", "4", "Stage: 4", True)),
    ],
)
def test_command_variants(line: str, expected: Signal) -> None:
    assert read(f"Thanks.\n{line}\nRegards") == [expected]


def test_a_stage_command_overrides_stage_phrases_in_the_same_message() -> None:
    signals = read("Stage: 2\nThe school says it is escalating this to stage 3.", "Stage 4")
    assert signals == [Signal("stage", "2", "Stage: 2", True)]


def test_a_flag_command_is_not_read_twice_as_a_phrase() -> None:
    signals = read("Flag: -cp_plan\nThe child protection plan is being reviewed.")
    assert signals == [Signal("unflag", "cp_plan", "Flag: -cp_plan", True)]


def test_a_status_command_is_authoritative_over_prose() -> None:
    signals = read("Status: open\nIt had been resolved, but the school has raised it again.")
    assert signals == [Signal("status", "open", "Status: open", True)]


def test_an_unknown_status_word_is_not_a_command() -> None:
    assert read("Status: pending") == []


# -- resolution and hedges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The matter has now been resolved.", "has now been resolved"),
        ("Pleased to confirm the disagreement is now resolved.", "is now resolved"),
        ("This was resolved at the meeting yesterday.", "was resolved"),
        ("Agreement has been reached with children's services.", "Agreement has been reached"),
        ("We have now agreed a way forward.", "We have now agreed a way forward"),
    ],
)
def test_resolution(text: str, words: str) -> None:
    assert read(text) == [Signal("status", "resolved", words, False)]


@pytest.mark.parametrize(
    "text",
    [
        "We hope it is resolved soon.",
        "Hopefully this is now resolved.",
        "It will be resolved when the manager replies.",
        "This should be resolved by Friday.",
        "The matter is not resolved.",
        "This has not been resolved.",
        "It is not yet resolved.",
        "The disagreement remains unresolved.",
    ],
)
def test_hedges_and_negatives_are_not_a_resolution(text: str) -> None:
    assert read(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "I can confirm that this has been resolved.",
        "I would like to confirm the matter has been resolved.",
    ],
)
def test_a_confirmed_resolution_is_not_a_hedge(text: str) -> None:
    assert [(s.kind, s.value) for s in read(text)] == [("status", "resolved")]


# -- words: only the matched phrase --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "Jamie Example's mother agreed, so we are escalating this to stage 2 "
            "on Jamie Example's behalf.",
            ["escalating this to stage 2"],
        ),
        (
            "Jamie Example (Year 4) is subject to a child protection plan at Oakfield.",
            ["child protection plan"],
        ),
        (
            "The disagreement about Jamie Example has now been resolved at Oakfield.",
            ["has now been resolved"],
        ),
        (
            "For Jamie Example we are referring the matter to the Head of Service today.",
            ["referring the matter to the Head of Service"],
        ),
    ],
)
def test_words_are_only_the_matched_phrase(text: str, words: list[str]) -> None:
    signals = read(text, name="bedfordshire")
    assert [s.words for s in signals] == words
    assert all("Jamie" not in s.words and "Oakfield" not in s.words for s in signals)


def test_subject_words_are_only_the_stage_phrase() -> None:
    [sig] = read("", "RE: Jamie Example - stage 2 - urgent")
    assert sig.words == "subject: stage 2"


def test_command_words_hold_only_the_command() -> None:
    [sig] = read("Stage: 3 following Jamie Example's strategy meeting")
    assert (sig.kind, sig.value) == ("stage", "3")
    assert "Jamie" not in sig.words


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Should we escalate this to stage 3?", None),
        ("If needed we will escalate this to stage 3.", None),
        ("We may have to escalate this to stage 3 next week.", None),
        ("I will now escalate this to stage 2.", "2"),
        ("As agreed, I am escalating this to stage 2. Is that clear?", "2"),
    ],
)
def test_a_hedged_or_questioned_escalation_is_not_a_move(text: str, stage: str | None) -> None:
    got = [s.value for s in read(text) if s.kind == "stage"]
    assert got == ([stage] if stage else [])


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("I believe a child protection plan is needed.", False),
        ("We request a child protection plan for the child.", False),
        ("Should the conference not consider a CP plan?", False),
        ("He is on the child protection plan.", True),
        ("Her child protection plan is in place since May.", True),
        ("CPP in place since the review conference.", True),
    ],
)
def test_a_plan_asked_for_is_not_a_plan_in_place(text: str, flagged: bool) -> None:
    got = [s.value for s in read(text) if s.kind == "flag"]
    assert got == (["cp_plan"] if flagged else [])
