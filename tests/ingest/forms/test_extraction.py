"""extract() as the tracker sees it: sources, forwards, nested files, cut files, one parse."""

from __future__ import annotations

import base64
import hashlib
import os
from email.feedparser import FeedParser
from email.message import Message

import pytest

from ingest.forms import CHILD_FIELDS, Extraction, FormLimits, extract
from ingest.parse import mime, parse
from tests.helpers import make_email
from tests.ingest.forms import generate as g
from tests.ingest.forms.corpus import P1, P2, appendix_c, html_table, lines_inline, outlook_html
from tests.ingest.forms.generate import Mail, build_mail
from tests.ingest.forms.reading import extract_raw

MB = 1024 * 1024


def sources(extraction: Extraction) -> dict[str, str]:
    return {name: value.source for name, value in extraction.fields.items()}


def test_sources_name_where_each_value_was_read() -> None:
    winmail = g.tnef(
        body="See attached.",
        attachments=[("form.pdf", g.pdf_text(["Requested action: Call me"]))],
    )
    raw = build_mail(
        Mail(
            sender="Jo Example <jo@school.example>",
            html=outlook_html(
                "<p>Concern: Not seen since May.</p>"
                + html_table([("Name of Child", "Jo Testchild"), ("DOB", "1/2/2015")])
            ),
            attachments=[("winmail.dat", "application/ms-tnef", winmail)],
        )
    )
    extraction = extract_raw(raw)
    assert sources(extraction) == {
        "child_name": "html-table",
        "child_dob": "html-table",
        "raiser_name": "header",
        "raiser_email": "header",
        "concern": "body",
        "requested_action": "attachment:winmail.dat/form.pdf",
        "form_date": "header",
    }
    assert [(r.filename, r.status) for r in extraction.attachments] == [
        ("winmail.dat", "read"),
        ("winmail.dat/form.pdf", "read"),
    ]
    assert {"child_name", "child_dob", "child_ref"} == CHILD_FIELDS


def test_forward_recovers_the_practitioner_not_the_forwarder() -> None:
    raw = build_mail(
        Mail(
            sender="Alex Managerperson <alex@school.example>",
            subject="FW: Escalation",
            text="Please log.\n\n"
            "Kind regards\nAlex Managerperson\nHeadteacher\nNorthshire Academy\n\n"
            "-----Original Message-----\n"
            f"From: Examplewood, Priya <{P1.email}>\nSent: 02 March 2026 16:01\n"
            "To: Managerperson, Alex\nSubject: Escalation\n\n"
            + lines_inline(appendix_c(P1)[3:5])
            + "\n\nKind regards\nPriya Examplewood\nSchool Nurse\n"
            "Westvale Community Health NHS Trust",
        )
    )
    extraction = extract_raw(raw)
    assert extraction.original_sender == ("Priya Examplewood", P1.email)
    assert extraction.original_date == "2026-03-02"
    values = {name: (v.value, v.source) for name, v in extraction.fields.items()}
    assert values["raiser_name"] == ("Priya Examplewood", "forwarded:1")
    assert values["raiser_email"] == (P1.email, "forwarded:1")
    assert values["raiser_agency"] == ("Westvale Community Health NHS Trust", "signature")
    assert values["form_date"] == ("2026-03-02", "forwarded:1")
    assert values["child_name"] == (P1.child, "forwarded:1")


def test_not_a_forward() -> None:
    extraction = extract_raw(build_mail(Mail(text="DOB: 01/01/2016")))
    assert (extraction.original_sender, extraction.original_date) == (None, None)


def test_nested_attached_message_inside_an_attached_message() -> None:
    inner = build_mail(Mail(sender=f"{P2.raiser} <{P2.email}>", text=lines_inline(appendix_c(P2))))
    middle = build_mail(
        Mail(sender="Mid Person <mid@x.example>", subject="FW: x", text="fyi", attachments=[
            ("inner.eml", "message/rfc822", inner)
        ])
    )  # fmt: skip
    outer = build_mail(
        Mail(
            subject="FW: x",
            text="see attached",
            attachments=[("middle.eml", "message/rfc822", middle)],
        )
    )
    extraction = extract_raw(outer)
    assert extraction.original_sender == (P2.raiser, P2.email)
    assert extraction.fields["child_name"].source == "attachment:middle.eml/inner.eml"
    assert [r.filename for r in extraction.attachments] == ["middle.eml", "middle.eml/inner.eml"]


def test_default_limits() -> None:
    assert FormLimits() == FormLimits(10 * 1024 * 1024, 40 * 1024 * 1024, 10.0)


def test_an_attachment_at_the_limit_is_read() -> None:
    form = g.pdf_text(["Name of Child: Jo Testchild"])
    raw = build_mail(Mail(text="x", attachments=[("form.pdf", "application/pdf", form)]))
    (report,) = extract_raw(raw, FormLimits(max_attachment_bytes=len(form))).attachments
    assert report.status == "read"
    assert report.sha256 == hashlib.sha256(form).hexdigest()
    assert base64.b64encode(form)  # the fixture really is base64 in the message


def test_the_message_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = build_mail(
        Mail(
            text=lines_inline(appendix_c(P1)[:5]),
            attachments=[("form.pdf", "application/pdf", g.pdf_text(["Requested action: Call"]))],
        )
    )
    calls: list[int] = []
    stdlib_parses: list[int] = []
    real_parse_bytes, real_close = mime.parse_bytes, FeedParser.close

    def parse_bytes(data: bytes, defects: list[str]) -> Message:
        calls.append(len(data))
        return real_parse_bytes(data, defects)

    def close(parser: FeedParser) -> Message:
        stdlib_parses.append(1)
        return real_close(parser)

    monkeypatch.setattr(mime, "parse_bytes", parse_bytes)
    monkeypatch.setattr(FeedParser, "close", close)
    extraction = extract_raw(raw)
    assert extraction.fields["child_name"].value == P1.child
    assert extraction.fields["requested_action"].value == "Call"
    assert (len(calls), len(stdlib_parses)) == (1, 1)


@pytest.mark.parametrize("parsed_with", [None, MB, 10 * MB], ids=["no-limit", "lower", "higher"])
def test_an_over_limit_file_is_reported_whatever_limit_the_message_was_parsed_with(
    parsed_with: int | None,
) -> None:
    data = os.urandom(3 * MB)
    raw = build_mail(Mail(text="x", attachments=[("form.pdf", "application/pdf", data)]))
    email = parse(raw, max_attachment_bytes=parsed_with)
    (report,) = extract(email, FormLimits(max_attachment_bytes=2 * MB)).attachments
    assert (report.status, report.size) == ("too-large", 3 * MB)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.reason == f"{3 * MB} bytes, over the {2 * MB}-byte limit; not read"


def test_a_file_cut_by_a_lower_parse_limit_is_reported_not_read() -> None:
    data = os.urandom(50_000)
    raw = build_mail(Mail(text="x", attachments=[("form.pdf", "application/pdf", data)]))
    (report,) = extract(parse(raw, max_attachment_bytes=10_000), FormLimits()).attachments
    assert (report.status, report.size) == ("too-large", 50_000)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.reason == "50000 bytes, over the 10000-byte limit; not read"


def test_a_message_without_its_mime_tree_is_read_from_its_text() -> None:
    email = make_email(text=lines_inline(appendix_c(P1)[:5]))
    assert email.mime is None
    extraction = extract(email)
    assert extraction.fields["child_name"].value == P1.child
    assert extraction.fields["raiser_email"].value == "p.shah@school.example"
    assert extraction.attachments == ()
