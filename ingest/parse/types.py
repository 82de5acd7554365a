"""Value types produced by :func:`ingest.parse.parse`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message


@dataclass(frozen=True)
class Address:
    """One mailbox address; ``addr`` is lower-cased for matching, ``name`` as decoded."""

    name: str
    addr: str

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]


@dataclass(frozen=True)
class AttachmentInfo:
    """An attached file: what it claims to be and a hash of what it is.

    ``data`` is empty for a file over the limit the message was parsed with:
    it was hashed from the raw bytes, never decoded.
    """

    filename: str | None
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False, compare=False)
    inline: bool = False
    """True for parts shown inside the body (signature logos, pasted images), not attached files."""


@dataclass(frozen=True)
class Elided:
    """A file cut out before parsing: decoded size, SHA-256 and first bytes (to spot programs).

    ``start`` and ``end`` are where the cut lines were in the bytes given to
    :func:`ingest.parse.oversize.elide_oversized`; ``line`` is the marker line put in their place
    (the base64 of the marker and a line end), ``text`` the same without the
    line end. ``defects`` name what the stdlib would have found decoding the
    lines (bad padding), so that the message's defects do not depend on the limit.
    """

    size: int
    sha256: str
    head: bytes
    start: int
    end: int
    line: bytes
    defects: tuple[str, ...] = ()

    @property
    def text(self) -> bytes:
        return self.line.rstrip(b"\r\n")


@dataclass(frozen=True, eq=False)
class MimeTree:
    """The stdlib's tree of a parsed message, kept so that the forms reader need not parse again.

    ``elided`` maps each marker left in the tree to the attachment it
    stands for (:mod:`ingest.parse.oversize`); ``limit`` is the
    ``max_attachment_bytes`` the message was parsed with (None: nothing cut).
    The tree is the stdlib's mutable ``Message``: readers must not change it.
    """

    root: Message
    elided: Mapping[bytes, Elided]
    limit: int | None


@dataclass(frozen=True)
class ParsedEmail:
    """Everything later stages need from one message, decoded and normalised.

    Message-IDs are kept without angle brackets and otherwise exactly as sent.
    ``headers`` keeps every header in order, names lower-cased, values decoded
    (RFC 2047) and unfolded; it is what the classifier reads. ``text`` is the
    readable body (HTML-only mail converted), ``new_text`` the same with quoted
    history and forwarded chains cut off. ``content_hash`` identifies the
    message's content independently of trace headers, for deduplication of
    mail without a Message-ID. ``mime`` is the parsed tree for the forms reader
    (None when the message was built directly or could not be parsed); it is
    left out of comparisons and of ``repr``.
    """

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[str, ...]
    return_path: str | None
    date: datetime | None
    content_type: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    text: str = field(repr=False)
    new_text: str = field(repr=False)
    attachments: tuple[AttachmentInfo, ...] = field(repr=False)
    content_hash: str
    defects: tuple[str, ...] = ()
    #: Whom the message was delivered for, strongest first: X-Original-To, Delivered-To,
    #: Received ``for`` (first 30 hops); lower-cased (:mod:`ingest.parse.envelope`).
    envelope_recipients: tuple[str, ...] = ()
    mime: MimeTree | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or ``None``."""
        key = name.lower()
        for k, v in self.headers:
            if k == key:
                return v
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name``, topmost first."""
        key = name.lower()
        return tuple(v for k, v in self.headers if k == key)

    @property
    def recipients(self) -> tuple[str, ...]:
        """All addresses the message was sent or delivered to (lower-cased)."""
        seen: dict[str, None] = {}
        for a in (*self.to, *self.cc):
            seen[a.addr] = None
        for d in self.delivered_to:
            seen[d.lower()] = None
        return tuple(seen)
