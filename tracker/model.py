"""Database tables, as SQLAlchemy 2 typed classes.

The flow leaves a trail in these tables: every fetched message is a
:class:`RawMail` row (bytes committed before the mailbox is touched), every
message in or out of a case a :class:`Message`, every decision an
:class:`Event`, every outgoing mail an :class:`OutboxItem` written in the same
transaction as the case change that caused it. Timestamps are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from tracker.errors import StoreError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: What PostgreSQL's text types refuse (NUL), and what takes its place: the
#: replacement character, so a reader sees that something was there.
REFUSED_IN_TEXT = "\x00"
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """``value`` with every character PostgreSQL refuses in text replaced by U+FFFD."""
    return value.replace(REFUSED_IN_TEXT, REPLACEMENT) if REFUSED_IN_TEXT in value else value


class CleanString(TypeDecorator[str]):
    """``String(n)`` that never hands PostgreSQL a NUL.

    Text from a message (a child's name in a form, a subject, an attachment's
    name) can carry a NUL; PostgreSQL refuses it, and one such value used to
    fail the whole batch. Every text column of the model uses this type (or
    :class:`CleanText`), so no writer has to remember; SQLite gets the same
    text, so the two databases store the same thing. The schema is unchanged.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)


class CleanText(CleanString):
    """``Text`` that never hands PostgreSQL a NUL (see :class:`CleanString`)."""

    impl = Text
    cache_ok = True


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class RawMail(Base):
    """Bytes exactly as fetched; the root of everything that follows.

    ``state`` moves ``pending`` -> ``done``; ``outcome`` says what became of it:
    ``case`` (opened one), ``thread`` (joined one), ``ignored`` (robot or our
    own mail), ``duplicate`` or ``quarantined`` (kept for review, with ``reason``).
    """

    __tablename__ = "raw_mail"
    __table_args__ = (UniqueConstraint("mailbox", "sha256", name="uq_raw_mail_mailbox_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(CleanString(100))
    external_id: Mapped[str] = mapped_column(CleanString(200))
    sha256: Mapped[str] = mapped_column(CleanString(64))
    size: Mapped[int]
    received_at: Mapped[datetime]
    stored_at: Mapped[datetime]
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    state: Mapped[str] = mapped_column(CleanString(16), default="pending", index=True)
    outcome: Mapped[str | None] = mapped_column(CleanString(16))
    reason: Mapped[str | None] = mapped_column(CleanText)
    error: Mapped[str | None] = mapped_column(CleanText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    #: The mailbox was told (moved/flagged) after the outcome was committed.
    acked_at: Mapped[datetime | None]
    replays: Mapped[int] = mapped_column(Integer, default=0)


class RefSequence(Base):
    """Last reference number issued per prefix and year; numbers are never reissued."""

    __tablename__ = "ref_sequence"

    prefix: Mapped[str] = mapped_column(CleanString(10), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(CleanString(32), unique=True)
    partnership: Mapped[str] = mapped_column(CleanString(50), index=True)
    status: Mapped[str] = mapped_column(CleanString(16), default="open")
    stage: Mapped[int] = mapped_column(default=1)
    flags: Mapped[list[str]] = mapped_column(default=list)
    category: Mapped[str | None] = mapped_column(CleanString(50))
    opened_at: Mapped[datetime]
    raised_by: Mapped[str] = mapped_column(CleanString(320))
    mailbox: Mapped[str] = mapped_column(CleanString(100))
    #: The procedure's track (Bedfordshire's case contexts; ``default`` elsewhere).
    track: Mapped[str | None] = mapped_column(CleanString(40))
    stage_entered_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    #: Bumped by every change the intake writes: a batch decided on an older version is
    #: decided again (another mailbox or daemon changed the case meanwhile).
    version: Mapped[int] = mapped_column(default=0, server_default="0")

    messages: Mapped[list[Message]] = relationship(
        back_populates="case", order_by="Message.id", lazy="raise_on_sql"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="case", order_by="Event.id", lazy="raise_on_sql"
    )
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="case", order_by="Deadline.id", lazy="raise_on_sql"
    )


class Message(Base):
    """A message in or out of a case; ``message_id`` is what replies point back to."""

    __tablename__ = "messages"
    __table_args__ = (
        # An inbound message without a Message-ID is identified by its content:
        # unique, so two daemons storing the same one at once cannot both win.
        Index(
            "uq_messages_inbound_content_hash",
            "content_hash",
            unique=True,
            sqlite_where=text("message_id IS NULL AND direction = 'in'"),
            postgresql_where=text("message_id IS NULL AND direction = 'in'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_mail.id"), index=True)
    direction: Mapped[str] = mapped_column(CleanString(3))  # "in" | "out"
    #: Unique: the same Message-ID is one message, whichever mailbox it reached.
    message_id: Mapped[str | None] = mapped_column(CleanString(998), unique=True)
    content_hash: Mapped[str | None] = mapped_column(CleanString(64))
    from_addr: Mapped[str | None] = mapped_column(CleanString(320))
    at: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(CleanString(16))
    threaded_via: Mapped[str | None] = mapped_column(CleanString(32))

    case: Mapped[Case | None] = relationship(back_populates="messages", lazy="raise_on_sql")


class Event(Base):
    """One line of a case's timeline. Append-only: rows are never updated or deleted."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_mail.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(CleanString(32))
    detail: Mapped[str] = mapped_column(CleanText)

    case: Mapped[Case | None] = relationship(back_populates="events", lazy="raise_on_sql")


class OutboxItem(Base):
    """An outgoing mail, rendered and given its Message-ID when it is enqueued.

    ``intent`` is unique (``ack:<case id>``...), so one intent can be enqueued
    at most once. ``state``: ``pending`` -> ``sending`` (committed just before
    the hand-over) -> ``sent``; ``failed`` after a permanent error or too many
    attempts; ``uncertain`` when the daemon died between ``sending`` and
    ``sent``: it is never retried automatically (at most once), an operator
    decides.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    intent: Mapped[str] = mapped_column(CleanString(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(CleanString(32))
    message_id: Mapped[str] = mapped_column(CleanString(998), unique=True)
    envelope_from: Mapped[str] = mapped_column(CleanString(320))
    recipients: Mapped[list[str]]
    #: Lower-cased main recipient: the per-sender rate limit counts rows by it.
    rate_key: Mapped[str] = mapped_column(CleanString(320), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    automatic: Mapped[bool] = mapped_column(default=True)
    state: Mapped[str] = mapped_column(CleanString(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sending_since: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(CleanText)


class Deadline(Base):
    """A stage's deadline, computed once from the rule that produced it.

    ``state``: ``open`` until the stage moves on or the case is resolved
    (``met``, with ``met_at``), or a flag imposes a stricter timescale
    (``superseded``). ``due_at`` is None when the procedure states no
    computable timescale (``basis`` says why). Chasers are recorded here
    (``reminded_at``, ``overdue_at``) in the same transaction as the mail they
    queue, so each goes out once per deadline whatever the scheduler remembers.
    """

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    track: Mapped[str] = mapped_column(CleanString(40))
    stage: Mapped[int]
    unit: Mapped[str | None] = mapped_column(CleanString(20))
    within: Mapped[float | None]
    basis: Mapped[str] = mapped_column(CleanString(16))
    #: ``case_opened``, ``stage_entered`` or ``flag:<name>``: what the time ran from.
    start_event: Mapped[str] = mapped_column(CleanString(40))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    #: Due outside business hours (same working day after the cut-off, clock hours at night).
    out_of_hours: Mapped[bool] = mapped_column(default=False)
    #: ``<procedure>@<file sha256 prefix> <key path>``: the rule that produced it.
    rule: Mapped[str] = mapped_column(CleanString(200))
    explanation: Mapped[str] = mapped_column(CleanText)
    state: Mapped[str] = mapped_column(CleanString(16), default="open")
    met_at: Mapped[datetime | None]
    reminder_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="deadlines", lazy="raise_on_sql")


class Child(Base):
    """A case's child identifiers (class A data), kept apart from case metadata.

    Never logged, never in a subject, exported only with ``--include-personal``,
    and sent only over a secure route. ``child_key`` is a keyed hash of name and
    date of birth (:func:`ingest.forms.child_key`) that links cases about the same
    child within a partnership without anyone reading the name.
    """

    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    partnership: Mapped[str] = mapped_column(CleanString(50))
    child_key: Mapped[str | None] = mapped_column(CleanString(64), index=True)
    name: Mapped[str | None] = mapped_column(CleanText)
    dob: Mapped[str | None] = mapped_column(CleanString(10))
    local_ref: Mapped[str | None] = mapped_column(CleanString(100))
    source: Mapped[str] = mapped_column(CleanString(200))
    recorded_at: Mapped[datetime]


class CaseField(Base):
    """One structured field of a case read from a form or the text (raiser, agency, concern...).

    The first value read wins; a later message fills gaps, and a different
    value is recorded as a conflict on the timeline (naming the field and the
    sources, never the values), not silently overwritten.
    """

    __tablename__ = "case_fields"
    __table_args__ = (UniqueConstraint("case_id", "name", name="uq_case_fields_case_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(CleanString(40))
    value: Mapped[str] = mapped_column(CleanText)
    source: Mapped[str] = mapped_column(CleanString(200))
    confidence: Mapped[float]
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_mail.id"))
    recorded_at: Mapped[datetime]


class Attachment(Base):
    """Every attached file of a stored message: name, type, size, sha256 and what became of it."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_mail.id"), index=True)
    filename: Mapped[str | None] = mapped_column(CleanText)
    content_type: Mapped[str] = mapped_column(CleanString(200))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(CleanString(64))
    #: read | no-form | unreadable | too-large | blocked | timeout
    status: Mapped[str] = mapped_column(CleanString(16))
    reason: Mapped[str] = mapped_column(CleanText)


class Participant(Base):
    """Someone who may act on a case by mail (see README, "Who may change a case").

    The raiser, the people the escalation was addressed to (the party
    challenged) and copied to, and whoever a participant copies in later.
    The partnership's staff come from the configuration and are not stored.
    """

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("case_id", "address", name="uq_participants_case_id_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    address: Mapped[str] = mapped_column(CleanString(320))
    #: raiser | addressed | copied | added
    role: Mapped[str] = mapped_column(CleanString(16))
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_mail.id"))
    added_at: Mapped[datetime]


class ClockMark(Base):
    """The latest time this database has been run at: the clock never moves backwards."""

    __tablename__ = "clock_mark"

    name: Mapped[str] = mapped_column(CleanString(40), primary_key=True)
    at: Mapped[datetime]


class MailboxState(Base):
    """UIDVALIDITY and the UID high-water mark of an IMAP folder."""

    __tablename__ = "mailbox_state"

    mailbox: Mapped[str] = mapped_column(CleanString(100), primary_key=True)
    uidvalidity: Mapped[int]
    last_uid: Mapped[int]


class AppendOnlyError(StoreError):
    """Raised when code tries to change or remove a timeline event."""


@event.listens_for(Session, "before_flush")
def _events_are_append_only(session: Session, flush_context: object, instances: object) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, Event) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError("case timeline events are append-only")
