"""The MIME tree of a message, and the attachments found in it.

Multipart bodies are split by searching for their boundary with
``bytes.find`` instead of feeding every line through the stdlib feed parser;
that keeps a message with a 30 KB attachment well inside the per-message
budget. Structure errors are tolerated the way the stdlib tolerates them and
reported with the stdlib's defect names.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass, field

from ingest.parse.headers import RawHeaders, decode_words, parse_params, split_header_block
from ingest.parse.types import AttachmentInfo

__all__ = ["Part", "collect_attachments", "parse_entity"]

# Limits against hostile nesting and part bombs; beyond them the rest of the
# entity is kept as one opaque leaf.
MAX_DEPTH = 30
MAX_PARTS = 2000

_BOUNDARY_TAIL = re.compile(rb"(--)?[ \t]*(?:\r?\n|\Z)")
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n"
_BODY_SUBTYPES = frozenset({"plain", "html"})


@dataclass
class Part:
    """One MIME entity: its headers, its content type and either children or a raw body."""

    headers: RawHeaders
    content_type: str
    params: dict[str, str]
    disposition: str
    disposition_params: dict[str, str]
    raw: bytes = b""
    children: list[Part] = field(default_factory=list)
    _payload: bytes | None = None

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    def header(self, name: str) -> str | None:
        """First raw value of header ``name`` (lower-case), or ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def filename(self) -> str | None:
        """The file name the sender gave: Content-Disposition filename, else Content-Type name."""
        name = self.disposition_params.get("filename") or self.params.get("name")
        if name is None:
            return None
        name = decode_words(name).strip()
        return name or None

    @property
    def is_body_text(self) -> bool:
        """True for text/plain and text/html leaves that are the message's body, not a file.

        An explicit "inline" disposition wins over a file name (mail clients
        show such parts in the body); without a disposition a name means a file.
        """
        if self.children or self.maintype != "text" or self.subtype not in _BODY_SUBTYPES:
            return False
        if self.disposition == "inline":
            return True
        return self.disposition != "attachment" and self.filename is None

    @property
    def inline(self) -> bool:
        """True if the part is shown in the body (inline image, logo) rather than attached."""
        if self.disposition:
            return self.disposition == "inline"
        return self.header("content-id") is not None

    def payload(self, defects: list[str]) -> bytes:
        """The body with its Content-Transfer-Encoding undone; bad encodings give best effort."""
        if self._payload is None:
            self._payload = _decode_transfer(self, defects)
        return self._payload


def _decode_transfer(part: Part, defects: list[str]) -> bytes:
    """Undo base64 or quoted-printable, reporting the stdlib's base64 defects."""
    cte = (part.header("content-transfer-encoding") or "").strip().strip('"').lower()
    raw = part.raw
    if cte == "base64":
        if raw.translate(None, _BASE64_ALPHABET):
            defects.append(f"{part.content_type}: InvalidBase64CharactersDefect")
        try:
            return binascii.a2b_base64(raw)
        except binascii.Error:
            # Non-strict decoding only fails on the length of the data: drop a
            # lone trailing character, pad the rest, and name the defect the
            # way the stdlib would.
            clean = raw.translate(None, b" \t\r\n").split(b"=", 1)[0]
            clean = clean.translate(None, clean.translate(None, _BASE64_ALPHABET[:64]))
            kind = "Length" if len(clean) % 4 == 1 else "Padding"
            defects.append(f"{part.content_type}: InvalidBase64{kind}Defect")
            if len(clean) % 4 == 1:
                clean = clean[:-1]
            try:
                return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
            except binascii.Error:
                return b""
    if cte == "quoted-printable":
        return binascii.a2b_qp(raw)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(raw, part, defects)
    if cte and cte not in ("7bit", "8bit", "binary", "7-bit", "8-bit"):
        defects.append(f"{part.content_type}: unknown Content-Transfer-Encoding {cte[:40]!r}")
    return raw


def _uudecode(raw: bytes, part: Part, defects: list[str]) -> bytes:
    """Decode a uuencoded body ("begin 644 name" ... "end"), line by line and forgiving."""
    lines = raw.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(b"begin ")), None)
    if start is None:
        defects.append(f"{part.content_type}: uuencoded body without a 'begin' line")
        return raw
    out: list[bytes] = []
    for line in lines[start + 1 :]:
        if line.strip() == b"end":
            break
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # Some encoders write lines longer than their length byte says.
            try:
                nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3 if line else 0
                out.append(binascii.a2b_uu(line[:nbytes]))
            except binascii.Error:
                defects.append(f"{part.content_type}: bad uuencoded line skipped")
    return b"".join(out)


def _line_start(data: bytes, index: int, start: int) -> bool:
    """True if ``index`` is at the start of a line within an entity beginning at ``start``."""
    return index == start or data[index - 1] == 0x0A


