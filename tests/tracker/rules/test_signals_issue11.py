"""Issue 11, part 2 (narrow reading fixes): stage words that are not stage moves, a stage in
brackets beside a referral verb, and negation across hard line wraps.

Each phrase is adapted from a sentence of the procedures in ../shared/domain/procedures/
(quoted above it) and written the way practitioners write mail, hard wraps included.
Vocabularies come from the real rule files. Names are fictional.
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


def stages(text: str, subject: str = "", name: str = "solihull") -> list[str]:
    found: list[Signal] = read_signals(text, subject, vocab(name))
    return [s.value for s in found if s.kind == "stage"]


def flags(text: str, name: str = "solihull") -> list[str]:
    return [s.value for s in read_signals(text, "", vocab(name)) if s.kind == "flag"]


# -- school phases and stages of other work are not stage moves ---------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Escalation: Year 6 pupil (Key Stage 2)",
        "Disagreement - child in KEY STAGE 3, threshold decision",
        "Concern re: Key  Stage 4 pupil not in school",
    ],
)
def test_key_stage_in_a_subject_opens_no_stage(subject: str) -> None:
    assert stages("I wish to raise a professional disagreement.", subject) == []


def test_a_real_stage_after_a_key_stage_in_the_subject_is_still_read() -> None:
    subject = "Year 6 pupil (Key Stage 2) - now escalating to stage 2"
    assert stages("Please see below.", subject) == ["2"]


@pytest.mark.parametrize(
    "text",
    [
        # Hull: "Below are some examples of agency counterparts who may be involved with
        # this stage of the resolution process."
        "He has moved up to Key Stage 3 this September and the school referral\n"
        "was made by his new head of year.",
        "She is working at Key Stage 2 referral level in literacy.",
        # Solihull: "It may be helpful to consider the involvement of the designated or
        # named professional at this stage."
        "At this stage I have spoken with the designated professional only.",
        # Bedfordshire: "Professional disagreement at any stage of a case".
        "We are at an early stage of the assessment and the social worker has\n"
        "moved to stage 2 of the assessment this week.",
        "Mum has progressed to stage 3 of the plan agreed at conference.",
    ],
)
def test_stage_words_of_other_work_move_nothing(text: str) -> None:
    assert stages(text) == []


def test_a_stage_of_the_escalation_process_is_still_a_stage() -> None:
    # Hull: "... at any stage of the escalation process ..."
    assert stages("I have now moved this to stage 3 of the escalation process.") == ["3"]


# -- "(stage N)" beside a referral verb ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        # Solihull stage 2: "... seek solutions at the next managerial level ...";
        # Stage 1: "... reported by them to their line manager / team manager".
        ("I have now referred this to the Team Manager (stage 2) and will update you.", "2"),
        # Solihull stage 3: "the matter must be referred to a senior manager with
        # responsibility for safeguarding".
        ("I have escalated this to our senior manager for safeguarding\n(Stage 3).", "3"),
        ("Referred to the departmental head today [stage 4].", "4"),
    ],
)
def test_stage_in_brackets_beside_a_referral_verb_is_a_move(text: str, stage: str) -> None:
    assert stages(text) == [stage]


def test_stage_in_brackets_without_a_referral_verb_is_not_a_move() -> None:
    assert stages("The meeting notes (stage 2) are attached.") == []


def test_a_hedged_bracketed_stage_is_not_a_move() -> None:
    assert stages("If needed I will refer this to the Team Manager (stage 2).") == []


# -- negation scope is the sentence, across hard wraps ------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # LLR: "Where a practitioner believes that a child is at risk of Significant Harm,
        # then, the escalation must be made on the same working day."
        "Thank you for your call. Having reviewed the referral I do not believe he is at\n"
        "risk of significant harm at present, but I accept the thresholds differ.",
        "> Our view is that the children are not currently at\n> risk of significant harm.",
        "I do not think this is a case where the child is\nat risk of significant harm.",
    ],
)
def test_a_negation_on_the_previous_wrapped_line_is_kept(text: str) -> None:
    assert "significant_harm" not in flags(text)


@pytest.mark.parametrize(
    "text",
    [
        # Merton 3.6: "one worker/agency continues to believe that the child remains at
        # risk of significant harm the escalation process is to be followed."
        "The strategy discussion did not go ahead.\n"
        "I continue to believe that the child remains at risk of significant harm.",
        "No strategy discussion was held\n\n"
        "I believe the child remains at risk of significant harm.",
        "Actions not agreed:\n"
        "- the school remains concerned the child is at risk of significant harm",
    ],
)
def test_a_sentence_end_or_a_blank_line_ends_the_scope(text: str) -> None:
    assert "significant_harm" in flags(text)


def test_a_hard_wrapped_question_is_still_a_question() -> None:
    assert stages("Should we now be escalating this to\nstage 3 with the Team Manager?") == []
