"""The MIME tree of a message, read by the stdlib ``email`` package (compat32).

The stdlib feed parser splits headers and multipart bodies, undoes transfer
encodings and reports structure problems as defects; this module only
decides what in that tree is body text and what is an attachment, and keeps
the stdlib's defect names in ``ParsedEmail.defects``.

Attached messages (``message/rfc822``) and delivery-status reports are kept
whole as attachments: the stdlib parses them into sub-messages, and their
bytes are regenerated without refolding, in the message's own line endings.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import re
from collections.abc import Mapping
from email.errors import InvalidBase64LengthDefect, MessageDefect
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import Compat32
from email.utils import collapse_rfc2231_value

from ingest.parse.body import decode_bytes
from ingest.parse.headers import decode_8bit, unfold
from ingest.parse.html_text import html_to_text
from ingest.parse.oversize import expanded_digest
from ingest.parse.parts import Leaf, children, content_type, leaves, read_leaf
from ingest.parse.types import AttachmentInfo, Elided

__all__ = ["MessageReader", "parse_bytes"]

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([-\w.:]+)""", re.I)


class _Policy(Compat32):
    """compat32, except that header values are read unfolded, 8-bit bytes as UTF-8 or windows-1252.

    compat32 hands 8-bit values out as ``Header`` objects whose text has the
    bytes replaced by U+FFFD; raw UTF-8 file names are common enough that
    they must stay readable. Unfolding lets a boundary or file name folded
    inside its quotes be read as mail clients read it.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return decode_8bit(unfold(value))[0]


# max_line_length=None: attached messages are regenerated without refolding.
_POLICY = _Policy(max_line_length=None)
_PARSER = BytesParser(policy=_POLICY)
_HEADER_PARSER = BytesHeaderParser(policy=_POLICY)


def parse_bytes(data: bytes, defects: list[str]) -> Message:
    """The stdlib's reading of ``data``; it does not raise on malformed MIME.

    The feed parser recurses once per nesting level, so hostile nesting
    exhausts the stack; such a message keeps its headers and its body is
    read as plain text.
    """
    try:
        return _PARSER.parsebytes(data)
    except RecursionError:
        defects.append("message: MIME nesting too deep, body read as plain text")
        return _HEADER_PARSER.parsebytes(data)


class MessageReader:
    """Body text, attachments and defects of one parsed message.

    Every part's payload is decoded at most once; the defects the stdlib
    finds while decoding (bad base64) are collected as they appear.

    ``elided``: what :mod:`ingest.parse.oversize` cut out of ``source`` before
    parsing (other cuts already put back): a file cut out whole is reported
    by its real size and SHA-256, without data.
    """

    def __init__(
        self,
        root: Message,
        defects: list[str],
        linesep: str,
        elided: Mapping[bytes, Elided] | None = None,
        source: bytes = b"",
    ) -> None:
        self.root = root
        self.defects = defects
        self._linesep = linesep
        self._elided = elided or {}
        self._source = source
        self._payloads: dict[int, bytes] = {}
        self._leaves: dict[int, Leaf] = {}
        for part in root.walk():
            self._note_defects(part, part.defects)

    def _note_defects(self, part: Message, found: list[MessageDefect]) -> None:
        """Record the stdlib's defects by class name, with where they were found."""
        where = "message" if part is self.root else content_type(part)
        for defect in found:
            self.defects.append(f"{where}: {type(defect).__name__}")

    def leaf(self, part: Message) -> Leaf:
        """What the leaf ``part`` is (cached)."""
        found = self._leaves.get(id(part))
        if found is None:
            found = self._leaves[id(part)] = read_leaf(part)
        return found

    def payload(self, part: Message) -> bytes:
        """The body with its Content-Transfer-Encoding undone; bad encodings give best effort."""
        key = id(part)
        cached = self._payloads.get(key)
        if cached is not None:
            return cached
        if part.is_multipart():
            data = self._regenerate_body(part)
        else:
            before = len(part.defects)
            decoded = part.get_payload(decode=True)
            data = decoded if isinstance(decoded, bytes) else b""
            self._note_defects(part, part.defects[before:])
            if any(isinstance(d, InvalidBase64LengthDefect) for d in part.defects[before:]):
                data = _base64_without_last_character(data)
            cut = self._elided.get(data)
            if cut is not None:  # what decoding the cut lines would have found
                where = "message" if part is self.root else content_type(part)
                self.defects.extend(f"{where}: {name}" for name in cut.defects)
        self._payloads[key] = data
        return data

    def _regenerate_body(self, part: Message) -> bytes:
        """The body of a message/* part the stdlib parsed into sub-messages, as bytes.

        An attached message is written out with its own "From " line if it
        had one; a transfer encoding (not allowed on message/*, but sent) is
        undone afterwards, as for any other part.
        """
        out = io.BytesIO()
        generator = BytesGenerator(out, mangle_from_=False, policy=_POLICY)
        payload = part.get_payload()
        if (
            isinstance(payload, list)
            and len(payload) == 1
            and isinstance(payload[0], Message)
            and part.get_content_type() != "message/delivery-status"
        ):
            inner = payload[0]
            unixfrom = inner.get_unixfrom() is not None
            generator.flatten(inner, unixfrom=unixfrom, linesep=self._linesep)
            data = out.getvalue()
        else:
            generator.flatten(part, unixfrom=False, linesep=self._linesep)
            data = _without_headers(out.getvalue(), part, self._linesep)
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
        if cte in ("base64", "quoted-printable"):
            encoded = Message(policy=_POLICY)
            encoded["Content-Transfer-Encoding"] = cte
            encoded.set_payload(data.decode("ascii", "surrogateescape"))
            decoded = encoded.get_payload(decode=True)
            data = decoded if isinstance(decoded, bytes) else data
        return data

    # -- body text -----------------------------------------------------------

    def body_text(self) -> str:
        """The readable text: text/plain preferred, HTML converted only when alone."""
        pieces = []
        for kind, text in self._texts(self.root):
            pieces.append(html_to_text(text) if kind == "html" else text)
        return "\n\n".join(piece.strip("\n") for piece in pieces if piece.strip())

    def _leaf_text(self, part: Message) -> tuple[str, str] | None:
        """The decoded text of a body leaf as ("plain" | "html", text), or ``None``."""
        leaf = self.leaf(part)
        if leaf.body_kind is None:
            return None
        data = self.payload(part)
        charset = part.get_param("charset")
        label = collapse_rfc2231_value(charset) if charset else None
        html = leaf.body_kind == "html"
        if html and not label:
            match = _META_CHARSET.search(data, 0, 4096)
            if match:
                label = match.group(1).decode("ascii", "replace")
        text, note = decode_bytes(data, label)
        if note:
            self.defects.append(f"body {leaf.content_type}: {note}")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return ("html" if html else "plain", text)

    def _texts(self, part: Message) -> list[tuple[str, str]]:
        """The body pieces of ``part`` in reading order, one branch of each alternative."""
        subparts = children(part)
        if not subparts:
            found = self._leaf_text(part)
            return [found] if found else []
        if part.get_content_subtype() == "alternative":
            branches = [self._kinds(child) for child in subparts]
            # Prefer the first branch that has plain text; otherwise the first
            # with any text, which will be HTML converted. Some mailers send an
            # empty text/plain beside the real HTML, so a blank choice falls
            # through to the next kind.
            for wanted in ("plain", "html"):
                for child, kinds in zip(subparts, branches, strict=True):
                    if wanted in kinds:
                        chosen = self._texts(child)
                        if any(text.strip() for _, text in chosen):
                            return chosen
                        break
            return []
        pieces: list[tuple[str, str]] = []
        for child in subparts:
            pieces.extend(self._texts(child))
        return pieces

    # -- attachments ---------------------------------------------------------

    def attachments(self) -> tuple[AttachmentInfo, ...]:
        """Every leaf that is not body text, decoded, sized and hashed.

        Inline images, signature logos, delivery-status reports and attached
        messages (kept whole) are included; ``inline`` tells them apart from
        files the sender attached on purpose.
        """
        found: list[AttachmentInfo] = []
        for part in leaves(self.root):
            leaf = self.leaf(part)
            if leaf.body_kind is not None:
                continue
            data = self.payload(part)
            size, sha256 = self._measure(part, data)
            found.append(
                AttachmentInfo(
                    filename=leaf.filename,
                    content_type=leaf.content_type,
                    size=len(data) if size is None else size,
                    sha256=sha256,
                    data=data if size is None else b"",
                    inline=leaf.inline,
                )
            )
        return tuple(found)

    def _measure(self, part: Message, data: bytes) -> tuple[int | None, str]:
        """The real size (None: ``len(data)``) and SHA-256 of an attachment, cut out or not.

        A file cut out whole is its marker; an attached message holding
        markers is measured as if its cut lines were still in it.
        """
        if self._elided:
            cut = self._elided.get(data)
            if cut is not None:
                return cut.size, cut.sha256
            if part.is_multipart():
                linesep = self._linesep.encode()
                expanded = expanded_digest(data, self._elided, self._source, linesep)
                if expanded is not None:
                    return expanded
        return None, hashlib.sha256(data).hexdigest()

    def _kinds(self, part: Message) -> set[str]:
        """Which kinds of body text ``part`` would yield, without decoding anything."""
        return {kind for leaf in leaves(part) if (kind := self.leaf(leaf).body_kind) is not None}


def _without_headers(data: bytes, part: Message, linesep: str) -> bytes:
    """The body of a generated part: what follows its header block."""
    if not part.keys():
        return data[len(linesep) :]
    blank = linesep.encode() * 2
    head_end = data.find(blank)
    return data[head_end + len(blank) :] if head_end >= 0 else b""


def _base64_without_last_character(encoded: bytes) -> bytes:
    """Decode base64 whose length is one more than a multiple of four, dropping the lone rest.

    The stdlib gives such a payload back undecoded; the rest of it is a
    readable file with one character too many.
    """
    clean = encoded.split(b"=", 1)[0]
    clean = clean.translate(None, clean.translate(None, _BASE64_ALPHABET))
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    try:
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
    except binascii.Error:
        return encoded
