"""Header values: 8-bit bytes, RFC 2047 words, and the structured headers later stages use.

Splitting the header block and unfolding is the stdlib ``email`` parser's job
(see :mod:`ingest.parse.mime`); this module reads the values it hands over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from ingest.parse.body import decode_bytes
from ingest.parse.types import Address

__all__ = [
    "AuthResult",
    "decode_8bit",
    "decode_words",
    "parse_addresses",
    "parse_authentication_results",
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


_MAX_DECODED = 16384


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in ``value`` with the stdlib; never raises.

    ``email.header.decode_header`` drops whitespace between adjacent encoded
    words, joins adjacent words in one charset before decoding (some mailers
    split a multi-byte character across two words) and finds words glued to
    other text or inside quoted strings, as Outlook and webmail write them.
    The charset of each run is read tolerantly (:func:`decode_bytes`); a
    value the stdlib cannot decode at all (base64 one character too long) is
    kept as sent.
    """
    if "=?" not in value:
        return value
    # An encoded word ends in "?=": text after the last one holds none. The
    # stdlib's pattern scans from every "=?x?q?" to the next "?=" (or the end),
    # so leaving the rest out keeps the time linear on "=?a?q?x" repeated; and
    # its joining of words grows faster than linearly, so only the first
    # _MAX_DECODED characters are decoded (no real header comes near).
    end = value.rfind("?=", 0, _MAX_DECODED) + 2
    if end < 2:
        return value
    value, rest = value[:end], value[end:]
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError, LookupError):
        return value + rest
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None:
            # decode_header hands back text between encoded words as
            # raw-unicode-escape bytes.
            try:
                out.append(chunk.decode("raw-unicode-escape"))
            except UnicodeDecodeError:
                out.append(chunk.decode("latin-1"))
        else:
            # An RFC 2231 language suffix ("utf-8*en") is not part of the charset.
            out.append(decode_bytes(chunk, charset.partition("*")[0])[0])
    return "".join(out) + rest


# ---------------------------------------------------------------------------
# Addresses, dates, Message-IDs

_MAX_ADDRESS_HEADER = 16384
_BARE_ADDRESS = re.compile(r"^\s*<?([^<>@\s,;\"()]+@[^<>@\s,;\"()]+)>?\s*$")
_ADDRESS_SEPARATORS = re.compile(r"[\s<>,;:\"()\[\]]+")
_NOT_IN_ADDR_SPEC = frozenset(' \t,;"()<>')
_NOT_IN_PLAIN_PHRASE = frozenset(',;:()\\"')


def _angle_mailbox(value: str) -> tuple[str, str] | None:
    """``(display name, addr-spec)`` of a value that is one ``phrase <addr-spec>``, else None.

    The address is the one in angle brackets, whatever the phrase before it
    looks like: ``sscp@solihull.gov.uk <attacker@evil.example>`` is mail from
    attacker@evil.example whose display name imitates an address (the stdlib's
    parsers read the phrase as the address). String methods only, so the time
    is linear in the value; anything less plain (two angle brackets, a quoted
    name with escapes, a list) is left to the stdlib.
    """
    lt = value.find("<")
    gt = value.find(">")
    if lt < 0 or gt < lt or value.count("<") != 1 or value.count(">") != 1:
        return None
    addr = value[lt + 1 : gt].strip()
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(c in _NOT_IN_ADDR_SPEC for c in addr):
        return None
    tail = value[gt + 1 :].strip()
    if tail and not (
        tail.startswith("(") and tail.endswith(")") and tail.count("(") == tail.count(")") == 1
    ):
        return None
    phrase = value[:lt].strip()
    if len(phrase) >= 2 and phrase[0] == phrase[-1] == '"' and phrase.count('"') == 2:
        name = phrase[1:-1]
        if "\\" in name:
            return None
    elif any(c in _NOT_IN_PLAIN_PHRASE for c in phrase):
        return None
    else:
        name = " ".join(phrase.split())
    return name, addr


