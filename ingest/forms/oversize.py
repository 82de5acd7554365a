"""Attachments over the size limit are hashed from the raw bytes and never parsed.

The stdlib ``email`` parser holds a message several times over while it
splits it into lines (about eight times a 28 MB message at its peak), so a
20 MB attachment would cost the daemon some 200 MB before any limit could
be checked. Before parsing, every run of base64 lines long enough to decode
to more than the limit (only an attachment's body looks like that: headers
and boundaries do not) is hashed slice by slice straight from the raw bytes
and replaced by a short marker. The parser then sees a tiny part, which
:mod:`ingest.forms.extraction` recognises by its marker and reports with the
real size and SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass

__all__ = ["Elided", "elide_oversized"]

# A long stretch of base64 characters and line ends. One character class, no
# repeated group: the regex engine then keeps no backtracking state per line.
_RUN = re.compile(rb"[A-Za-z0-9+/=\r\n]{4096,}")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_WHITESPACE = b" \t\r\n"
_SLICE = 1 << 20


@dataclass(frozen=True)
class Elided:
    """What was cut out: the decoded size, its SHA-256 and its first bytes (to spot programs)."""

    size: int
    sha256: str
    head: bytes


def _hash_base64(raw: bytes, start: int, end: int) -> Elided:
    digest = hashlib.sha256()
    size = 0
    head = b""
    rest = b""
    view = memoryview(raw)
    for offset in range(start, end, _SLICE):
        chunk = rest + bytes(view[offset : min(offset + _SLICE, end)]).translate(None, _WHITESPACE)
        usable = len(chunk) - len(chunk) % 4
        rest = chunk[usable:]
        try:
            piece = binascii.a2b_base64(chunk[:usable])
        except binascii.Error:
            piece = b""
        if not head:
            head = piece[:16]
        digest.update(piece)
        size += len(piece)
    if rest.strip(b"="):
        try:
            piece = binascii.a2b_base64(rest + b"=" * (-len(rest) % 4))
        except binascii.Error:
            piece = b""
        digest.update(piece)
        size += len(piece)
    return Elided(size, digest.hexdigest(), head)


def _body_span(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """The whole base64 lines inside a run: after a header's blank line, up to the last line end.

    A run may begin inside the part's last header ("...: base64" and the
    blank line) and end inside a line; those edges stay in the message.
    """
    blank = _BLANK_LINE.search(raw, start, min(end, start + 256))
    if blank is not None:
        start = blank.end()
    elif start > 0 and raw[start - 1 : start] != b"\n":
        newline = raw.find(b"\n", start, end)
        start = newline + 1 if newline >= 0 else end
    last_newline = raw.rfind(b"\n", start, end)
    return start, (last_newline + 1 if last_newline >= 0 else start)


def elide_oversized(raw: bytes, limit: int) -> tuple[bytes, dict[bytes, Elided]]:
    """``raw`` with each over-limit base64 body replaced by a marker; what each marker stands for.

    Returns ``raw`` itself (no copy) when nothing is over the limit.
    """
    if len(raw) // 4 * 3 <= limit:
        return raw, {}
    pieces: list[bytes] = []
    found: dict[bytes, Elided] = {}
    nonce = os.urandom(8).hex().encode()
    last = 0
    for match in _RUN.finditer(raw):
        start, end = _body_span(raw, match.start(), match.end())
        if (end - start) // 4 * 3 <= limit:
            continue
        elided = _hash_base64(raw, start, end)
        if elided.size <= limit:
            continue
        marker = b"\x00forms-elided:" + nonce + b":%d\x00" % len(found)
        found[marker] = elided
        newline = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
        pieces += [raw[last:start], base64.b64encode(marker), newline]
        last = end
    if not found:
        return raw, {}
    pieces.append(raw[last:])
    return b"".join(pieces), found
