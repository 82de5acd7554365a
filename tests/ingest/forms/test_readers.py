"""Each file reader on its own (in-process): Word, PDF, TNEF, Outlook .msg, text files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.forms.docx_form import read_docx
from ingest.forms.msg import read_msg
from ingest.forms.pdf_form import read_pdf
from ingest.forms.registry import find_reader
from ingest.forms.rtf import rtf_to_text
from ingest.forms.text_files import read_html_file, read_rtf_file, read_text_file
from ingest.forms.tnef import read_tnef
from ingest.forms.types import Blob, ReadResult
from tests.ingest.forms import generate as g

PAIRS = [
    ("Name of Child", "Jo Testchild"),
    ("DOB", "01/02/2015"),
    ("Summary of Concern(s)", "Line one\nLine two"),
    ("Agency/Team", "Northshire Academy"),
]
WANT = {
    "child_name": "Jo Testchild",
    "child_dob": "2015-02-01",
    "concern": "Line one\nLine two",
    "raiser_agency": "Northshire Academy",
}


def values(result: ReadResult) -> dict[str, str]:
    return {f.name: f.value for f in result.fields}


def blob(data: bytes, name: str = "file", content_type: str = "application/octet-stream") -> Blob:
    return Blob(name, content_type, data)


@pytest.mark.parametrize("layout", ["table", "grid", "paragraphs", "controls", "header-row"])
def test_docx_layouts(layout: str) -> None:
    result = read_docx(blob(g.docx_form(PAIRS, layout)))
    assert result.status == "read"
    assert values(result) == WANT


def test_docx_merged_cells_are_read_once_and_controls_win() -> None:
    result = read_docx(blob(g.docx_form(PAIRS, "controls")))
    assert {f.confidence for f in result.fields} == {0.95}
    # The unfilled "Response" control shows placeholder text: no response.
    assert "response" not in values(result)
    merged = read_docx(blob(g.docx_form(PAIRS, "table")))
    assert [f.name for f in merged.fields] == list(WANT)


def test_docx_without_a_form_and_broken_packages() -> None:
    assert read_docx(blob(g.docx_form([], "paragraphs"))).status == "no-form"
    assert read_docx(blob(b"PK\x03\x04 not a zip")).reason == "not a valid Word package"
    bomb = read_docx(blob(g.zip_bomb_docx()))
    assert bomb.status == "unreadable" and "zip bomb" in bomb.reason


def test_pdf_acroform_fields_tooltips_and_checkboxes() -> None:
    pdf = g.pdf_acroform(
        [
            ("NameOfChild", "Jo Testchild", None),
            ("Text2", "01/02/2015", "Date of birth"),
            ("Text3", "Line one\nLine two", "Summary of concerns"),
            ("Text4", "Northshire Academy – Pastoral", "Agency"),
            ("Text5", "", "Response"),
        ],
        checkboxes=[("Thresholds", False), ("Roles", True)],
        printed=["Name of Child:", "Response:"],
    )
    result = read_pdf(blob(pdf))
    assert result.status == "read"
    assert values(result) == {
        "child_name": "Jo Testchild",
        "child_dob": "2015-02-01",
        "concern": "Line one\nLine two",
        "raiser_agency": "Northshire Academy – Pastoral",
        "category": "roles_responsibilities",
    }


def test_pdf_text_layer() -> None:
    lines = ["Name of Child: Jo Testchild", "DOB: 01/02/2015", "Summary of concerns: £40 “owed”"]
    for columns in (False, True):
        result = read_pdf(blob(g.pdf_text(lines, columns=columns)))
        assert values(result) == {
            "child_name": "Jo Testchild",
            "child_dob": "2015-02-01",
            "concern": "£40 “owed”",
        }


def test_pdf_scanned_is_unreadable_not_guessed() -> None:
    result = read_pdf(blob(g.pdf_scanned()))
    assert (result.status, result.fields) == ("unreadable", ())
    assert "no text layer" in result.reason


def test_pdf_garbage() -> None:
    assert read_pdf(blob(b"%PDF-1.7 and nothing else")).status in {"unreadable", "no-form"}
    assert read_pdf(blob(g.pdf_text(["Just a letter."]))).status == "no-form"


def test_tnef_bodies_and_files() -> None:
    plain = read_tnef(
        blob(g.tnef(body="Name of Child: Jo Testchild", attachments=[("a.pdf", b"%PDF")]))
    )
    assert plain.status == "read"
    assert plain.body is not None and plain.body.text == "Name of Child: Jo Testchild"
    assert [(c.filename, c.data) for c in plain.children] == [("a.pdf", b"%PDF")]
    html = read_tnef(blob(g.tnef(html="<table><tr><td>DOB</td><td>1/1/2015</td></tr></table>")))
    assert html.body is not None and html.body.html is not None and "<td>DOB</td>" in html.body.html
    rtf = read_tnef(blob(g.tnef(rtf=rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}DOB: 1/1/2015\par}")))
    assert rtf.body is not None and rtf.body.text == "DOB: 1/1/2015"
    assert read_tnef(blob(b"\x78\x9f\x3e\x22\x00\x00")).status == "no-form"
    assert read_tnef(blob(b"not tnef")).status == "unreadable"


def test_msg_sender_date_body_and_files() -> None:
    msg = g.msg_file(
        "Jane Original",
        "jane.original@health.example",
        "Escalation",
        "Name of Child: Jo Testchild",
        datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        [("form.txt", b"DOB: 01/02/2015")],
    )
    result = read_msg(blob(msg))
    assert result.status == "read"
    assert result.body is not None
    assert (result.body.sender_name, result.body.sender_email, result.body.date) == (
        "Jane Original",
        "jane.original@health.example",
        "2026-03-02",
    )
    assert result.body.text == "Name of Child: Jo Testchild"
    assert [(c.filename, c.data) for c in result.children] == [("form.txt", b"DOB: 01/02/2015")]
    assert (
        read_msg(blob(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)).status == "unreadable"
    )


def test_text_html_and_rtf_files() -> None:
    assert values(read_text_file(blob("DOB: 01/02/2015\n".encode("cp1252")))) == {
        "child_dob": "2015-02-01"
    }
    table = b"<table><tr><td>Name of Child</td><td>Jo Testchild</td></tr></table>"
    assert values(read_html_file(blob(table))) == {"child_name": "Jo Testchild"}
    assert values(read_rtf_file(blob(rb"{\rtf1 Name of Child:\tab Jo Testchild\par}"))) == {
        "child_name": "Jo Testchild"
    }


def test_rtf_text() -> None:
    rtf = (
        rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\*\generator x;}"
        rb"Cost \'a3300 \u8220?quoted\u8221?\par\trowd Agency\cell Northshire\cell\row}"
    )
    assert rtf_to_text(rtf) == "Cost £300 “quoted”\nAgency\tNorthshire"


@pytest.mark.parametrize(
    ("name", "content_type", "data", "reader"),
    [
        ("form.docx", "application/pdf", g.pdf_text(["x"]), "pdf"),
        ("scan.bin", "application/octet-stream", g.docx_form([]), "docx"),
        ("x.dat", "application/octet-stream", g.tnef(body="x"), "tnef"),
        ("a.msg", "application/octet-stream", None, "msg"),
        ("notes.txt", "application/octet-stream", b"hello", "text"),
        ("page", "text/html", b"<p>hi</p>", "html"),
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff", None),
    ],
)
def test_registry_matches_content_first(
    name: str, content_type: str, data: bytes | None, reader: str | None
) -> None:
    if data is None:
        data = g.msg_file("A", "a@x.example", "s", "b", datetime(2026, 1, 1, tzinfo=UTC))
    entry = find_reader(Blob(name, content_type, data))
    assert (entry.name if entry else None) == reader
