"""Read-only queries behind the operator's listings (``tracker cases|quarantine|outbox``).

The command modules in :mod:`tracker.cli` only format what these return, so
they hold no SQL. Each function reads in one short transaction and hands
back detached rows (the store does not expire them on commit); nothing here
writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from tracker.kinds import Outcome
from tracker.model import (
    Case,
    CaseField,
    Child,
    Deadline,
    Event,
    Message,
    OutboxItem,
    Participant,
    RawMail,
)
from tracker.store import Store

__all__ = [
    "CaseDetail",
    "case_detail",
    "cases",
    "ignored",
    "outbox_items",
    "quarantined",
    "sent_message_ids",
]


@dataclass(frozen=True)
class CaseDetail:
    """One case and everything ``tracker cases show`` prints about it, in id order."""

    case: Case
    deadlines: Sequence[Deadline]
    child: Child | None
    fields: Sequence[CaseField]
    messages: Sequence[Message]
    events: Sequence[Event]
    participants: Sequence[Participant] = ()


def cases(store: Store, status: str | None = None, partnership: str | None = None) -> list[Case]:
    """Every case (optionally of one status or partnership), oldest first."""
    q = select(Case).order_by(Case.id)
    if status:
        q = q.where(Case.status == status)
    if partnership:
        q = q.where(Case.partnership == partnership)
    with store.transaction() as s:
        return list(s.scalars(q))


def case_detail(store: Store, reference: str) -> CaseDetail | None:
    """The case with this reference (as stored: upper case), or ``None``."""
    with store.transaction() as s:
        case = s.scalars(select(Case).where(Case.reference == reference)).first()
        if case is None:
            return None
        return CaseDetail(
            case=case,
            deadlines=s.scalars(
                select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)
            ).all(),
            child=s.scalars(select(Child).where(Child.case_id == case.id)).first(),
            fields=s.scalars(
                select(CaseField).where(CaseField.case_id == case.id).order_by(CaseField.id)
            ).all(),
            messages=s.scalars(
                select(Message).where(Message.case_id == case.id).order_by(Message.id)
            ).all(),
            events=s.scalars(
                select(Event).where(Event.case_id == case.id).order_by(Event.id)
            ).all(),
            participants=s.scalars(
                select(Participant).where(Participant.case_id == case.id).order_by(Participant.id)
            ).all(),
        )


def quarantined(store: Store) -> list[RawMail]:
    """The messages held for review (their bytes not loaded)."""
    with store.transaction() as s:
        return list(
            s.scalars(
                select(RawMail).where(RawMail.outcome == Outcome.QUARANTINED).order_by(RawMail.id)
            )
        )


def ignored(store: Store, limit: int = 200) -> list[RawMail]:
    """The last ``limit`` messages ignored (robots, duplicates, our own mail), oldest first.

    Ignored mail opens no case and is moved to the processed folder, so this
    listing, with the reason each row keeps, is how a person checks that no
    escalation was taken for a robot.
    """
    with store.transaction() as s:
        rows = list(
            s.scalars(
                select(RawMail)
                .where(RawMail.outcome == Outcome.IGNORED)
                .order_by(RawMail.id.desc())
                .limit(limit)
            )
        )
    return rows[::-1]


def outbox_items(store: Store, state: str | None = None) -> list[OutboxItem]:
    """Outgoing mail (optionally in one delivery state), oldest first, without its bytes."""
    q = select(OutboxItem).order_by(OutboxItem.id)
    if state:
        q = q.where(OutboxItem.state == state)
    with store.transaction() as s:
        return list(s.scalars(q))


def sent_message_ids(store: Store, limit: int) -> list[str]:
    """The Message-IDs of the last ``limit`` mails sent, oldest first."""
    with store.transaction() as s:
        rows = s.scalars(
            select(OutboxItem.message_id)
            .where(OutboxItem.state == "sent")
            .order_by(OutboxItem.id.desc())
            .limit(limit)
        ).all()
    return list(reversed(rows))
