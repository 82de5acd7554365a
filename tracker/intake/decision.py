"""The value :func:`tracker.intake.triage.decide` returns: everything one message changes.

A :class:`Decision` is frozen and holds plain values only, so a decision can
be unit-tested from literals and explained from its value. Cases are named by
*keys*: a stored case's id, or a negative number for a case opened earlier in
the same batch (:func:`tracker.intake.writer.apply` maps those to the ids the
database gives). Deadlines are keyed the same way.

Deciding one message builds its :class:`Changes` from small parts (the forms,
the rules' effects, the mail) joined with ``+``; no part writes into another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tracker.intake.work import Result
from tracker.rules.engine import CaseState, NewDeadline

__all__ = [
    "AttachmentRecord",
    "CaseChange",
    "Changes",
    "ChildRecord",
    "ChildUpdate",
    "ClosedDeadline",
    "Decision",
    "FieldRecord",
    "InboundMessage",
    "Line",
    "NewCase",
    "OpenedDeadline",
    "ParticipantRecord",
    "PlannedMail",
]


@dataclass(frozen=True)
class Line:
    """A timeline line: the case it belongs to (None: the message's own line) and its text."""

    case: int | None
    raw_id: int | None
    kind: str
    detail: str


@dataclass(frozen=True)
class InboundMessage:
    """The ``messages`` row of the incoming mail: how later mail finds this case."""

    case: int | None
    message_id: str | None
    content_hash: str
    from_addr: str | None
    at: datetime
    verdict: str
    threaded_via: str | None


@dataclass(frozen=True)
class NewCase:
    """A case this message opens; its reference number is claimed by ``apply``."""

    key: int
    reference: str
    prefix: str
    year: int
    number: int
    partnership: str
    mailbox: str
    raised_by: str
    opened_at: datetime


@dataclass(frozen=True)
class CaseChange:
    """The case's state after this message, when it was resolved (None: open), and the
    stored version it was decided from."""

    case: int
    state: CaseState
    resolved_at: datetime | None
    version: int = 0


@dataclass(frozen=True)
class ClosedDeadline:
    key: int
    state: str  # met | superseded
    met_at: datetime | None


@dataclass(frozen=True)
class OpenedDeadline:
    key: int
    case: int
    spec: NewDeadline


@dataclass(frozen=True)
class FieldRecord:
    case: int
    name: str
    value: str
    source: str
    confidence: float
    raw_id: int


@dataclass(frozen=True)
class ChildRecord:
    """The child's identifiers, first recorded (stored apart, in ``children``)."""

    case: int
    partnership: str
    child_key: str | None
    name: str | None
    dob: str | None
    local_ref: str | None
    source: str

    @property
    def identifiers(self) -> dict[str, str | None]:
        return {"name": self.name, "dob": self.dob, "local_ref": self.local_ref}


@dataclass(frozen=True)
class ChildUpdate:
    """Gaps a later message fills in a recorded child (never an overwrite)."""

    case: int
    values: tuple[tuple[str, str], ...]  # (name | dob | local_ref, value)
    child_key: str | None


@dataclass(frozen=True)
class ParticipantRecord:
    """Someone who becomes a participant of a case (see :mod:`tracker.rules.authority`)."""

    case: int
    address: str
    role: str  # raiser | addressed | copied | added
    raw_id: int


@dataclass(frozen=True)
class AttachmentRecord:
    raw_id: int
    filename: str | None
    content_type: str
    size: int
    sha256: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class PlannedMail:
    """One rendered outgoing mail; ``intent`` may hold ``{case}``, filled in with the case id."""

    case: int
    kind: str
    intent: str
    to: str
    message_id: str
    envelope_from: str
    data: bytes = field(repr=False)
    automatic: bool


@dataclass(frozen=True)
class Changes:
    """Rows and lines one message adds; ``a + b`` keeps both, in order."""

    lines: tuple[Line, ...] = ()
    mails: tuple[PlannedMail, ...] = ()
    fields: tuple[FieldRecord, ...] = ()
    attachments: tuple[AttachmentRecord, ...] = ()
    child: ChildRecord | None = None
    child_update: ChildUpdate | None = None
    closed: tuple[ClosedDeadline, ...] = ()
    opened: tuple[OpenedDeadline, ...] = ()
    case_change: CaseChange | None = None
    participants: tuple[ParticipantRecord, ...] = ()

    def __add__(self, other: Changes) -> Changes:
        return Changes(
            lines=self.lines + other.lines,
            mails=self.mails + other.mails,
            fields=self.fields + other.fields,
            attachments=self.attachments + other.attachments,
            child=other.child or self.child,
            child_update=other.child_update or self.child_update,
            closed=self.closed + other.closed,
            opened=self.opened + other.opened,
            case_change=other.case_change or self.case_change,
            participants=self.participants + other.participants,
        )


@dataclass(frozen=True)
class Decision:
    """Everything deciding one message wants written, and what to say about it."""

    result: Result
    #: Traceback summary for ``raw_mail.error`` (a bug or parser crash), never logged.
    error: str | None = None
    #: The incoming ``messages`` row (None for quarantined and duplicate mail).
    message: InboundMessage | None = None
    new_case: NewCase | None = None
    changes: Changes = Changes()
    #: True when the raw row was already done (by another daemon): nothing to write.
    already_done: bool = False

    @property
    def raw_id(self) -> int:
        return self.result.raw_id