def _split_multipart(
    data: bytes, start: int, end: int, boundary: bytes, defects: list[str], where: str
) -> list[tuple[int, int]]:
    """The (start, end) ranges of the body parts between ``boundary`` lines.

    Mirrors the stdlib: a boundary line is "--boundary", optionally "--" and
    trailing blanks; the line break before it belongs to the boundary; text
    before the first boundary is the preamble and after the close the
    epilogue, both ignored.
    """
    marker = b"--" + boundary
    ranges: list[tuple[int, int]] = []
    part_start = -1
    pos = start
    closed = False
    while True:
        index = data.find(marker, pos, end)
        if index < 0:
            break
        pos = index + len(marker)
        if not _line_start(data, index, start):
            continue
        tail = _BOUNDARY_TAIL.match(data, pos, end)
        if tail is None:
            continue
        if part_start >= 0:
            part_end = index
            if part_end > part_start and data[part_end - 1] == 0x0A:
                part_end -= 1
                if part_end > part_start and data[part_end - 1] == 0x0D:
                    part_end -= 1
            ranges.append((part_start, part_end))
        part_start = tail.end()
        pos = tail.end()
        if tail.group(1):
            closed = True
            break
        if len(ranges) >= MAX_PARTS:
            defects.append(f"{where}: more than {MAX_PARTS} parts, rest kept as one part")
            break
    if part_start < 0:
        defects.append(f"{where}: StartBoundaryNotFoundDefect")
        return []
    if not closed:
        defects.append(f"{where}: CloseBoundaryNotFoundDefect")
        ranges.append((part_start, end))
    return ranges


def parse_entity(
    data: bytes,
    start: int,
    end: int,
    defects: list[str],
    *,
    default_type: str = "text/plain",
    depth: int = 0,
    where: str = "message",
) -> Part:
    """Parse the entity ``data[start:end]`` (headers and body) into a :class:`Part` tree."""
    headers, body_start = split_header_block(data, start, end, defects, where)
    ctype_value = None
    disp_value = None
    for key, value in headers:
        if key == "content-type" and ctype_value is None:
            ctype_value = value
        elif key == "content-disposition" and disp_value is None:
            disp_value = value
    content_type, params = parse_params(ctype_value) if ctype_value else (default_type, {})
    if content_type.count("/") != 1 or not all(content_type.partition("/")[::2]):
        if ctype_value is not None:
            defects.append(
                f"{where}: invalid Content-Type {content_type[:60]!r}, read as text/plain"
            )
        content_type, params = "text/plain", {}
    disposition, disp_params = parse_params(disp_value) if disp_value else ("", {})
    part = Part(
        headers=headers,
        content_type=content_type,
        params=params,
        disposition=disposition,
        disposition_params=disp_params,
    )
    if content_type.startswith("multipart/"):
        cte = (part.header("content-transfer-encoding") or "7bit").strip().lower()
        if cte not in ("7bit", "8bit", "binary"):
            defects.append(f"{where}: InvalidMultipartContentTransferEncodingDefect")
        boundary = params.get("boundary", "").strip()
        if not boundary:
            defects.append(f"{where}: NoBoundaryInMultipartDefect")
        elif depth >= MAX_DEPTH:
            defects.append(f"{where}: nesting deeper than {MAX_DEPTH}, rest kept as one part")
        else:
            child_type = "message/rfc822" if content_type == "multipart/digest" else "text/plain"
            ranges = _split_multipart(
                data,
                body_start,
                end,
                boundary.encode("utf-8", "surrogateescape"),
                defects,
                where,
            )
            for number, (part_start, part_end) in enumerate(ranges, 1):
                part.children.append(
                    parse_entity(
                        data,
                        part_start,
                        part_end,
                        defects,
                        default_type=child_type,
                        depth=depth + 1,
                        where=f"{where}.{number}" if where != "message" else f"part {number}",
                    )
                )
            if ranges:
                return part
        # A multipart without usable parts is read as text, as the stdlib
        # does (MultipartInvariantViolationDefect), so nothing is lost.
        defects.append(f"{where}: MultipartInvariantViolationDefect")
        part.content_type = "text/plain"
        part.params = {"charset": params.get("charset", "")}
    part.raw = data[body_start:end] if body_start < end else b""
    return part


def _walk_leaves(part: Part) -> list[Part]:
    """Every leaf of the tree in document order."""
    if not part.children:
        return [part]
    leaves: list[Part] = []
    for child in part.children:
        leaves.extend(_walk_leaves(child))
    return leaves


def collect_attachments(root: Part, defects: list[str]) -> tuple[AttachmentInfo, ...]:
    """Every leaf that is not body text, decoded, sized and hashed.

    Inline images, signature logos, delivery-status reports and attached
    messages (message/rfc822, kept whole) are included; ``inline`` tells
    them apart from files the sender attached on purpose.
    """
    found: list[AttachmentInfo] = []
    for leaf in _walk_leaves(root):
        if leaf.is_body_text:
            continue
        data = leaf.payload(defects)
        found.append(
            AttachmentInfo(
                filename=leaf.filename,
                content_type=leaf.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
                inline=leaf.inline,
            )
        )
    return tuple(found)
