"""The shared form rules over rows of text and cells."""

from __future__ import annotations

from ingest.forms.html_form import html_to_rows
from ingest.forms.text_form import Row, read_rows, rows_from_text


def fields(rows: list[Row]) -> dict[str, str]:
    return {found.name: found.value for found in read_rows(rows)}


def test_inline_and_next_line_values() -> None:
    text = "Name of Child:\n\nJamie Testchild\n\nDOB: 12/03/2015\nAgency/Team:\nNorthshire Academy"
    assert fields(rows_from_text(text)) == {
        "child_name": "Jamie Testchild",
        "child_dob": "2015-03-12",
        "raiser_agency": "Northshire Academy",
    }


def test_narrative_runs_over_paragraphs_while_a_label_follows() -> None:
    text = (
        "Summary of concerns: First paragraph.\n\nSecond paragraph.\n"
        "Requested action: Call me.\n\nThanks for looking at this.\n\nKind regards\nJo"
    )
    assert fields(rows_from_text(text)) == {
        "concern": "First paragraph.\nSecond paragraph.",
        "requested_action": "Call me.",
    }


def test_only_the_first_date_is_the_form_date() -> None:
    text = (
        "Date: 01/03/2026\nResponse: Agreed\nDate: 05/03/2026\nResolution: Done\nDate: 09/03/2026"
    )
    assert fields(rows_from_text(text)) == {
        "form_date": "2026-03-01",
        "response": "Agreed",
        "resolution": "Done",
    }


def test_an_unfilled_last_label_takes_no_closing_sentence() -> None:
    text = "Name of Child: Jo Testchild\nResponse:\n\nPlease reply by Friday."
    assert fields(rows_from_text(text)) == {"child_name": "Jo Testchild"}


def test_instruction_lines_and_ignored_labels() -> None:
    text = "From: Jo Example\n(Practitioner)\nTo: Alex Manager\n(Manager)\nDOB: 01/01/2016"
    assert fields(rows_from_text(text)) == {"raiser_name": "Jo Example", "child_dob": "2016-01-01"}


def test_prose_is_not_a_form() -> None:
    text = "Response was slow and the child was not seen.\nI am concerned about her."
    assert fields(rows_from_text(text)) == {}


def test_table_layouts() -> None:
    pairs = Row(("Name of Child:", "Jo Testchild", "DOB", "01/02/2014"))
    label_then_value = [Row(("Summary of concerns", "")), Row(("Line one\nLine two",))]
    header = [Row(("Name of Child", "Agency")), Row(("Ann Testchild", "Westvale School"))]
    assert fields([pairs]) == {"child_name": "Jo Testchild", "child_dob": "2014-02-01"}
    assert fields(label_then_value) == {"concern": "Line one\nLine two"}
    assert fields(header) == {"child_name": "Ann Testchild", "raiser_agency": "Westvale School"}
    assert all(found.in_table for found in read_rows(header))


def test_html_rows_keep_cells_and_quote_levels() -> None:
    html = (
        "<style>td{}</style><p>Hello</p><table><tr><td><p>DOB</p></td><td>1/2/2015</td></tr>"
        "<tr><td colspan=2><table><tr><td>Inner</td><td>cell</td></tr></table></td></tr></table>"
        "<blockquote><p>quoted</p></blockquote>"
    )
    assert html_to_rows(html) == [
        Row(("Hello",)),
        Row(("DOB", "1/2/2015")),
        Row(("Inner", "cell")),
        Row(("> quoted",)),
    ]
