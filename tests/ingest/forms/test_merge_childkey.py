"""Choosing between sources, and the pseudonymous child key."""

from __future__ import annotations

import pytest

from ingest.forms import child_key
from ingest.forms.merge import Candidate, merge
from ingest.forms.types import FieldValue

SECRET = b"test-secret-from-configuration"


def fv(name: str, value: str, source: str, confidence: float) -> FieldValue:
    return FieldValue(name, value, source, confidence)


def test_evidence_beats_fallback_without_conflict() -> None:
    fields, conflicts = merge(
        [
            Candidate(fv("raiser_name", "Office Admin", "header", 0.5), fallback=True),
            Candidate(fv("raiser_name", "Jo Practitioner", "attachment:form.docx", 0.9)),
        ]
    )
    assert fields["raiser_name"].value == "Jo Practitioner"
    assert conflicts == ()


def test_disagreeing_evidence_is_kept_as_a_conflict() -> None:
    body = fv("child_dob", "2018-01-24", "body", 0.85)
    docx = fv("child_dob", "2018-01-23", "attachment:form.docx", 0.9)
    again = fv("child_dob", "2018-01-23", "html-table", 0.9)
    fields, conflicts = merge([Candidate(body), Candidate(docx), Candidate(again)])
    assert fields["child_dob"] == docx
    assert [(c.name, c.values) for c in conflicts] == [("child_dob", (body, docx))]


def test_same_value_in_other_spelling_is_no_conflict() -> None:
    fields, conflicts = merge(
        [
            Candidate(fv("concern", "Not  seen\nsince May.", "body", 0.85)),
            Candidate(fv("concern", "not seen since may", "attachment:f.pdf", 0.95)),
        ]
    )
    assert conflicts == ()
    assert fields["concern"].source == "attachment:f.pdf"


def test_field_value_repr_hides_the_value() -> None:
    assert "Jamie" not in repr(fv("child_name", "Jamie Testchild", "body", 0.9))


def test_child_key_is_stable_over_spelling() -> None:
    key = child_key("Zoë O’Neill-Smith", "23/01/2018", "Northshire", SECRET)
    assert key is not None and len(key) == 64
    assert child_key("  zoe o'neill smith ", "2018-01-23", "NORTHSHIRE", SECRET) == key
    assert child_key("ZOË   O NEILL SMITH", "23.1.18", "northshire ", SECRET) == key


def test_child_key_differs_by_child_partnership_and_secret() -> None:
    key = child_key("Jamie Testchild", "2015-03-12", "Northshire", SECRET)
    assert child_key("Jamie Testchild", "2015-03-13", "Northshire", SECRET) != key
    assert child_key("Jamie Testchilds", "2015-03-12", "Northshire", SECRET) != key
    assert child_key("Jamie Testchild", "2015-03-12", "Westvale", SECRET) != key
    assert child_key("Jamie Testchild", "2015-03-12", "Northshire", b"other") != key


@pytest.mark.parametrize(
    ("name", "dob"), [(None, "2015-03-12"), ("Jamie", None), ("", "x"), ("J", "")]
)
def test_child_key_needs_name_and_dob(name: str | None, dob: str | None) -> None:
    assert child_key(name, dob, "Northshire", SECRET) is None


def test_child_key_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        child_key("Jamie Testchild", "2015-03-12", "Northshire", b"")
