"""Turn the bytes of one message into a :class:`ParsedEmail`; pure, no I/O.

:func:`parse` accepts anything a mailbox can hand over: broken MIME, bad
base64, 8-bit headers, bodies without headers, bare-CR line endings, mbox
"From " lines. It raises :class:`ingest.errors.ParseError` only for input
that cannot be a message at all (empty or whitespace-only); every other
problem is listed in ``ParsedEmail.defects`` so it can be shown to a person
without stopping the case.

With ``max_attachment_bytes``, base64 attachments over that size are hashed
straight from the bytes and cut out before the stdlib parser sees them
(:mod:`ingest.parse.oversize`: the parser would hold a large message many
times over); they are listed with their real size and SHA-256 and no data.
Everything else, ``content_hash`` included, is the same with or without a
limit. The parsed tree is kept in ``ParsedEmail.mime`` for the forms reader.
"""

from __future__ import annotations

import hashlib
import re

from ingest.errors import ParseError
from ingest.parse import mime
from ingest.parse.body import decode_bytes, split_quoted
from ingest.parse.envelope import envelope_recipients
from ingest.parse.headers import (
    decode_8bit,
    decode_words,
    parse_addresses,
    parse_date,
    parse_message_id,
    parse_message_id_list,
    parse_return_path,
    unfold,
)
from ingest.parse.oversize import elide_oversized, put_back
from ingest.parse.parts import content_type
from ingest.parse.subject import decode_subject, strip_prefixes
from ingest.parse.types import Address, AttachmentInfo, MimeTree, ParsedEmail

__all__ = ["Address", "AttachmentInfo", "MimeTree", "ParsedEmail", "parse"]

_LONE_CR = re.compile(rb"\r(?!\n)")
_LEADING_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]++[ \t]*+:|From ")
_ANGLE = re.compile(r"<([^<>]*)>")
_BLANK_LINE = re.compile(rb"\n\r?\n")
# Obsolete syntax (RFC 5322 section 4.5.8) the stdlib does not read: blanks before the colon.
_SPACE_BEFORE_COLON = re.compile(rb"^([\x21-\x39\x3b-\x7e]++)[ \t]++:", re.MULTILINE)
# A parameter line that lost its folding indent under a Content-Type or
# Content-Disposition ending in ";" ("boundary=..." on a line of its own), as
# some gateways write it, in any part. The hint is searched first because it
# starts with a literal and skips base64 at C speed.
# "[\w.-]+\*?[\d*]*" overlapped (digits are word characters): ";" and a long run of
# digits backtracked quadratically. Same language, each character read once.
_UNINDENTED_HINT = re.compile(rb";[ \t]*+\r?\n[\w.-]++(?:\*[\d*]*+)?[ \t]*+=")
_UNINDENTED_PARAM = re.compile(
    rb"^content-(?:type|disposition)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*;[ \t]*\r?\n"
    rb"(?=[\w.-]++(?:\*[\d*]*+)?[ \t]*+=)",
    re.MULTILINE | re.IGNORECASE,
)
_MAX_REPAIR_PASSES = 10
_MAX_DEFECTS = 50
_MAX_DEFECTS_PER_KIND = 5


def parse(data: bytes, *, max_attachment_bytes: int | None = None) -> ParsedEmail:
    """Parse one message; raise :class:`ParseError` only if ``data`` is empty or blank.

    ``max_attachment_bytes``: base64 attachments decoding to more than this
    are cut out before parsing and reported by size and SHA-256 only.
    """
    if not data or data.isspace():
        raise ParseError("empty message: no bytes other than whitespace")
    try:
        return _parse(data, max_attachment_bytes)
    except Exception as exc:
        # The parser is meant never to fail; if a message still finds a bug,
        # keep it readable and say so instead of losing it.
        return _unparsed(data, exc)


def _normalise_line_endings(data: bytes, defects: list[str]) -> bytes:
    """Turn bare-CR line endings (old Mac mail) into LF; CRLF and LF are left alone.

    Only the first line is inspected, which is enough for whole-message
    bare-CR files and keeps the common case free of a full scan.
    """
    first_cr = data.find(b"\r", 0, 8192)
    if first_cr < 0 or data[first_cr + 1 : first_cr + 2] == b"\n":
        return data
    first_lf = data.find(b"\n", 0, first_cr)
    if first_lf >= 0:
        return data
    defects.append("bare CR line endings")
    return _LONE_CR.sub(b"\n", data)


def _repair_headers(data: bytes, defects: list[str]) -> bytes:
    """Rewrite two header mistakes mail clients forgive and the stdlib parser does not.

    Blanks before a colon in the message's header block would end the headers
    there; a parameter line without its folding indent would end a part's
    headers and lose its boundary or file name.
    """
    blank = _BLANK_LINE.search(data)
    end = blank.start() + 1 if blank else len(data)
    if _SPACE_BEFORE_COLON.search(data, 0, end):
        fixed = _SPACE_BEFORE_COLON.sub(rb"\1:", data[:end])
        defects.append("message: blanks before a header's colon removed")
        data = fixed + data[end:]
    if _UNINDENTED_HINT.search(data) and _UNINDENTED_PARAM.search(data):
        count = 0
        # One pass per parameter line in a run; capped against hostile input.
        for _ in range(_MAX_REPAIR_PASSES):
            data, n = _UNINDENTED_PARAM.subn(lambda m: m.group(0) + b"\t", data)
            count += n
            if not n:
                break
        defects.append(f"{count} unindented parameter line(s) joined to their header")
    return data


