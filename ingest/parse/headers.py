"""Header values: 8-bit bytes, RFC 2047 words, and the structured headers later stages use.

Splitting the header block and unfolding is the stdlib ``email`` parser's job
(see :mod:`ingest.parse.mime`); this module reads the values it hands over.
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from ingest.parse.body import decode_bytes
from ingest.parse.types import Address

__all__ = [
    "decode_8bit",
    "decode_words",
    "parse_addresses",
    "parse_date",
    "parse_message_id",
    "parse_message_id_list",
    "parse_return_path",
    "unfold",
]

_FOLD = re.compile(r"\r?\n|\r")


def unfold(value: str) -> str:
    """A header value as one line: line breaks of folding removed, ends stripped."""
    if "\n" in value or "\r" in value:
        value = _FOLD.sub("", value)
    return value.strip()


def decode_8bit(value: str) -> tuple[str, bool]:
    """Read the raw 8-bit bytes the stdlib parser left in a header value (surrogate escapes).

    RFC 6532 puts UTF-8 there and broken mailers windows-1252; the flag says
    whether the windows-1252 fallback was needed.
    """
    if value.isascii():
        return value, False
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace"), True


# ---------------------------------------------------------------------------
# RFC 2047 encoded words

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")
_ONLY_SPACE = re.compile(r"[ \t\r\n]*")


def _decode_word_bytes(encoding: str, payload: str) -> bytes:
    """Bytes of one encoded word's payload; padding and bad characters are forgiven."""
    raw = payload.encode("ascii", "replace")
    if encoding in "qQ":
        return binascii.a2b_qp(raw, header=True)
    raw = raw.rstrip(b"=")
    raw = raw[: len(raw) - len(raw) % 4] if len(raw) % 4 == 1 else raw
    try:
        return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4))
    except binascii.Error:
        return b""


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in ``value``; never raises.

    Whitespace between adjacent encoded words is dropped as the RFC says, and
    adjacent words in the same charset are joined before decoding because
    some mailers split a multi-byte character across two words. Encoded words
    inside quoted strings or glued to other text are decoded too, since
    Outlook and webmail clients produce them.
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    pending: bytes = b""
    pending_charset = ""

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset:
            out.append(decode_bytes(pending, pending_charset)[0])
        pending, pending_charset = b"", ""

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (pending_charset and _ONLY_SPACE.fullmatch(between)):
            flush()
            out.append(between)
        charset = match.group(1).partition("*")[0].lower()
        data = _decode_word_bytes(match.group(2), match.group(3))
        if charset != pending_charset:
            flush()
            pending_charset = charset
        pending += data
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------
# Addresses, dates, Message-IDs

_SIMPLE_ADDRESS = re.compile(
    r'^\s*(?:"([^"\\]*)"|([^",;:<>@()\\]*?))\s*<([^<>@\s,;]+@[^<>@\s,;]+)>\s*$'
)
_ANY_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")
_MAX_ADDRESS_HEADER = 16384
_BARE_ADDRESS = re.compile(r"^\s*<?([^<>@\s,;\"()]+@[^<>@\s,;\"()]+)>?\s*$")


def parse_addresses(values: tuple[str, ...] | list[str]) -> tuple[Address, ...]:
    """Every mailbox in the given address header values, in order, without duplicates.

    Addresses are lower-cased; display names are RFC 2047 decoded after the
    address list is split (a decoded name may contain commas). Group syntax
    and "undisclosed-recipients:;" yield their members or nothing.
    """
    found: dict[str, Address] = {}
    for value in values:
        if not value:
            continue
        simple = _SIMPLE_ADDRESS.match(value)
        if simple:
            pairs = [(simple.group(1) or simple.group(2) or "", simple.group(3))]
        else:
            bare = _BARE_ADDRESS.match(value)
            if bare:
                pairs = [("", bare.group(1))]
            elif len(value) > _MAX_ADDRESS_HEADER:
                pairs = [("", a) for a in _ANY_ADDRESS.findall(value)]
            else:
                try:
                    pairs = getaddresses([value])
                except (IndexError, ValueError, TypeError, AttributeError, RecursionError):
                    # The stdlib address parser recurses per word and gives up
                    # on pathological lists; keep whatever looks like an address.
                    pairs = [("", a) for a in _ANY_ADDRESS.findall(value)]
        for name, addr in pairs:
            addr = addr.strip().strip("<>").lower()
            if not addr or addr in found:
                continue
            found[addr] = Address(name=decode_words(name).strip(), addr=addr)
    return tuple(found.values())


def parse_date(value: str | None) -> datetime | None:
    """The ``Date:`` header as an aware datetime (UTC when the zone is unknown), or ``None``."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


_ANGLE_ID = re.compile(r"<([^<>\s]+)>")


def parse_message_id(value: str | None) -> str | None:
    """The Message-ID without angle brackets, exactly as sent, or ``None``."""
    if not value:
        return None
    match = _ANGLE_ID.search(value)
    if match:
        return match.group(1)
    token = value.strip().split()
    if not token:
        return None
    bare = token[0].strip("<>")
    return bare or None


def parse_message_id_list(value: str | None, *, allow_bare: bool) -> tuple[str, ...]:
    """Every ``<...>`` token in ``value`` (junk between them ignored), without duplicates.

    With ``allow_bare``, a value without any bracketed id is accepted as bare
    ids: tokens containing "@", or the whole value if it is one token.
    """
    if not value:
        return ()
    ids = _ANGLE_ID.findall(value)
    if not ids and allow_bare:
        tokens = value.split()
        ids = [t for t in tokens if "@" in t] or (tokens if len(tokens) == 1 else [])
        ids = [t.strip("<>,;") for t in ids]
    return tuple(dict.fromkeys(i for i in ids if i))


def parse_return_path(value: str | None) -> str | None:
    """The address inside Return-Path: "" for the null path "<>", ``None`` when absent."""
    if value is None:
        return None
    match = re.search(r"<([^<>]*)>", value)
    inner = match.group(1) if match else value
    inner = inner.strip()
    # A source route ("<@relay:user@host>") keeps only its mailbox.
    if inner.startswith("@") and ":" in inner:
        inner = inner.partition(":")[2]
    return inner.lower()
