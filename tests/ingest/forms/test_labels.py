"""Label variants, value cleaning and UK dates."""

from __future__ import annotations

import pytest

from ingest.forms.dates import iso_date, search_date
from ingest.forms.labels import canonical_label, clean_value, normalise_category, split_name


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Name of Child", "child_name"),
        ("Child's name", "child_name"),
        ("Child’s Name:", "child_name"),
        ("Child name", "child_name"),
        ("NAME OF CHILD/YOUNG PERSON", "child_name"),
        ("DOB", "child_dob"),
        ("D.O.B.", "child_dob"),
        ("Date of birth", "child_dob"),
        ("Mosaic ID", "child_ref"),
        ("From (Practitioner)", "raiser_name"),
        ("Agency/Team", "raiser_agency"),
        ("Social Worker/Practitioner", "other_party"),
        ("Summary of Concern(s)", "concern"),
        ("Nature of the disagreement(s)", "concern"),
        ("Requested Action", "requested_action"),
        ("Response", "response"),
        ("Resolution of Issues (If not resolved, progress as per the flowchart)", "resolution"),
        ("Category", "category"),
        ("Date", "form_date"),
        ("NameOfChild", "child_name"),
        ("child_dob", "child_dob"),
        ("form1[0].DOB[0]", None),  # only the last part of a dotted name is a label
        ("3. Date of birth *", "child_dob"),
        ("To (Manager)", ""),
        ("Favourite colour", None),
    ],
)
def test_canonical_label(label: str, field: str | None) -> None:
    assert canonical_label(label) == field


@pytest.mark.parametrize(
    ("field", "raw", "clean"),
    [
        ("child_dob", "12/03/2015", "2015-03-12"),
        ("child_dob", "31/02/2015", None),
        ("child_dob", "unborn, due 03/2026", None),
        ("child_name", "  Jamie   Testchild ", "Jamie Testchild"),
        ("child_name", "Child B (name withheld)", None),
        ("child_name", "Baby", None),
        ("child_name", "N/A", None),
        ("child_name", "Click or tap here to enter text.", None),
        ("child_name", "Jamie 2", None),
        ("raiser_email", "Jo <Jo.Example@School.Example>", "jo.example@school.example"),
        ("raiser_name", "Testworker, Tom", "Tom Testworker"),
        ("category", "Information Sharing", "information_sharing_communication"),
        ("category", "Something else", None),
        ("concern", "line one\n\n   line two  ", "line one\nline two"),
        ("resolution", "(If not resolved, progress as per the flowchart) Agreed.", "Agreed."),
    ],
)
def test_clean_value(field: str, raw: str, clean: str | None) -> None:
    assert clean_value(field, raw) == clean


def test_categories() -> None:
    assert normalise_category("Thresholds (decision making)") == "thresholds"
    assert normalise_category("Decision-making") == "decision_making"
    assert normalise_category("Roles and responsibilities") == "roles_responsibilities"
    assert normalise_category("Other") == "other"


def test_split_name() -> None:
    assert split_name('"Doe, Jane (Northshire NHS)"') == "Jane Doe"
    assert split_name("Jane Doe") == "Jane Doe"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("12/03/2015", "2015-03-12"),
        ("12.3.15", "2015-03-12"),
        ("05-11-98", "1998-11-05"),
        ("12th March 2015", "2015-03-12"),
        ("3rd of Sept 2019", "2019-09-03"),
        ("March 12, 2015", "2015-03-12"),
        ("2015-03-12", "2015-03-12"),
        ("Tuesday, 3 March 2026 09:14", "2026-03-03"),
        ("1/2/2015 and 3/4/2016", None),
        ("soon", None),
    ],
)
def test_iso_date(text: str, iso: str | None) -> None:
    assert iso_date(text) == iso


def test_search_date_takes_the_first() -> None:
    assert search_date("On Tue, 3 Mar 2026 at 09:14, Jo <jo@x.example> wrote:") == "2026-03-03"
