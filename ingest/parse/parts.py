"""What one MIME part is: its effective type, its file name, body text or attachment.

These read a part of the stdlib's tree without decoding its body, so they
are cheap to ask of every leaf; :class:`ingest.parse.mime.MessageReader`
asks once per leaf and keeps the answer.
"""

from __future__ import annotations

from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import NamedTuple

from ingest.parse.body import decode_bytes
from ingest.parse.headers import decode_words

__all__ = ["Leaf", "children", "content_type", "filename", "leaves", "read_leaf"]

_BODY_SUBTYPES = frozenset({"plain", "html"})


def content_type(part: Message) -> str:
    """The part's effective type: a multipart without parts is read as text, as the stdlib does."""
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and not part.is_multipart():
        return "text/plain"
    return ctype


def children(part: Message) -> list[Message]:
    """The sub-parts of a multipart; attached messages are leaves, not walked into."""
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return []
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def leaves(part: Message) -> list[Message]:
    """Every leaf of the tree in document order (attached messages are leaves)."""
    found = children(part)
    if not found:
        return [part]
    result: list[Message] = []
    for child in found:
        result.extend(leaves(child))
    return result


def filename(part: Message) -> str | None:
    """The file name the sender gave: Content-Disposition filename, else Content-Type name.

    An RFC 2231 value is preferred over a plain one given beside it, and RFC
    2047 words (Outlook writes them in names) are decoded.
    """
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        params = part.get_params(header=header) or []
        values = [value for key, value in params[1:] if key.lower() == param]
        if not values:
            continue
        value = next((v for v in values if isinstance(v, tuple)), values[0])
        if isinstance(value, tuple):
            charset, _, text = value
            # decode_params leaves the percent-decoded bytes as latin-1 text.
            name = decode_bytes(text.strip('"').encode("latin-1", "replace"), charset)[0]
        else:
            name = collapse_rfc2231_value(value)
        name = decode_words(name.strip().strip('"')).strip()
        if name:
            return name
    return None


class Leaf(NamedTuple):
    """What one leaf part is, read once."""

    content_type: str
    filename: str | None
    body_kind: str | None
    """"plain" or "html" for the message's body text, ``None`` for an attachment."""
    inline: bool
    """True if shown in the body (inline image, logo) rather than attached."""


def read_leaf(part: Message) -> Leaf:
    """Classify a leaf: body text or attachment, and how it is shown.

    text/plain and text/html are body text unless they are files: an
    explicit "inline" disposition wins over a file name (mail clients show
    such parts in the body); without a disposition a name means a file.
    """
    ctype = content_type(part)
    name = filename(part)
    disposition = (part.get_content_disposition() or "").strip()
    kind: str | None = None
    maintype, _, subtype = ctype.partition("/")
    if (
        maintype == "text"
        and subtype in _BODY_SUBTYPES
        and (disposition == "inline" or (disposition != "attachment" and name is None))
    ):
        kind = subtype
    inline = disposition == "inline" if disposition else part.get("content-id") is not None
    return Leaf(ctype, name, kind, inline)