def _parse(data: bytes, limit: int | None) -> ParsedEmail:
    defects: list[str] = []
    data = _normalise_line_endings(data, defects)
    stripped = data.lstrip(b"\r\n")
    if len(stripped) != len(data) and _LEADING_HEADER.match(stripped):
        defects.append("blank lines before the headers skipped")
        data = stripped
    # Cut before the repairs: they copy the message, and a copy of a small one is cheap.
    source = data
    data, elided = elide_oversized(data, limit) if limit is not None else (data, {})
    data = _repair_headers(data, defects)

    root = mime.parse_bytes(data, defects)
    if elided:
        put_back(root, elided, source)
    if root.get_unixfrom() is not None:
        defects.append("message: mbox 'From ' line before the headers skipped")
    raw_headers: list[tuple[str, str]] = []
    cp1252 = 0
    for name, value in root.raw_items():
        text, guessed = decode_8bit(unfold(value))
        if guessed:
            cp1252 += 1
            if cp1252 <= _MAX_DEFECTS_PER_KIND:
                defects.append(
                    f"message: 8-bit bytes in header {name.lower()!r} read as windows-1252"
                )
        raw_headers.append((name.lower(), text))
    linesep = "\r\n" if source.find(b"\r\n", 0, 4096) >= 0 else "\n"
    reader = mime.MessageReader(root, defects, linesep, elided, source)

    def first(name: str) -> str | None:
        for key, value in raw_headers:
            if key == name:
                return value
        return None

    def every(name: str) -> list[str]:
        return [value for key, value in raw_headers if key == name]

    senders = parse_addresses(every("from"))
    from_ = next((a for a in senders if "@" in a.addr), senders[0] if senders else None)
    subject = decode_subject(first("subject"))
    message_id = parse_message_id(first("message-id"))
    text = reader.body_text()
    attachments = reader.attachments()
    date_value = first("date")

    delivered: dict[str, None] = {}
    for key, value in raw_headers:
        if key in ("delivered-to", "x-original-to"):
            match = _ANGLE.search(value)
            address = (match.group(1) if match else value).strip()
            if address:
                delivered[address] = None

    if len(defects) > _MAX_DEFECTS:
        defects[_MAX_DEFECTS:] = [f"... and {len(defects) - _MAX_DEFECTS} more defects"]

    return ParsedEmail(
        message_id=message_id,
        in_reply_to=parse_message_id_list(" ".join(every("in-reply-to")), allow_bare=True),
        references=parse_message_id_list(" ".join(every("references")), allow_bare=False),
        subject=subject,
        from_=from_,
        reply_to=_with_at(parse_addresses(every("reply-to"))),
        to=_with_at(parse_addresses(every("to"))),
        cc=_with_at(parse_addresses(every("cc"))),
        delivered_to=tuple(delivered),
        return_path=parse_return_path(first("return-path")),
        date=parse_date(date_value),
        content_type=content_type(root),
        headers=tuple(
            (key, decode_words(value) if "=?" in value else value) for key, value in raw_headers
        ),
        text=text,
        new_text=split_quoted(text),
        attachments=attachments,
        content_hash=content_hash(
            from_.addr if from_ else "",
            subject,
            date_value or "",
            message_id or "",
            text,
            attachments,
        ),
        defects=tuple(defects),
        envelope_recipients=envelope_recipients(raw_headers),
        mime=MimeTree(root, elided, limit),
    )


def _with_at(addresses: tuple[Address, ...]) -> tuple[Address, ...]:
    """Drop list entries without an "@": fragments of broken headers, not recipients."""
    return tuple(a for a in addresses if "@" in a.addr)


def content_hash(
    sender: str,
    subject: str,
    date: str,
    message_id: str,
    text: str,
    attachments: tuple[AttachmentInfo, ...],
) -> str:
    """SHA-256 over what a message says, not how it travelled.

    Trace headers (Received, Delivered-To, Authentication-Results, DKIM, ARC,
    X-*) differ between two deliveries of one message and are left out;
    whitespace and gateway subject tags are normalised for the same reason.
    """
    digest = hashlib.sha256()
    for piece in (
        sender,
        strip_prefixes(subject),
        " ".join(date.split()),
        message_id,
        " ".join(text.split()),
        *(a.sha256 for a in attachments),
    ):
        digest.update(piece.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _unparsed(data: bytes, exc: Exception) -> ParsedEmail:
    """A minimal message for bytes the parser failed on: the raw text, and why."""
    text, _ = decode_bytes(data, None)
    return ParsedEmail(
        message_id=None,
        in_reply_to=(),
        references=(),
        subject="",
        from_=None,
        reply_to=(),
        to=(),
        cc=(),
        delivered_to=(),
        return_path=None,
        date=None,
        content_type="text/plain",
        headers=(),
        text=text,
        new_text=text,
        attachments=(),
        content_hash=hashlib.sha256(data).hexdigest(),
        defects=(f"parser failure: {type(exc).__name__}: {str(exc)[:200]}",),
    )
