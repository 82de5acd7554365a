"""Header block splitting and the structured headers later stages rely on.

The stdlib ``email`` feed parser walks every line of a message in Python,
which costs more than our whole per-message budget on a message with an
attachment. Here the header block is found with one search and split in C;
the body is never iterated line by line. Semantics follow the stdlib
(compat32) parser: a header block ends at the first empty line, or at the
first line that cannot be a header (``MissingHeaderBodySeparatorDefect``);
defects carry the stdlib's names where the stdlib has one.
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote_to_bytes

from ingest.parse.body import decode_bytes
from ingest.parse.types import Address

__all__ = [
    "RawHeaders",
    "decode_words",
    "parse_addresses",
    "parse_date",
    "parse_message_id",
    "parse_message_id_list",
    "parse_params",
    "parse_return_path",
    "split_header_block",
]

RawHeaders = list[tuple[str, str]]
"""(lower-cased name, unfolded value before RFC 2047 decoding), in message order."""

# Caps that keep a hostile message from turning into a huge defect list.
_MAX_DEFECTS_PER_KIND = 5

_BLANK_LINE = re.compile(rb"\n\r?\n")
_PARAM_LINE = re.compile(r"[\w.-]+\*?[\d*]*\s*=")
_HEADER_NAME = re.compile(r"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


def split_header_block(
    data: bytes, start: int, end: int, defects: list[str], where: str = "message"
) -> tuple[RawHeaders, int]:
    """Split the headers of the entity ``data[start:end]``; return them and where the body starts.

    Lines must already end in LF or CRLF. Non-ASCII bytes in a header are read
    as UTF-8, else windows-1252 (and reported), since RFC 6532 and broken
    mailers both put them there.
    """
    if start >= end:
        return [], end
    # An entity that starts with an empty line has no headers at all.
    if data.startswith(b"\n", start) or data.startswith(b"\r\n", start):
        return [], start + (1 if data[start] == 0x0A else 2)
    blank = _BLANK_LINE.search(data, start, end)
    if blank is None:
        block_end, body_start = end, end
    else:
        block_end, body_start = blank.start() + 1, blank.end()
    block = data[start:block_end]
    try:
        text = block.decode("ascii")
        eight_bit = False
    except UnicodeDecodeError:
        text = block.decode("utf-8", "surrogateescape")
        eight_bit = True
    if not eight_bit:
        fast = _split_fast(text)
        if fast is not None:
            return fast, body_start
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    headers: RawHeaders = []
    name = ""
    value_parts: list[str] = []
    offset = start
    counts: dict[str, int] = {}

    def note(kind: str, message: str) -> None:
        n = counts.get(kind, 0)
        counts[kind] = n + 1
        if n < _MAX_DEFECTS_PER_KIND:
            defects.append(message)

    def finish() -> None:
        if name:
            value = "".join(value_parts).strip()
            if eight_bit and _has_surrogates(value):
                raw = value.encode("utf-8", "surrogateescape")
                value = raw.decode("cp1252", "replace")
                note("8bit", f"{where}: 8-bit bytes in header {name!r} read as windows-1252")
            headers.append((name, value))

    for index, line in enumerate(lines):
        line_len = len(line.encode("utf-8", "surrogateescape")) + 1 if eight_bit else len(line) + 1
        stripped = line[:-1] if line.endswith("\r") else line
        if stripped[:1] in (" ", "\t"):
            if name:
                value_parts.append(stripped)
            elif not headers:
                note("cont", f"{where}: FirstHeaderLineIsContinuationDefect")
            offset += line_len
            continue
        if stripped.startswith("From ") and not _HEADER_NAME.match(stripped):
            if index == 0 and where == "message":
                note("mbox", f"{where}: mbox 'From ' line before the headers skipped")
            else:
                note("envelope", f"{where}: MisplacedEnvelopeHeaderDefect")
            offset += line_len
            continue
        match = _HEADER_NAME.match(stripped)
        if (
            match is None
            and name
            and value_parts[-1].rstrip().endswith(";")
            and _PARAM_LINE.match(stripped)
        ):
            # A parameter that lost its folding indent ("boundary=..." under
            # a Content-Type ending in ";"), as some gateways write it.
            note("fold", f"{where}: unindented continuation of header {name!r}")
            value_parts.append(" " + stripped)
            offset += line_len
            continue
        if match is None:
            # Not a header and not a continuation: the body starts here.
            finish()
            name = ""
            note("sep", f"{where}: MissingHeaderBodySeparatorDefect")
            return headers, offset
        finish()
        name = match.group(1).lower()
        value_parts = [stripped[match.end() :]]
        offset += line_len
    finish()
    return headers, body_start


_HEADER_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)\n")


def _split_fast(text: str) -> RawHeaders | None:
    """Split a well-formed ASCII header block in C; ``None`` if anything needs the slow path."""
    headers: RawHeaders = []
    pos = 0
    for match in _HEADER_FIELD.finditer(text):
        if match.start() != pos:
            return None
        pos = match.end()
        value = match.group(2)
        if "\n" in value:
            value = value.replace("\r\n", "").replace("\n", "")
        headers.append((match.group(1).lower(), value.strip()))
    if pos != len(text):
        return None
    return headers


def _has_surrogates(text: str) -> bool:
    """True if ``text`` holds bytes that were not valid UTF-8 (surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
# Parameters (Content-Type, Content-Disposition), RFC 2231 aware

_PARAM = re.compile(
    r""";\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*(?:"|$)|[^;]*)""",
    re.DOTALL,
)
_SECTION = re.compile(r"^(.*?)\*(\d+)(\*?)$")


def parse_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a structured header into its lower-cased main value and its parameters.

    Parameter names are lower-cased; values are unquoted and RFC 2231
    continuations (``name*0*=``) and charsets (``name*=utf-8''...``) decoded,
    preferring an RFC 2231 value over a plain one. RFC 2047 words in file
    names (Outlook writes them so) are decoded by the caller that knows the
    parameter is a name.
    """
    main, sep, rest = value.partition(";")
    main = main.strip().strip('"').lower()
    params: dict[str, str] = {}
    if not sep:
        return main, params
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    extended: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        pname = match.group(1).lower()
        raw = match.group(2).strip()
        if raw.startswith('"'):
            raw = raw[1:-1] if len(raw) > 1 and raw.endswith('"') else raw[1:]
            if "\\" in raw:
                raw = re.sub(r"\\(.)", r"\1", raw)
        section = _SECTION.match(pname) if "*" in pname else None
        if section:
            base = section.group(1)
            sections.setdefault(base, []).append(
                (int(section.group(2)[:6]), bool(section.group(3)), raw)
            )
        elif pname.endswith("*"):
            extended.setdefault(pname[:-1], _decode_2231(raw))
        else:
            # RFC 2047 words are left alone here: a boundary may look like one.
            params.setdefault(pname, raw)
    for base, parts in sections.items():
        parts.sort(key=lambda p: p[0])
        charset: str | None = None
        chunks: list[bytes] = []
        for number, is_ext, raw in parts:
            if is_ext:
                if number == 0 and raw.count("'") >= 2:
                    charset, _, raw = raw.split("'", 2)
                chunks.append(unquote_to_bytes(raw))
            else:
                chunks.append(raw.encode("utf-8", "replace"))
        extended.setdefault(base, decode_bytes(b"".join(chunks), charset or "utf-8")[0])
    params.update(extended)
    return main, params


def _decode_2231(raw: str) -> str:
    """Decode one ``charset'lang'%XX`` value (RFC 2231 section 4)."""
    charset = None
    if raw.count("'") >= 2:
        charset, _, raw = raw.split("'", 2)
    return decode_bytes(unquote_to_bytes(raw), charset or "utf-8")[0]


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
