"""Value types of form extraction: what :func:`ingest.forms.extract` hands to the tracker.

Kept apart from the readers so that the tracker (and the worker processes that
run the readers) can import them without pulling in python-docx or pypdf.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CANONICAL_FIELDS",
    "CHILD_FIELDS",
    "AttachmentReport",
    "Blob",
    "Conflict",
    "Extraction",
    "FieldValue",
    "FormLimits",
    "MessageBody",
    "RawField",
    "ReadResult",
]

#: Every field a form or a message can fill, in the order a case record lists them.
CANONICAL_FIELDS = (
    "child_name",
    "child_dob",
    "child_ref",
    "raiser_name",
    "raiser_email",
    "raiser_agency",
    "other_party",
    "concern",
    "requested_action",
    "response",
    "resolution",
    "category",
    "form_date",
)

#: Class A (spec §2.4): child identifiers, stored apart, never in subjects, reports or logs.
CHILD_FIELDS = frozenset({"child_name", "child_dob", "child_ref"})


@dataclass(frozen=True)
class FieldValue:
    """One value for one canonical field, with where it was read and how sure we are."""

    name: str
    value: str = field(repr=False)
    """The value; ``repr`` leaves it out so that a stray log of the object shows no child data."""
    source: str
    confidence: float


@dataclass(frozen=True)
class AttachmentReport:
    """What happened to one attached file (nested files are named ``outer/inner``).

    ``reason`` is made of fixed phrases only, never of text from the file, so
    that it may be logged and shown to any operator.
    """

    filename: str | None
    content_type: str
    size: int
    sha256: str
    status: str
    """"read" | "no-form" | "unreadable" | "too-large" | "blocked" | "timeout"."""
    reason: str


@dataclass(frozen=True)
class Conflict:
    """Two or more sources gave different values for one field; all of them are kept."""

    name: str
    values: tuple[FieldValue, ...]


@dataclass(frozen=True)
class Extraction:
    """Everything the forms stage read from one message."""

    fields: dict[str, FieldValue]
    conflicts: tuple[Conflict, ...]
    attachments: tuple[AttachmentReport, ...]
    original_sender: tuple[str | None, str | None] | None
    """(name, email) of the practitioner who first wrote, when the message is a forward."""
    original_date: str | None
    """ISO date of that first message, when the message is a forward and it is known."""
    attached_messages: tuple[str, ...] = ()
    """Sources (``attachment:<path>``) of e-mails attached to the message: a field read there
    (or below) is someone else's words, like a ``forwarded:N`` part of the body."""


@dataclass(frozen=True)
class FormLimits:
    """Resource bounds, passed in from configuration.

    ``worker_memory_bytes`` caps the address space a reader process may add to
    what it starts with, so that a decompression bomb ends in a MemoryError in
    the worker instead of the host's OOM killer.
    """

    max_attachment_bytes: int = 10 * 1024 * 1024
    max_total_bytes: int = 40 * 1024 * 1024
    parse_timeout_seconds: float = 10.0
    worker_memory_bytes: int = 768 * 1024 * 1024


# ---------------------------------------------------------------------------
# Internal types shared by the readers, the worker process and the orchestrator.


@dataclass(frozen=True)
class Blob:
    """A file handed to a reader: its name and type as the sender gave them, and its bytes."""

    filename: str | None
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class RawField:
    """A canonical field as a reader found it, before sources are compared."""

    name: str
    value: str = field(repr=False)
    confidence: float
    where: str = ""
    """Sub-location inside the file ("" for the file itself, "forwarded:1" ...)."""


@dataclass(frozen=True)
class MessageBody:
    """The readable parts of a message found inside a file (TNEF, .msg).

    The orchestrator reads it like the top-level message, so that a forward
    inside an attached message is followed the same way.
    """

    text: str | None = field(default=None, repr=False)
    html: str | None = field(default=None, repr=False)
    sender_name: str | None = field(default=None, repr=False)
    sender_email: str | None = field(default=None, repr=False)
    date: str | None = None
    subject: str = field(default="", repr=False)


@dataclass(frozen=True)
class ReadResult:
    """What one reader returns from its worker process (picklable, bounded in size)."""

    status: str
    reason: str
    fields: tuple[RawField, ...] = ()
    children: tuple[Blob, ...] = field(default=(), repr=False)
    """Files found inside a container (TNEF, .msg); each is checked and read in turn."""
    body: MessageBody | None = None
