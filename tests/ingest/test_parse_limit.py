"""parse(data, max_attachment_bytes=...): big attachments cut before parsing, nothing else changes.

Stored mail is deduplicated by ``content_hash``, so the hash (and every other
field) must not depend on whether or with which limit a message was parsed;
only the data of a cut attachment is missing. That the stdlib parser never
sees a 20 MB attachment over a 10 MB limit is pinned, with the forms reader,
in ``tests/ingest/forms/test_extract_limits.py``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from ingest.errors import ParseError
from ingest.parse import parse
from ingest.parse.mime import parse_bytes
from ingest.parse.oversize import elide_oversized
from ingest.parse.types import ParsedEmail
from tests.ingest.forms.generate import Mail, build_mail

CORPUS = Path(__file__).parents[3] / "shared" / "corpus" / "realworld"
MB = 1024 * 1024

# content_hash of these corpus messages, taken before parse() learnt limits.
PINNED = {
    # two PDFs, one of 1 MB, CRLF
    "zammad/test/data/mail/mail082.box": (
        "8f346aa7dbe39f037d2e0af5d13950d6cca13acb374a3a42ccf62dabb495dda9"
    ),
    # an attached message holding a big image, CRLF
    "zammad/test/data/mail/mail069.box": (
        "5a9cab1470fcbfaf60f82564bae995777058bec821331bcfccf39b5fa06e6435"
    ),
    # attached messages within attached messages, LF
    "flanker/tests/fixtures/messages/torture.eml": (
        "ef7d2314983643691f60e31e6f994ec5269fc3fdfc65cd35ec9529d527206dbf"
    ),
    # Word, PDF, ODT, PNG and an attached message
    "php-mime-mail-parser/tests/mails/issue274.eml": (
        "3ecf0873a848aa67a03d8b0e120e8449dd2dd77c8aa8fff5032a2ddefa5a3450"
    ),
    # a 1 MB file beside two images
    "mail-parser/tests/mails/mail_test_2": (
        "5463607187963a0f098fa66b55c4294afc692779fc6828b0c5a1c1c436390d18"
    ),
    # a PDF with bad base64 padding (a defect the stdlib reports while decoding)
    "zammad/test/data/mail/mail028.box": (
        "a1991f068719ca4f2c591355ff4d55df60f701619da0283eb6e375b1c81d0c2c"
    ),
}


def _corpus() -> Path:
    if not CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real-world corpus not found at {CORPUS}")
        pytest.skip(f"real-world corpus not found at {CORPUS}")
    return CORPUS


def _same_but_data(cut: ParsedEmail, whole: ParsedEmail) -> None:
    """Every field equal (attachments compare without their data), and the same defects."""
    assert cut == whole
    assert (cut.headers, cut.text, cut.new_text) == (whole.headers, whole.text, whole.new_text)
    assert cut.defects == whole.defects
    for a, b in zip(cut.attachments, whole.attachments, strict=True):
        assert (a.filename, a.content_type, a.size, a.sha256, a.inline) == (
            b.filename,
            b.content_type,
            b.size,
            b.sha256,
            b.inline,
        )
        assert a.data in (b.data, b"")


@pytest.mark.parametrize("name", sorted(PINNED))
@pytest.mark.parametrize("limit", [None, 0, 100_000, 10 * MB])
def test_content_hash_is_pinned_with_and_without_a_limit(name: str, limit: int | None) -> None:
    data = (_corpus() / name).read_bytes()
    email = parse(data, max_attachment_bytes=limit)
    assert email.content_hash == PINNED[name]
    _same_but_data(email, parse(data))


@pytest.mark.slow
def test_the_whole_corpus_reads_the_same_with_everything_cut() -> None:
    """Every corpus message with a base64 run: cut at limit 0, it parses as without a limit."""
    compared = 0
    for path in sorted(p for p in _corpus().rglob("*") if p.is_file()):
        data = path.read_bytes()
        if not elide_oversized(data, 0)[1]:
            continue
        try:
            whole = parse(data)
        except ParseError:
            continue
        _same_but_data(parse(data, max_attachment_bytes=0), whole)
        compared += 1
    assert compared >= 100


def _with_big_parts(crlf: bool) -> bytes:
    """An attached PDF, an attached message holding a PDF, and a base64 body, all of 300 kB."""
    big = os.urandom(300_000)
    inner = build_mail(Mail(text="inner", attachments=[("in.pdf", "application/pdf", big)]))
    raw = build_mail(
        Mail(
            text="x",
            attachments=[
                ("big.pdf", "application/pdf", big),
                ("fwd.eml", "message/rfc822", inner),
                ("s.txt", "text/plain", b"Name of Child: Jo Testchild\n" * 200),
            ],
        )
    )
    body = base64.encodebytes(("Concern: " + "é" * 150_000).encode())
    raw = raw.replace(
        b"\n\nx\n",
        b"\n\n--extra\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: base64\n\n" + body + b"--extra--\n",
        1,
    ).replace(
        b'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 7bit',
        b'Content-Type: multipart/mixed; boundary="extra"',
        1,
    )
    return raw.replace(b"\n", b"\r\n") if crlf else raw


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_cut_attachments_keep_their_size_and_hash_and_nothing_else_changes(crlf: bool) -> None:
    raw = _with_big_parts(crlf)
    whole = parse(raw)
    cut = parse(raw, max_attachment_bytes=100_000)
    _same_but_data(cut, whole)
    assert "é" * 100 in cut.text  # the big body was put back, not cut
    assert [(a.filename, a.size, bool(a.data)) for a in cut.attachments] == [
        ("big.pdf", 300_000, False),
        ("fwd.eml", whole.attachments[1].size, False),
        ("s.txt", 5600, True),
    ]
    assert cut.mime is not None and cut.mime.limit == 100_000
    # The PDF, the PDF inside the attached message, and the body (put back after parsing).
    assert len(cut.mime.elided) == 3
    assert whole.mime is not None and whole.mime.limit is None and not whole.mime.elided


def test_the_same_bytes_give_the_same_markers() -> None:
    raw = _with_big_parts(crlf=False)
    assert elide_oversized(raw, 100_000) == elide_oversized(raw, 100_000)
    other = raw.replace(b"Subject:", b"Subject: again", 1)
    assert elide_oversized(raw, 100_000)[1].keys().isdisjoint(elide_oversized(other, 100_000)[1])


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
