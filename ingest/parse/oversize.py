"""Attachments over the size limit are hashed from the raw bytes and never parsed.

The stdlib ``email`` parser holds a message several times over while it
splits it into lines (about eight times a 28 MB message at its peak), so a
20 MB attachment would cost the daemon some 200 MB before any limit could
be checked. Before parsing, every run of base64 lines long enough to decode
to more than the limit (only an attachment's body looks like that: headers
and boundaries do not) is hashed slice by slice straight from the raw bytes
and replaced by a one-line marker. The parser then sees a tiny part, which
:class:`ingest.parse.mime.MessageReader` and :mod:`ingest.forms` recognise by
its marker and report with the real size and SHA-256.

A run that turns out not to be a whole attached file (body text, a run
inside a part with other lines) is put back after parsing (:func:`put_back`),
and an attached message holding a marker is measured as if it had not been
cut (:func:`expanded_digest`), so that what :func:`ingest.parse.parse`
reports does not depend on the limit.

The marker's text is derived from a hash of the whole message: the same
bytes always give the same markers (content hashes stay stable), and no
sender can write a marker into a message that would stand for another part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from email.message import Message
from itertools import chain

from ingest.parse.parts import leaves, read_leaf
from ingest.parse.types import Elided

__all__ = ["elide_oversized", "expanded_digest", "put_back"]

# A long stretch of base64 characters and line ends. One character class, no
# repeated group: the regex engine then keeps no backtracking state per line. It
# starts only where a stretch starts (lookbehind): without that, stretches of 4,095
# characters made every position read up to 4,095 bytes (a minute for 10 MB).
_RUN = re.compile(rb"(?<![A-Za-z0-9+/=\r\n])[A-Za-z0-9+/=\r\n]{4096,}")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_WHITESPACE = b" \t\r\n"
_SLICE = 1 << 20
_TAIL = 8


def _hash_base64(raw: bytes, start: int, end: int) -> Elided:
    """Decode ``raw[start:end]`` slice by slice into a hash, as the stdlib would decode it whole."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    rest = b""
    count = 0
    tail = b""
    view = memoryview(raw)
    for offset in range(start, end, _SLICE):
        text = bytes(view[offset : min(offset + _SLICE, end)]).translate(None, _WHITESPACE)
        count += len(text)
        tail = (tail + text[-_TAIL:])[-_TAIL:]
        chunk = rest + text
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
    return Elided(size, digest.hexdigest(), head, start, end, b"", _stdlib_defects(count, tail))


def _stdlib_defects(count: int, tail: bytes) -> tuple[str, ...]:
    """What the stdlib's decoder reports for ``count`` base64 characters ending in ``tail``.

    Only the length and the padding at the end decide it, so a short body
    of the same length modulo four and the same end is decoded instead.
    """
    if not count % 4 and b"=" not in tail:
        return ()
    sample = Message()
    sample["Content-Transfer-Encoding"] = "base64"
    sample.set_payload("A" * ((count - len(tail)) % 4) + tail.decode("ascii"))
    sample.get_payload(decode=True)
    return tuple(type(defect).__name__ for defect in sample.defects)


