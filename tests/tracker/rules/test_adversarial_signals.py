"""Hostile text against the signal reader and the reference matcher: each within a bound.

Signal reading runs on every reply that names a case; before the fix it ran
inside the write transaction, so one slow message stopped every mailbox. The
inputs are what an attacker would send: long runs of the words the patterns
look for, blanks where a pattern allows "any amount of space", and sheer size.
The fuzz targets feed arbitrary text for a short, fixed, derandomised run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.refcode import MAX_REFERENCE_TEXT_CHARS, find_references
from tracker.rules.signals import MAX_SIGNAL_TEXT_CHARS, Vocabulary, read_signals

BOUND_SECONDS = 2.0
PREFIXES = ("SSCP", "CPRU")


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    """The built-in phrases plus what a partnership's rule file may add."""
    return Vocabulary.build(
        {2: ["the strategic lead"], 3: ["the independent scrutineer"]},
        {"cp_plan": ["protection plan"]},
        [("thresholds", ["threshold", "did not meet"])],
    )


def within_bound(work: Callable[[], object]) -> None:
    started = time.perf_counter()
    work()
    took = time.perf_counter() - started
    assert took < BOUND_SECONDS, f"took {took:.2f} s"


@pytest.mark.parametrize(
    "text",
    [
        "This has " + "now been " * 5_000 + "sorted.",  # optional words before "resolved"
        "now " * 50_000 + "x",
        "been " * 50_000 + "resolved",
        "has" + " " * 100_000 + "x",
        "\n" * 100_000 + "x resolved",
        "We escalate this " + "up " * 30_000 + "to stage 3",
        "agreement " + "has been " * 20_000 + "x",
        "It is subject to " + "a " * 30_000 + "child protection plan",
        "Stage:" + " " * 100_000 + "x",
        "Flag: " + "-" * 100_000,
        "not " * 50_000 + "significant harm",
        "?" * 100_000 + "escalating to stage 4",
        # Issue 11: the bracketed stage beside a referral verb, "Key Stage", "stage N of
        # the ...", and negation scope across hard wraps.
        "referred " * 20_000 + "(stage 2)",
        "I have referred this to the" + " manager" * 20_000 + " (stage 2)",
        "escalated (" * 30_000 + "stage 2",
        "key " * 30_000 + "stage 2 referral",
        "Key Stage 2 " * 10_000,
        "moved to stage 2" + " of" * 30_000,
        "moved to stage 2 of" + " " * 100_000 + "the plan",
        "not at\n" * 20_000 + "risk of significant harm",
        "I do not believe\n" + " >" * 50_000 + "\nrisk of significant harm",
        "should we escalate to stage 3" + "\n " * 50_000 + "?",
    ],
    ids=[
        "now-been-before-sorted",
        "now-run",
        "been-run",
        "blanks-after-has",
        "blank-lines",
        "up-run",
        "agreement-run",
        "plan-articles",
        "command-blanks",
        "flag-dashes",
        "negations",
        "question-marks",
        "referred-run-before-bracket",
        "words-before-bracket",
        "open-brackets",
        "key-run",
        "key-stage-run",
        "of-run-after-stage",
        "blanks-after-stage-of",
        "wrapped-negations",
        "quote-marks-inside-a-wrap",
        "wrapped-blank-question",
    ],
)
def test_hostile_text_is_read_within_the_bound(vocab: Vocabulary, text: str) -> None:
    within_bound(lambda: read_signals(text, "RE: [SSCP-2026-0001] " + text[:500], vocab))


def test_resolution_words_still_read(vocab: Vocabulary) -> None:
    for text in ("This has now been resolved.", "It has been resolved.", "Resolved"):
        kinds = [s.kind for s in read_signals(text, "Re: x", vocab)]
        assert kinds == ["status"], text


def test_twenty_megabytes_of_text_are_read_up_to_the_cap(vocab: Vocabulary) -> None:
    # Before: 12 s inside the write transaction. Only the first part is read now.
    text = "We are escalating this to stage 2 and it has now been resolved. " * 320_000
    within_bound(lambda: read_signals(text, "x" * 5_000_000, vocab))
    late = "a" * MAX_SIGNAL_TEXT_CHARS + "\nStatus: resolved\n"
    assert read_signals(late, "Re: x", vocab) == []


@pytest.mark.parametrize(
    "text",
    [
        "SSCP" + " " * 200_000 + "-2026-0001",
        "SSCP-" * 100_000,
        "SSCP - 2026 - " * 50_000,
        "sscp-2026-" + "1" * 200_000,
        "x" * 10_000_000 + "SSCP-2026-0001",
    ],
    ids=["blanks", "prefix-run", "half-references", "digit-run", "far-away"],
)
def test_reference_matching_within_the_bound(text: str) -> None:
    within_bound(lambda: find_references(text, PREFIXES))


def test_a_reference_past_the_cap_is_not_read() -> None:
    assert find_references("x" * MAX_REFERENCE_TEXT_CHARS + " SSCP-2026-0001", PREFIXES) == []
    assert find_references("see SSCP – 2026 – 0042", PREFIXES) == ["SSCP-2026-0042"]


_FUZZ = settings(max_examples=40, deadline=None, derandomize=True)
_WORDS = st.lists(
    st.sampled_from(
        ["now", "been", "has", "resolved", "stage", "2", "to", "escalate", "not", "plan",
         "child protection", "Flag:", "Status:", "-", "\n", "  ", "?", ".", "SSCP-2026-0001",
         "on", "a", "the", "agreed", "outcome", "way forward", ">"]
    ),
    max_size=200,
).map(" ".join)  # fmt: skip


@_FUZZ
@given(_WORDS, st.text(max_size=200))
def test_fuzz_read_signals(text: str, subject: str) -> None:
    vocab = Vocabulary.build({}, {}, [])
    within_bound(lambda: read_signals(text * 50, subject, vocab))
    for signal in read_signals(text, subject, vocab):
        assert len(signal.words) <= 80


@_FUZZ
@given(st.one_of(_WORDS, st.text(max_size=400)))
def test_fuzz_find_references(text: str) -> None:
    found = find_references(text * 50, PREFIXES)
    assert all(ref.split("-")[0] in PREFIXES for ref in found)