def _split_list(value: str) -> list[str]:
    """The comma-separated items of an address list: commas in quotes, comments or angle
    brackets do not split. One pass; quoted pairs (backslash) are skipped over."""
    items: list[str] = []
    start = depth = 0
    quoted = angled = escaped = False
    for i, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif char == "<":
            angled = True
        elif char == ">":
            angled = False
        elif char == "," and not angled:
            items.append(value[start:i])
            start = i + 1
    items.append(value[start:])
    return [item for item in items if item.strip()]


def _listed_mailboxes(value: str) -> list[tuple[str, str]] | None:
    """Each item of a list in which every item is ``phrase <addr>`` or a bare address."""
    pairs: list[tuple[str, str]] = []
    for item in _split_list(value):
        pair = _angle_mailbox(item)
        if pair is None:
            bare = _BARE_ADDRESS.match(item)
            if bare is None:
                return None
            pair = ("", bare.group(1))
        pairs.append(pair)
    return pairs


def _address_like(value: str) -> list[tuple[str, str]]:
    """Whatever looks like an address (text on both sides of an "@"), in linear time."""
    return [
        ("", token)
        for token in _ADDRESS_SEPARATORS.split(value)
        if "@" in token[1:-1] and not token.startswith("@")
    ]


def parse_addresses(values: tuple[str, ...] | list[str]) -> tuple[Address, ...]:
    """Every mailbox in the given address header values, in order, without duplicates.

    Addresses are lower-cased; display names are RFC 2047 decoded after the
    address list is split (a decoded name may contain commas). Group syntax
    and "undisclosed-recipients:;" yield their members or nothing. In
    ``phrase <addr-spec>`` the addr-spec is the address (see :func:`_angle_mailbox`).
    """
    found: dict[str, Address] = {}
    for value in values:
        if not value:
            continue
        simple = _angle_mailbox(value)
        if simple:
            pairs = [simple]
        else:
            bare = _BARE_ADDRESS.match(value)
            if bare:
                pairs = [("", bare.group(1))]
            elif len(value) > _MAX_ADDRESS_HEADER:
                pairs = _address_like(value)
            elif "<" in value and ":" not in value and (listed := _listed_mailboxes(value)):
                # A list of such mailboxes: the same rule for each (no groups: stdlib).
                pairs = listed
            else:
                try:
                    pairs = getaddresses([value])
                except (IndexError, ValueError, TypeError, AttributeError, RecursionError):
                    # The stdlib address parser recurses per word and gives up
                    # on pathological lists; keep whatever looks like an address.
                    pairs = _address_like(value)
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


# ---------------------------------------------------------------------------
# Authentication-Results (RFC 8601)


@dataclass(frozen=True)
class AuthResult:
    """One result in an Authentication-Results header: ``dmarc=pass header.from=x.example``."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        """The value of property ``name`` ("header.from"), lower-cased, or None."""
        return next((v for k, v in self.properties if k == name), None)


def _without_comments(value: str) -> str:
    """``value`` with its (possibly nested) comments removed; one pass, quoted text kept."""
    out: list[str] = []
    depth = 0
    quoted = False
    for char in value:
        if quoted:
            out.append(char)
            quoted = char != '"'
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
            quoted = char == '"'
    return "".join(out)


def parse_authentication_results(value: str) -> tuple[str, tuple[AuthResult, ...]]:
    """``(authserv-id, results)`` of one Authentication-Results value; both lower-cased.

    Tolerant and linear: an unreadable result is skipped, never guessed at.
    """
    head, *parts = _without_comments(value).lower().split(";")
    tokens = head.split()
    authserv = tokens[0] if tokens else ""
    results: list[AuthResult] = []
    for part in parts:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        props = tuple(
            (key, val.strip('"'))
            for key, eq, val in (w.partition("=") for w in words[1:])
            if eq and "." in key
        )
        results.append(AuthResult(method.partition("/")[0], result.strip('"'), props))
    return authserv, tuple(results)