def _body_span(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """The whole base64 lines inside a run: after a header's blank line, up to the last line end.

    A run may begin inside the part's last header ("...: base64" and the
    blank line) and end inside a line; those edges stay in the message,
    except a last line that ends the message without a line end.
    """
    blank = _BLANK_LINE.search(raw, start, min(end, start + 256))
    if blank is not None:
        start = blank.end()
    elif start > 0 and raw[start - 1 : start] != b"\n":
        newline = raw.find(b"\n", start, end)
        start = newline + 1 if newline >= 0 else end
    if end == len(raw):
        return start, end
    last_newline = raw.rfind(b"\n", start, end)
    return start, (last_newline + 1 if last_newline >= 0 else start)


def elide_oversized(raw: bytes, limit: int) -> tuple[bytes, dict[bytes, Elided]]:
    """``raw`` with each over-limit base64 body replaced by a marker; what each marker stands for.

    The keys are the markers as the parser decodes them. Returns ``raw``
    itself (no copy) when nothing is over the limit.
    """
    if len(raw) // 4 * 3 <= limit:
        return raw, {}
    pieces: list[bytes] = []
    found: dict[bytes, Elided] = {}
    nonce = b""
    last = 0
    for match in _RUN.finditer(raw):
        start, end = _body_span(raw, match.start(), match.end())
        if (end - start) // 4 * 3 <= limit:
            continue
        elided = _hash_base64(raw, start, end)
        if elided.size <= limit:
            continue
        nonce = nonce or hashlib.sha256(raw).hexdigest()[:32].encode()
        marker = b"\x00elided:" + nonce + b":%d\x00" % len(found)
        newline = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
        line = base64.b64encode(marker) + newline
        found[marker] = replace(elided, line=line)
        pieces += [raw[last:start], line]
        last = end
    if not found:
        return raw, {}
    pieces.append(raw[last:])
    return b"".join(pieces), found


def put_back(root: Message, elided: Mapping[bytes, Elided], source: bytes) -> None:
    """Put back every cut in ``root`` except a whole attached base64 file, left as its marker.

    Body text, a run inside a part with other lines, and anything not base64
    go back to the lines they were in ``source``, so that reading them does
    not depend on the limit. Attached messages are leaves: cuts inside them
    stay, and :func:`expanded_digest` measures them.
    """
    texts = [item.text.decode("ascii") for item in elided.values()]
    for part in leaves(root):
        # get_payload() would replace undecodable bytes; the lines go back exactly.
        payload = vars(part).get("_payload")
        if not isinstance(payload, str) or not any(text in payload for text in texts):
            continue
        whole = payload.strip() in texts
        base64 = str(part.get("content-transfer-encoding", "")).strip().lower() == "base64"
        if not (whole and base64 and read_leaf(part).body_kind is None):
            part.set_payload(_restore(payload, elided, source))


def _restore(payload: str, elided: Mapping[bytes, Elided], source: bytes) -> str:
    """A part's body with every marker line put back to the lines it replaced in ``source``.

    The parser leaves the line end before a boundary out of the part's body,
    so a marker may end the body without its line end; the cut lines then go
    back without their last one.
    """
    for item in elided.values():
        text = item.text.decode("ascii")
        at = payload.find(text)
        if at < 0:
            continue
        original = source[item.start : item.end].decode("ascii")
        newline = item.line[len(item.text) :].decode("ascii")
        after = at + len(text)
        if payload.startswith(newline, after):
            after += len(newline)
        else:
            original = original.removesuffix(newline)
        payload = payload[:at] + original + payload[after:]
    return payload


def expanded_digest(
    data: bytes, elided: Mapping[bytes, Elided], source: bytes, linesep: bytes
) -> tuple[int, str] | None:
    """Size and SHA-256 of ``data`` as if its marker lines were the cut lines; None if it has none.

    ``data`` is an attached message written out again by the stdlib
    generator, which ends every line with ``linesep``; the cut lines are
    hashed slice by slice with their line ends converted the same way, never
    joined into one copy. As in :func:`put_back`, a marker without its line
    end stands for the cut lines without their last one.
    """
    found = sorted(
        ((at, item) for item in elided.values() if (at := data.find(item.text)) >= 0),
        key=lambda pair: pair[0],
    )
    if not found:
        return None
    digest = hashlib.sha256()
    size = 0
    last = 0
    for at, item in found:
        after = at + len(item.text)
        stop = item.end
        if data.startswith(linesep, after):
            after += len(linesep)
        else:
            newline = item.line[len(item.text) :]
            stop -= len(newline) if source.startswith(newline, stop - len(newline)) else 0
        for piece in chain((data[last:at],), _lines(source, item.start, stop, linesep)):
            digest.update(piece)
            size += len(piece)
        last = after
    digest.update(data[last:])
    return size + len(data) - last, digest.hexdigest()


def _lines(source: bytes, start: int, end: int, linesep: bytes) -> Iterator[bytes]:
    """``source[start:end]`` in slices, each line end (CRLF, CR or LF) written as ``linesep``."""
    carry = b""
    for offset in range(start, end, _SLICE):
        chunk = carry + source[offset : min(offset + _SLICE, end)]
        carry = b""
        if chunk.endswith(b"\r") and offset + _SLICE < end:
            chunk, carry = chunk[:-1], b"\r"
        chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        yield chunk.replace(b"\n", linesep) if linesep != b"\n" else chunk
