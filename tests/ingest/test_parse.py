"""parse(): the fields later stages rely on, from realistic and from broken messages."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.errors import ParseError
from ingest.parse import parse
from ingest.parse.types import Address, ParsedEmail

DATA = Path(__file__).parents[1] / "data" / "emails"
PDF_SHA256 = "1e209f7c27ea1b109362cb84c70bc5515a94d3824d33a6e01ed333d88c6cbec9"
PNG_SHA256 = "93497ee4808a75d08c0cef2583b1a78511253a7bf06a909fb489a0a32d9e3456"


def load(name: str) -> ParsedEmail:
    return parse((DATA / name).read_bytes())


# ---------------------------------------------------------------------------
# Realistic messages


def test_outlook_alternative_with_pdf() -> None:
    email = load("outlook_alternative_pdf.eml")
    assert email.message_id == "LO2P265MB0001ABCD1234@LO2P265MB0001.GBRP265.PROD.OUTLOOK.COM"
    assert email.subject == "Escalation – threshold decision for Child B"
    assert email.from_ == Address("Sharma, Priya", "priya.sharma@solihull.gov.uk")
    assert email.to == (Address("SSCP Escalations", "escalations@sscp.example.org.uk"),)
    assert email.cc == (
        Address("O'Neill, Tom", "tom.oneill@example.nhs.uk"),
        Address("Zülal Kara", "zulal.kara@example.police.uk"),
    )
    assert email.delivered_to == ("escalations@sscp.example.org.uk",)
    assert email.return_path == "priya.sharma@solihull.gov.uk"
    assert email.date == datetime(2026, 3, 3, 9, 13, 55, tzinfo=UTC)
    assert email.content_type == "multipart/mixed"
    assert email.defects == ()
    # The text/plain alternative is used; the HTML one is never converted.
    assert email.text == (
        "Dear colleagues,\n\n"
        "I wish to escalate the threshold decision made on 27 February for Child B "
        "(DOB withheld). The referral form is attached.\n\n"
        "Kind regards\nPriya Sharma\nDesignated Safeguarding Lead"
    )
    assert "HTML VERSION" not in email.text
    assert email.new_text == email.text
    [pdf] = email.attachments
    assert (pdf.filename, pdf.content_type, pdf.size, pdf.inline) == (
        "Referral form.pdf",
        "application/pdf",
        2090,
        False,
    )
    assert pdf.sha256 == PDF_SHA256
    assert hashlib.sha256(pdf.data).hexdigest() == PDF_SHA256


def test_headers_are_ordered_lowercased_decoded_and_unfolded() -> None:
    email = load("outlook_alternative_pdf.eml")
    names = [name for name, _ in email.headers]
    assert names[:5] == [
        "received",
        "authentication-results",
        "return-path",
        "delivered-to",
        "x-original-to",
    ]
    assert email.header("Authentication-Results") == (
        "mx1.sscp.example.org.uk; spf=pass smtp.mailfrom=solihull.gov.uk; "
        "dkim=pass header.d=solihull.gov.uk; dmarc=pass action=none header.from=solihull.gov.uk"
    )
    assert email.header("subject") == "Escalation – threshold decision for Child B"
    assert email.header("content-type") == 'multipart/mixed;\tboundary="_004_LO2P265MB0001_"'


def test_outlook_html_only_reply() -> None:
    email = load("outlook_html_only.eml")
    assert email.content_type == "text/html"
    assert email.in_reply_to == ("AM6PR02MB5555@AM6PR02MB5555.eurprd02.prod.outlook.com",)
    assert email.references == (
        "AM6PR02MB4444@AM6PR02MB4444.eurprd02.prod.outlook.com",
        "AM6PR02MB5555@AM6PR02MB5555.eurprd02.prod.outlook.com",
    )
    assert email.new_text == (
        "Hello,\n\n"
        "We do not agree with the decision to step down the plan for Child C & we would "
        "like a professionals’ meeting.\n"
        "·   School attendance has fallen to 61%\n\n"
        "Daniel"
    )
    assert email.text.startswith(email.new_text + "\n\nFrom: Escalations <escalations@")
    assert "Subject: [SSCP-2026-0042] Escalation received" in email.text
    for leak in ("<o:p>", "o:p", "MsoNormal", "font-family", "mso", "shapedefaults", "&nbsp;"):
        assert leak not in email.text


def test_windows_1252_labelled_iso_8859_1() -> None:
    email = load("windows1252_pound.eml")
    assert email.text == (
        "The school was told “there is no budget” for the £240 taxi – that’s not acceptable."
    )
    assert email.defects == ()


def test_reply_with_bare_in_reply_to_and_junk_references() -> None:
    email = load("reply_quoting_ack.eml")
    assert email.message_id == "CAF=abc123+Def@mail.example.nhs.uk"
    assert email.in_reply_to == ("sscp-2026-0042.ack.1@sscp.example.org.uk",)
    assert email.references == (
        "sscp-2026-0040.ack.1@sscp.example.org.uk",
        "sscp-2026-0042.ack.1@sscp.example.org.uk",
    )
    assert email.new_text == "Thanks – the health visitor notes are now on the system.\nTom"
    assert "> Thank you. Your escalation has been logged as SSCP-2026-0042." in email.text


def test_related_html_inline_image_and_rfc2231_filename() -> None:
    email = load("related_inline_rfc2231.eml")
    assert email.from_ == Address("Renée Dubois", "renee.dubois@example.police.uk")
    # Adjacent encoded words are joined without the blank between them.
    assert email.subject == "FW: Referral form – Child E"
    assert email.date == datetime(2026, 3, 6, 8, 45, tzinfo=timezone(timedelta(hours=1)))
    assert email.text == "Please see the form for Child E."
    image, pdf = email.attachments
    assert (image.filename, image.content_type, image.size, image.inline) == (
        None,
        "image/png",
        48,
        True,
    )
    assert image.sha256 == PNG_SHA256
    assert (pdf.filename, pdf.inline, pdf.sha256) == (
        "Referral form – Child E.pdf",
        False,
        PDF_SHA256,
    )


def test_exchange_ndr_parts() -> None:
    email = load("exchange_ndr.eml")
    assert email.content_type == "multipart/report"
    assert email.return_path == ""
    assert email.text.startswith("Delivery has failed to these recipients or groups:")
    assert [(a.content_type, a.filename) for a in email.attachments] == [
        ("message/delivery-status", None),
        ("text/rfc822-headers", None),
    ]


# ---------------------------------------------------------------------------
# Broken input


def test_empty_and_blank_input_raise_parse_error() -> None:
    for data in (b"", b" ", b"\r\n\r\n", b"\t \n"):
        with pytest.raises(ParseError):
            parse(data)


def test_broken_mime_is_reported_not_raised() -> None:
    email = load("broken_mime.eml")
    assert email.subject == "Broken éscalation"
    assert email.date is None
    assert email.message_id == "no-brackets-123@example.org.uk"
    assert email.text == "Café meeting notes for Child F."
    [blob] = email.attachments
    assert (blob.filename, blob.data) == ("notes.bin", b"Hello world")
    assert email.defects == (
        "message: 8-bit bytes in header 'subject' read as windows-1252",
        "message: CloseBoundaryNotFoundDefect",
        "body text/plain: charset 'x-user-defined' guessed",
        "application/octet-stream: InvalidBase64CharactersDefect",
        "application/octet-stream: InvalidBase64PaddingDefect",
    )


def test_headerless_body() -> None:
    email = parse(b"Just some text\nwith no headers at all.\n")
    assert email.from_ is None
    assert email.headers == ()
    assert email.text == "Just some text\nwith no headers at all."
    assert email.defects == ("message: MissingHeaderBodySeparatorDefect",)


def test_bare_cr_line_endings() -> None:
    data = b"From: a@example.org\rSubject: Old Mac\r\rLine one\rLine two\r"
    email = parse(data)
    assert email.subject == "Old Mac"
    assert email.from_ == Address("", "a@example.org")
    assert email.text == "Line one\nLine two"
    assert email.defects == ("bare CR line endings",)


def test_mbox_from_line_is_skipped() -> None:
    data = b"From MAILER-DAEMON Tue Mar  3 10:00:00 2026\nFrom: b@example.org\nSubject: x\n\nbody\n"
    email = parse(data)
    assert email.from_ == Address("", "b@example.org")
    assert email.defects == ("message: mbox 'From ' line before the headers skipped",)


def test_multipart_without_boundary_keeps_the_body_as_text() -> None:
    data = b"From: c@example.org\nContent-Type: multipart/mixed\n\nplain words\n"
    email = parse(data)
    assert email.text == "plain words"
    assert email.defects == (
        "message: NoBoundaryInMultipartDefect",
        "message: MultipartInvariantViolationDefect",
    )


def test_missing_start_boundary() -> None:
    data = b'From: c@example.org\nContent-Type: multipart/mixed; boundary="zz"\n\nno parts here\n'
    email = parse(data)
    assert email.text == "no parts here"
    assert email.defects == (
        "message: StartBoundaryNotFoundDefect",
        "message: MultipartInvariantViolationDefect",
    )


def test_first_header_line_continuation_and_utf8_header() -> None:
    data = " folded junk\nFrom: Zoë <zoe@example.org>\nSubject: Café\n\nhi\n".encode()
    email = parse(data)
    assert email.from_ == Address("Zoë", "zoe@example.org")
    assert email.subject == "Café"
    assert email.defects == ("message: FirstHeaderLineIsContinuationDefect",)


def test_huge_header_is_tolerated() -> None:
    data = b"From: d@example.org\nX-Junk: " + b"a" * 300_000 + b"\nSubject: big\n\nbody\n"
    email = parse(data)
    assert email.subject == "big"
    assert email.header("x-junk") == "a" * 300_000


def test_addresses_groups_and_undisclosed_recipients() -> None:
    data = (
        b"From: =?utf-8?q?J=C3=B6rg?= <JOERG@Example.ORG>\n"
        b"To: undisclosed-recipients:;\n"
        b'Cc: Panel: "Smith, Ann" <ann@example.org>, bob@example.org;, broken <<>>\n'
        b"Reply-To: <Reply@Example.org>\n\nx\n"
    )
    email = parse(data)
    assert email.from_ == Address("Jörg", "joerg@example.org")
    assert email.to == ()
    assert email.cc == (Address("Smith, Ann", "ann@example.org"), Address("", "bob@example.org"))
    assert email.reply_to == (Address("", "reply@example.org"),)


def test_message_id_edge_cases() -> None:
    data = (
        b"From: e@example.org\n"
        b"Message-ID: <Mixed.Case$ID@Example.org> (added by relay)\n"
        b"In-Reply-To: <one@example.org> <two@example.org>\n"
        b"References: <>, <one@example.org> <one@example.org>\n\nx\n"
    )
    email = parse(data)
    assert email.message_id == "Mixed.Case$ID@Example.org"
    assert email.in_reply_to == ("one@example.org", "two@example.org")
    assert email.references == ("one@example.org",)


def test_date_without_zone_is_utc_and_garbage_is_none() -> None:
    email = parse(b"From: f@example.org\nDate: Tue, 3 Mar 2026 10:00:00 -0000\n\nx\n")
    assert email.date == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert parse(b"From: f@example.org\nDate: yesterday\n\nx\n").date is None


def test_return_path_absent_null_and_present() -> None:
    assert parse(b"From: g@example.org\n\nx\n").return_path is None
    assert parse(b"Return-Path: <>\nFrom: g@example.org\n\nx\n").return_path == ""
    email = parse(b"Return-Path: <Bounce+X@Example.org>\nFrom: g@example.org\n\nx\n")
    assert email.return_path == "bounce+x@example.org"


def test_content_hash_ignores_trace_headers_and_line_endings() -> None:
    body = (
        "From: h@example.org\nSubject: RE: Same\nDate: Tue, 3 Mar 2026 10:00:00 +0000\n"
        "Message-ID: <same@example.org>\n\nThe same  words.\n"
    )
    one = parse(("Received: from a by b\nDelivered-To: x@example.org\n" + body).encode())
    two = parse(
        ("X-Spam: no\nAuthentication-Results: mx; dmarc=pass\n" + body)
        .replace("\n", "\r\n")
        .encode()
    )
    assert one.content_hash == two.content_hash
    three = parse(body.replace("same  words", "other words").encode())
    assert three.content_hash != one.content_hash


def test_uuencoded_attachment() -> None:
    data = (
        b"From: i@example.org\nContent-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: x-uuencode\n\n"
        b"begin 644 hello.txt\n,2&5L;&\\@=V]R;&0*\n`\nend\n"
    )
    [attachment] = parse(data).attachments
    assert attachment.data == b"Hello world\n"


def nested(levels: int) -> bytes:
    parts = [b"From: j@example.org\nSubject: deep\n"]
    for level in range(levels):
        parts.append(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (level, level))
    parts.append(b"Content-Type: text/plain\n\ndeep\n")
    return b"".join(parts)


def test_deep_nesting_is_read_to_the_end() -> None:
    email = parse(nested(40))
    assert (email.subject, email.text) == ("deep", "deep")


def test_hostile_nesting_keeps_headers_and_reads_the_body_as_text() -> None:
    email = parse(nested(5000))
    assert email.from_ == Address("", "j@example.org")
    assert email.subject == "deep"
    assert email.text.endswith("Content-Type: text/plain\n\ndeep")
    assert "message: MIME nesting too deep, body read as plain text" in email.defects
    assert not any(d.startswith("parser failure") for d in email.defects)


def test_unindented_parameter_line_continues_the_header() -> None:
    data = (
        b"From: k@example.org\nContent-Type: multipart/alternative;\n"
        b'boundary="alt"\n\n--alt\nContent-Type: text/plain\n\nvisible\n--alt--\n'
    )
    email = parse(data)
    assert email.content_type == "multipart/alternative"
    assert email.text == "visible"
    assert email.defects == ("1 unindented parameter line(s) joined to their header",)


def test_inline_text_with_a_filename_is_body_text() -> None:
    data = (
        b'From: l@example.org\nContent-Type: multipart/mixed; boundary="m"\n\n'
        b"--m\nContent-Type: text/plain\n\nfirst\n"
        b"--m\nContent-Type: text/plain\n"
        b"Content-Disposition: inline; filename=notes.txt\n\nsecond\n"
        b"--m\nContent-Type: text/plain; name=log.txt\n\nthird\n--m--\n"
    )
    email = parse(data)
    assert email.text == "first\n\nsecond"
    assert [(a.filename, a.data) for a in email.attachments] == [("log.txt", b"third")]


def test_base64_length_and_multipart_encoding_defects() -> None:
    data = (
        b'From: m@example.org\nContent-Type: multipart/mixed; boundary="m"\n'
        b"Content-Transfer-Encoding: base64\n\n"
        b"--m\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        b"QUJDRA\n--m--\n"
    )
    email = parse(data)
    assert email.defects == (
        "message: InvalidMultipartContentTransferEncodingDefect",
        "application/octet-stream: InvalidBase64PaddingDefect",
    )
    assert email.attachments[0].data == b"ABCD"
    odd = data.replace(b"QUJDRA", b"QUJDR")
    assert parse(odd).defects[1] == "application/octet-stream: InvalidBase64LengthDefect"


def test_mutated_messages_never_fail() -> None:
    """Byte-level damage (truncation, deletion, duplication, flipped bytes) is always survivable."""
    rng = random.Random(20260303)
    samples = [p.read_bytes() for p in sorted(DATA.glob("*.eml"))]
    for _ in range(600):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 6)):
            if not data:
                break
            at = rng.randrange(len(data))
            action = rng.randrange(4)
            if action == 0:
                del data[at : at + rng.randint(1, 200)]
            elif action == 1:
                data[at:at] = data[rng.randrange(len(data)) :][: rng.randint(1, 300)]
            elif action == 2:
                data[at] = rng.randrange(256)
            else:
                data = data[:at]
        try:
            email = parse(bytes(data))
        except ParseError:
            assert not bytes(data).strip()
            continue
        assert not any(d.startswith("parser failure") for d in email.defects), email.defects


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ('attachment; filename="a \\"quoted\\" name.pdf"; size=30', 'a "quoted" name.pdf'),
        ("attachment; filename=my file.pdf", "my file.pdf"),
        ("attachment; filename*=iso-8859-1'en'caf%E9.txt; filename=fallback.txt", "café.txt"),
        ("attachment; filename*1=\" two.pdf\"; filename*0*=utf-8''part%20one", "part one two.pdf"),
        ('attachment; filename="unterminated', "unterminated"),
        ('attachment; filename="=?utf-8?q?Caf=C3=A9?=.pdf"', "Café.pdf"),
    ],
)
def test_attachment_filenames(disposition: str, filename: str) -> None:
    data = (
        b"From: n@example.org\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: " + disposition.encode() + b"\n\nxyz\n"
    )
    [attachment] = parse(data).attachments
    assert attachment.filename == filename


def test_content_type_and_boundary_parameters() -> None:
    html = parse(b'From: o@example.org\nContent-Type: Text/HTML; Charset="UTF-8"\n\n<p>Hi</p>\n')
    assert (html.content_type, html.text) == ("text/html", "Hi")
    data = (
        b'From: o@example.org\nContent-Type: multipart/mixed; boundary="=?x?q?y?="\n\n'
        b"--=?x?q?y?=\nContent-Type: text/plain\n\ninside\n--=?x?q?y?=--\n"
    )
    email = parse(data)
    assert (email.content_type, email.text, email.defects) == ("multipart/mixed", "inside", ())
