"""extract() as the tracker sees it: sources, forwards, nested files, the oversize pass."""

from __future__ import annotations

import base64
import hashlib
import os

from ingest.forms import CHILD_FIELDS, Extraction, FormLimits, extract
from ingest.forms.oversize import elide_oversized
from ingest.parse.mime import parse_bytes
from tests.ingest.forms import generate as g
from tests.ingest.forms.corpus import P1, P2, appendix_c, html_table, lines_inline, outlook_html
from tests.ingest.forms.generate import Mail, build_mail


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
    extraction = extract(raw)
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
    extraction = extract(raw)
    assert extraction.original_sender == ("Priya Examplewood", P1.email)
    assert extraction.original_date == "2026-03-02"
    values = {name: (v.value, v.source) for name, v in extraction.fields.items()}
    assert values["raiser_name"] == ("Priya Examplewood", "forwarded:1")
    assert values["raiser_email"] == (P1.email, "forwarded:1")
    assert values["raiser_agency"] == ("Westvale Community Health NHS Trust", "signature")
    assert values["form_date"] == ("2026-03-02", "forwarded:1")
    assert values["child_name"] == (P1.child, "forwarded:1")


def test_not_a_forward() -> None:
    extraction = extract(build_mail(Mail(text="DOB: 01/01/2016")))
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
    extraction = extract(outer)
    assert extraction.original_sender == (P2.raiser, P2.email)
    assert extraction.fields["child_name"].source == "attachment:middle.eml/inner.eml"
    assert [r.filename for r in extraction.attachments] == ["middle.eml", "middle.eml/inner.eml"]


def test_default_limits() -> None:
    assert FormLimits() == FormLimits(10 * 1024 * 1024, 40 * 1024 * 1024, 10.0)


def test_oversize_pass_keeps_small_parts_and_crlf_messages() -> None:
    big = os.urandom(300_000)
    small = b"Name of Child: Jo Testchild\n" * 200
    raw = build_mail(
        Mail(
            text="x",
            attachments=[("big.pdf", "application/pdf", big), ("s.txt", "text/plain", small)],
        )
    ).replace(b"\n", b"\r\n")
    reduced, found = elide_oversized(raw, 100_000)
    assert len(reduced) < 20_000
    (elided,) = found.values()
    assert (elided.size, elided.sha256) == (len(big), hashlib.sha256(big).hexdigest())
    root = parse_bytes(reduced, [])
    parts = [p for p in root.walk() if p.get_filename()]
    assert parts[0].get_payload(decode=True) in found
    assert parts[1].get_payload(decode=True) == small
    assert elide_oversized(raw, 10_000_000) == (raw, {})


def test_an_attachment_at_the_limit_is_read() -> None:
    form = g.pdf_text(["Name of Child: Jo Testchild"])
    raw = build_mail(Mail(text="x", attachments=[("form.pdf", "application/pdf", form)]))
    (report,) = extract(raw, FormLimits(max_attachment_bytes=len(form))).attachments
    assert report.status == "read"
    assert report.sha256 == hashlib.sha256(form).hexdigest()
    assert base64.b64encode(form)  # the fixture really is base64 in the message
