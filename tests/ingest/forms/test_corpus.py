"""Accuracy on the fictional corpus: per-field precision and recall, every field exact.

A field counts as correct when the chosen value equals the expected one
after collapsing whitespace (line wrapping differs between formats). An
extracted field the case does not expect is a false positive; an expected
field missing or different is a false negative.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

import pytest

from ingest.forms import CANONICAL_FIELDS, Extraction
from tests.ingest.forms.corpus import CASES, Case
from tests.ingest.forms.reading import extract_raw


def _norm(value: str) -> str:
    return " ".join(value.split())


@functools.cache
def _extracted() -> dict[str, Extraction]:
    return {case.name: extract_raw(case.build()) for case in CASES}


def test_corpus_is_large_and_varied() -> None:
    kinds = Counter(case.kind for case in CASES)
    assert len(CASES) >= 40
    for kind in ("plain", "html-table", "docx", "pdf-text", "pdf-acroform", "pdf-scanned",
                 "tnef", "msg", "rfc822", "forward-inline", "cp1252"):  # fmt: skip
        assert kinds[kind] >= 1, kind
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Case) -> None:
    extraction = _extracted()[case.name]
    got = {name: _norm(value.value) for name, value in extraction.fields.items()}
    assert got == {name: _norm(value) for name, value in case.expected.items()}
    assert extraction.original_sender == case.original_sender
    assert extraction.original_date == case.original_date
    assert tuple(report.status for report in extraction.attachments) == case.statuses
    assert tuple(conflict.name for conflict in extraction.conflicts) == case.conflicts
    for report in extraction.attachments:
        assert len(report.sha256) == 64


def test_precision_and_recall_per_field(report: Callable[[str], None]) -> None:
    results = _extracted()
    counts = {name: Counter[str]() for name in CANONICAL_FIELDS}
    for case in CASES:
        fields = results[case.name].fields
        for name in CANONICAL_FIELDS:
            want = case.expected.get(name)
            got = fields[name].value if name in fields else None
            if got is not None and want is not None and _norm(got) == _norm(want):
                counts[name]["tp"] += 1
            else:
                counts[name]["fp"] += got is not None
                counts[name]["fn"] += want is not None
    kinds = Counter(case.kind for case in CASES)
    report(
        f"forms corpus: {len(CASES)} messages ("
        + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        + ")"
    )
    for name, count in counts.items():
        found, expected = count["tp"] + count["fp"], count["tp"] + count["fn"]
        precision = count["tp"] / found if found else 1.0
        recall = count["tp"] / expected if expected else 1.0
        report(
            f"forms {name:17} precision {precision:.3f} recall {recall:.3f} "
            f"(expected {expected}, extracted {found})"
        )
    failures = {name: dict(c) for name, c in counts.items() if c["fp"] or c["fn"]}
    assert failures == {}
