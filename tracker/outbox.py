"""The transactional outbox: how mail gets in (:func:`enqueue`) and back in (:func:`requeue`).

Rows are written in the same transaction as the change that causes them (a
new case, a chaser claimed on its deadline row, a digest's period), so the
change and its mail exist together or not at all. :func:`enqueue` is the only
code that writes outbox rows; each mail also gets an outgoing ``Message`` row,
so a copy coming back is recognised as ours, and a ``<kind>-queued`` line on
its case's timeline. Delivery is :mod:`tracker.delivery`; mail it leaves
``failed`` or ``uncertain`` goes out again only when an operator says so
(:func:`requeue`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tracker.kinds import EventKind, MailStage, mail_event
from tracker.model import Event, Message, OutboxItem


@dataclass(frozen=True)
class OutgoingMail:
    """One rendered mail to queue, and what its timeline line says.

    ``intent`` is unique across the outbox (``ack:17``, ``reminder:42/0``...):
    a second mail with the same intent fails the transaction instead of going
    out twice. ``automatic`` mail counts toward the per-sender rate limit.
    """

    kind: str  # ack, iro_secure, reminder, digest ...
    intent: str
    to: str
    message_id: str  # without brackets
    envelope_from: str
    data: bytes  # the RFC 5322 bytes
    automatic: bool
    case_id: int | None = None
    #: The ``<kind>-queued`` timeline line; by default "<kind> <mid> queued to <to>".
    detail: str | None = None
    #: False for mail about no case that its caller keeps off the timeline (roll-ups).
    on_timeline: bool = True


def enqueue(session: Session, mails: Sequence[OutgoingMail], now: datetime) -> None:
    """Queue ``mails`` in the caller's transaction: the only code that writes outbox rows.

    Each mail becomes an outbox row (due at ``now``), an outgoing ``Message``
    row with verdict ``own`` (so a copy that comes back to a watched mailbox
    is recognised as ours and never opens a case) and a ``<kind>-queued``
    timeline line, written with one multi-row statement per table: the intake
    queues hundreds of acknowledgements at once. A duplicate intent raises
    :class:`sqlalchemy.exc.IntegrityError`, which undoes the whole transaction.
    """
    if not mails:
        return
    session.execute(
        insert(OutboxItem),
        [
            {
                "intent": m.intent,
                "case_id": m.case_id,
                "kind": m.kind,
                "message_id": m.message_id,
                "envelope_from": m.envelope_from,
                "recipients": [m.to],
                "rate_key": m.to.lower(),
                "data": m.data,
                "automatic": m.automatic,
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
            for m in mails
        ],
    )
    session.execute(
        insert(Message),
        [
            {
                "case_id": m.case_id,
                "raw_id": None,
                "direction": "out",
                "message_id": m.message_id,
                "content_hash": None,
                "from_addr": m.envelope_from,
                "at": now,
                "verdict": "own",
                "threaded_via": None,
            }
            for m in mails
        ],
    )
    lines = [
        {
            "case_id": m.case_id,
            "raw_id": None,
            "at": now,
            "kind": mail_event(m.kind, MailStage.QUEUED),
            "detail": m.detail or f"{m.kind} <{m.message_id}> queued to {m.to}",
        }
        for m in mails
        if m.on_timeline
    ]
    if lines:
        session.execute(insert(Event), lines)


class RequeueOutcome(StrEnum):
    """What :func:`requeue` did with one id."""

    REQUEUED = "requeued"
    NOT_FOUND = "not-found"
    WRONG_STATE = "wrong-state"  # only failed or uncertain mail is queued again


@dataclass(frozen=True)
class Requeued:
    """The answer for one id given to :func:`requeue`.

    ``state`` is the row's state before the call (``None`` when there is no
    such row), so the operator is told what the mail was.
    """

    id: int
    outcome: RequeueOutcome
    state: str | None


_REQUEUABLE = ("failed", "uncertain")


def requeue(session: Session, ids: Sequence[int], now: datetime) -> list[Requeued]:
    """Queue failed or uncertain mail again, after an operator has checked it.

    This is the only way out of ``failed`` and ``uncertain``: delivery never
    retries them by itself (an uncertain mail may already have reached its
    recipient). Each requeued row is due at ``now`` and gets a
    ``delivery-requeued`` line on its case's timeline. One answer per distinct
    id, in the order given.
    """
    wanted = list(dict.fromkeys(ids))
    rows = {r.id: r for r in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(wanted)))}
    results: list[Requeued] = []
    for row_id in wanted:
        row = rows.get(row_id)
        if row is None:
            results.append(Requeued(row_id, RequeueOutcome.NOT_FOUND, None))
            continue
        previous = row.state
        if previous not in _REQUEUABLE:
            results.append(Requeued(row_id, RequeueOutcome.WRONG_STATE, previous))
            continue
        row.state, row.next_attempt_at, row.sending_since = "pending", now, None
        session.add(
            Event(
                case_id=row.case_id,
                at=now,
                kind=EventKind.DELIVERY_REQUEUED,
                detail=f"{row.kind} <{row.message_id}> was {previous}; queued again by an operator",
            )
        )
        results.append(Requeued(row_id, RequeueOutcome.REQUEUED, previous))
    return results
