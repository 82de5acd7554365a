"""extract() under hostile input: size, time, macros, nesting, garbage, logs."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import tracemalloc
from typing import Any

import pytest

from ingest.forms import CHILD_FIELDS, FormLimits, extract, registry
from ingest.forms import extraction as extract_module
from ingest.forms.registry import ReaderEntry
from ingest.parse import parse
from tests.helpers import make_email
from tests.ingest.forms import generate as g
from tests.ingest.forms import hostile
from tests.ingest.forms.corpus import P1, appendix_c, lines_inline
from tests.ingest.forms.generate import Mail, build_mail
from tests.ingest.forms.reading import extract_raw

MB = 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_twenty_megabytes_over_a_ten_megabyte_limit_is_hashed_not_read() -> None:
    data = os.urandom(20 * MB)
    raw = build_mail(
        Mail(text="Form attached.", attachments=[("form.pdf", "application/pdf", data)])
    )
    expected_sha = hashlib.sha256(data).hexdigest()
    del data
    tracemalloc.start()
    try:
        started = time.monotonic()
        extraction = extract_raw(raw, FormLimits(max_attachment_bytes=10 * MB))
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (report,) = extraction.attachments
    assert (report.filename, report.status, report.size) == ("form.pdf", "too-large", 20 * MB)
    assert report.sha256 == expected_sha
    assert report.reason == f"{20 * MB} bytes, over the {10 * MB}-byte limit; not read"
    # Never a decoded copy of the attachment, nor the stdlib parser's lines of it.
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"
    assert elapsed < 10


def test_an_over_limit_program_is_still_flagged_as_blocked() -> None:
    data = b"MZ\x90\x00" + os.urandom(3 * MB)
    raw = build_mail(Mail(text="x", attachments=[("form.pdf", "application/pdf", data)]))
    (report,) = extract_raw(raw, FormLimits(max_attachment_bytes=MB)).attachments
    assert report.status == "blocked"
    assert report.sha256 == hashlib.sha256(data).hexdigest()


def test_the_total_allowance_stops_reading_further_files() -> None:
    form = g.pdf_text(["Name of Child: Jamie Testchild"])
    raw = build_mail(
        Mail(
            text="x",
            attachments=[(f"form{i}.pdf", "application/pdf", form) for i in range(3)],
        )
    )
    limits = FormLimits(max_total_bytes=2 * len(form) + 10)
    statuses = [r.status for r in extract_raw(raw, limits).attachments]
    assert statuses == ["read", "read", "too-large"]


def test_a_docm_is_blocked_and_never_handed_to_a_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    # The .docm holds a complete form: had any reader opened it, fields would appear.
    calls: list[Any] = []
    real = extract_module.run_isolated

    def spy(reader: Any, blob: Any, timeout: float, memory: int) -> Any:
        calls.append(blob.filename)
        return real(reader, blob, timeout, memory)

    monkeypatch.setattr(extract_module, "run_isolated", spy)
    docm = g.docx_form(appendix_c(P1), macros=True)
    raw = build_mail(
        Mail(
            text="Form attached.",
            attachments=[
                ("form.docm", "application/vnd.ms-word.document.macroEnabled.12", docm),
                ("renamed.docx", DOCX, docm),
                ("clean.docx", DOCX, g.docx_form([("Agency", "Northshire Academy")])),
            ],
        )
    )
    extraction = extract_raw(raw)
    assert [(r.filename, r.status) for r in extraction.attachments] == [
        ("form.docm", "blocked"),
        ("renamed.docx", "blocked"),
        ("clean.docx", "read"),
    ]
    assert calls == ["clean.docx"]
    assert not CHILD_FIELDS & extraction.fields.keys()
    assert extraction.attachments[1].reason == (
        "Office package containing macros (vbaProject.bin), not opened"
    )


def test_a_hanging_reader_is_killed_and_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    hang = ReaderEntry("hang", hostile.hang, frozenset({".hang"}), frozenset())
    monkeypatch.setattr(registry, "READERS", [hang, *registry.READERS])
    raw = build_mail(
        Mail(
            text=lines_inline(appendix_c(P1)[:5]),
            attachments=[
                ("stuck.hang", "application/octet-stream", b"anything"),
                ("form.pdf", "application/pdf", g.pdf_text(["Requested action: Call me"])),
            ],
        )
    )
    started = time.monotonic()
    extraction = extract_raw(raw, FormLimits(parse_timeout_seconds=1.0))
    assert time.monotonic() - started < 6
    assert [(r.filename, r.status) for r in extraction.attachments] == [
        ("stuck.hang", "timeout"),
        ("form.pdf", "read"),
    ]
    assert extraction.fields["child_name"].value == P1.child
    assert extraction.fields["requested_action"].value == "Call me"


def test_the_message_time_allowance_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    hang = ReaderEntry("hang", hostile.hang, frozenset({".hang"}), frozenset())
    monkeypatch.setattr(registry, "READERS", [hang, *registry.READERS])
    raw = build_mail(
        Mail(
            text="x",
            attachments=[(f"{i}.hang", "application/octet-stream", b"x") for i in range(8)],
        )
    )
    started = time.monotonic()
    extraction = extract_raw(raw, FormLimits(parse_timeout_seconds=0.5))
    assert time.monotonic() - started < 5
    assert [r.status for r in extraction.attachments] == ["timeout"] * 8
    assert "time allowance" in extraction.attachments[-1].reason


def _nested(depth: int) -> bytes:
    head = b"From: a@b.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    body = b"Content-Type: text/plain\r\n\r\nName of Child: Deep Testchild\r\n"
    for level in range(depth):
        boundary = b"b%d" % level
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b"\r\n"
            + body
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    return head + body


def _with(name: str, content_type: str, data: bytes) -> bytes:
    return build_mail(Mail(text="x", attachments=[(name, content_type, data)]))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 1000,
        os.urandom(5000),
        b"Subject: no body",
        _nested(2000),
        _with("f.docx", DOCX, b"PK\x03\x04broken"),
        _with("f.pdf", "application/pdf", b"%PDF-1.7\n1 0 obj <<"),
        _with("winmail.dat", "application/ms-tnef", b"\x78\x9f\x3e\x22junk"),
        _with("m.msg", "application/vnd.ms-outlook", b"\xd0\xcf\x11\xe0junk"),
        _with("bomb.docx", DOCX, g.zip_bomb_docx()),
        _with("m.eml", "message/rfc822", b"Subject: x\n\nName of Child: Inner Testchild\n"),
    ],
    ids=[
        "empty",
        "nul",
        "random",
        "headers-only",
        "deep-nesting",
        "broken-docx",
        "broken-pdf",
        "broken-tnef",
        "broken-msg",
        "zip-bomb",
        "tiny-rfc822",
    ],
)
def test_never_raises(raw: bytes) -> None:
    if raw.strip():
        extraction = extract_raw(raw)
    else:
        # parse() refuses blank bytes; a message without its MIME tree is still read.
        extraction = extract(make_email(text=raw.decode("latin-1")))
    for report in extraction.attachments:
        assert report.status in {"read", "no-form", "unreadable", "too-large", "blocked", "timeout"}
        assert len(report.sha256) == 64


def test_the_zip_bomb_is_refused_before_unpacking() -> None:
    raw = build_mail(Mail(text="x", attachments=[("bomb.docx", DOCX, g.zip_bomb_docx())]))
    (report,) = extract_raw(raw).attachments
    assert report.status == "unreadable"
    assert "zip bomb" in report.reason


def test_logs_carry_no_field_values(caplog: pytest.LogCaptureFixture) -> None:
    raw = build_mail(
        Mail(
            text=lines_inline(appendix_c(P1)),
            attachments=[
                ("form.docx", DOCX, g.docx_form(appendix_c(P1))),
                ("broken.pdf", "application/pdf", b"%PDF-1.4 " + P1.child.encode()),
            ],
        )
    )
    with caplog.at_level(logging.DEBUG):
        extraction = extract_raw(raw)
    assert extraction.fields["child_name"].value == P1.child
    assert caplog.records, "extract logs its counts"
    for forbidden in (P1.child, "Testchild", "2015-03-12", "12/03/2015", P1.raiser, "bruising"):
        assert forbidden not in caplog.text
    for report in extraction.attachments:
        assert P1.child not in report.reason
    assert P1.child not in repr(extraction)


@pytest.mark.parametrize(
    "text",
    ["From: x\nTo: y\n" * 150_000, "Summary of concerns: blah\n\n" * 100_000, ":" * 2_000_000],
    ids=["header-like-lines", "label-lines", "one-long-line"],
)
def test_a_hostile_body_is_read_in_bounded_time(text: str) -> None:
    # Only the forms reader is timed: parsing is paid once, for every stage.
    email = parse(build_mail(Mail(text=text)))
    started = time.monotonic()
    extract(email)
    assert time.monotonic() - started < 15
