"""Delivering the outbox: one row at a time, at most once per intent.

Mail is queued by :func:`tracker.outbox.enqueue`; :func:`deliver_pending`
claims one row at a time: the row is committed as ``sending`` *before* the
hand-over and as ``sent`` after it. If the process dies in between, nobody
knows whether the relay took the mail, so the row is later marked
``uncertain`` and never retried automatically (as it is at once when the
connection is lost after the message data went out, before the reply): "at most once per intent"
beats a second acknowledgement (an operator may requeue it,
:func:`tracker.outbox.requeue`). Several daemons can share the outbox on
PostgreSQL: a row is claimed by a conditional ``UPDATE ... WHERE state =
'pending'``, so exactly one of them wins it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from tracker.clock import Clock
from tracker.delivery_alerts import FailedMail, FailureAlerts
from tracker.errors import DeliveryUncertain, PermanentDeliveryError, TemporaryDeliveryError
from tracker.kinds import EventKind, MailStage, mail_event
from tracker.model import Event, OutboxItem
from tracker.senders.base import Sender
from tracker.store import Store

log = logging.getLogger(__name__)
decisions = logging.getLogger("tracker.decisions")

#: A row left in ``sending`` longer than this belongs to a daemon that died.
SENDING_LEASE = timedelta(minutes=5)


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class DeliveryReport:
    """What one :func:`deliver_pending` call did, for the daemon's counters and the CLI."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0


def mark_abandoned_sends(store: Store, now: datetime, lease: timedelta = SENDING_LEASE) -> int:
    """Turn rows stuck in ``sending`` into ``uncertain`` (the daemon died mid-send)."""
    with store.transaction() as s:
        rows = s.scalars(
            select(OutboxItem).where(
                OutboxItem.state == "sending", OutboxItem.sending_since < now - lease
            )
        ).all()
        for row in rows:
            row.state = "uncertain"
            s.add(
                Event(
                    case_id=row.case_id,
                    at=now,
                    kind=EventKind.DELIVERY_UNCERTAIN,
                    detail=f"{row.kind} <{row.message_id}>: the daemon stopped while handing it "
                    "to the relay; not resent automatically (see 'tracker outbox')",
                )
            )
            log.warning(
                "outbox %s (%s) may or may not have been sent; left for an operator",
                row.id,
                row.message_id,
            )
        return len(rows)


@dataclass(frozen=True)
class _Claimed:
    id: int
    case_id: int | None
    kind: str
    message_id: str
    envelope_from: str
    recipients: list[str]
    data: bytes
    attempts: int


_CLAIM = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("row_id"), OutboxItem.state == "pending")
    .values(state="sending", sending_since=bindparam("now"), attempts=OutboxItem.attempts + 1)
    .returning(
        OutboxItem.id,
        OutboxItem.case_id,
        OutboxItem.kind,
        OutboxItem.message_id,
        OutboxItem.envelope_from,
        OutboxItem.recipients,
        OutboxItem.data,
        OutboxItem.attempts,
    )
)


_SET_SENT = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("row_id"))
    .values(state="sent", sent_at=bindparam("at"), last_error=None)
)
_SET_FAILED = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("row_id"))
    .values(state="failed", last_error=bindparam("error"))
)
_SET_UNCERTAIN = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("row_id"))
    .values(state="uncertain", last_error=bindparam("error"))
)
_SET_RETRY = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("row_id"))
    .values(state="pending", last_error=bindparam("error"), next_attempt_at=bindparam("retry_at"))
)
_ADD_EVENT = insert(Event).values(
    case_id=bindparam("case_id"),
    at=bindparam("at"),
    kind=bindparam("kind"),
    detail=bindparam("detail"),
)


def _due_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    return list(
        conn.scalars(
            select(OutboxItem.id)
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
            .order_by(OutboxItem.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class _Result:
    """How one hand-over went; recorded in the transaction that claims the next row."""

    item: _Claimed
    at: datetime
    error: str | None
    permanent: bool
    #: The relay may have taken it (connection lost after the data): never resent.
    uncertain: bool = False


def deliver_pending(
    store: Store,
    sender: Sender,
    clock: Clock,
    *,
    max_attempts: int = 8,
    limit: int = 10_000,
    alerts: FailureAlerts | None = None,
) -> DeliveryReport:
    """Deliver due rows one by one until none is due (or ``limit`` is reached).

    Each row is committed as ``sending`` before it is handed over, and its
    result is committed after; to keep a backlog fast, the result of one row
    and the claim of the next share a transaction. A row is claimed by a
    conditional ``UPDATE ... WHERE state = 'pending'``, so when several
    daemons share the database exactly one of them wins it. With ``alerts``, a
    notice to staff that fails for good is told to the business manager (and
    the alerts address) in the transaction that records the failure.
    """
    record = partial(_record, store, alerts)
    report = DeliveryReport()
    report.uncertain = mark_abandoned_sends(store, clock.now())
    remaining = limit
    done: _Result | None = None
    while remaining > 0:
        with store.connection() as conn:
            if done is not None:
                record(conn, done, report)
                done = None
            due = _due_ids(conn, clock.now(), min(remaining, 200))
        if not due:
            break
        for row_id in due:
            remaining -= 1
            with store.connection() as conn:
                if done is not None:
                    record(conn, done, report)
                    done = None
                row = conn.execute(_CLAIM, {"row_id": row_id, "now": clock.now()}).first()
            if row is not None:
                done = _hand_over(sender, clock, _Claimed(**row._asdict()), max_attempts)
    if done is not None:
        with store.connection() as conn:
            record(conn, done, report)
    return report


def _hand_over(sender: Sender, clock: Clock, item: _Claimed, max_attempts: int) -> _Result:
    try:
        sender.send(item.envelope_from, item.recipients, item.data, item.message_id)
    except TemporaryDeliveryError as exc:
        return _Result(item, clock.now(), str(exc), permanent=item.attempts >= max_attempts)
    except PermanentDeliveryError as exc:
        return _Result(item, clock.now(), str(exc), permanent=True)
    except DeliveryUncertain as exc:
        return _Result(item, clock.now(), str(exc), permanent=False, uncertain=True)
    return _Result(item, clock.now(), None, permanent=False)


def _record(
    store: Store,
    alerts: FailureAlerts | None,
    conn: Connection,
    result: _Result,
    report: DeliveryReport,
) -> None:
    item, now, error = result.item, result.at, result.error
    params: dict[str, object] = {"row_id": item.id, "at": now, "error": error}
    if error is None:
        statement = _SET_SENT
        kind: str = mail_event(item.kind, MailStage.SENT)
        detail = f"{item.kind} <{item.message_id}> handed to the relay"
        decisions.info("sent %s <%s>", item.kind, item.message_id)
        report.sent += 1
    elif result.uncertain:
        statement = _SET_UNCERTAIN
        kind = EventKind.DELIVERY_UNCERTAIN
        detail = (
            f"{item.kind} <{item.message_id}>: the connection was lost after the message was "
            "sent, before the relay replied; not resent automatically (see 'tracker outbox')"
        )
        log.warning("outbox %s may or may not have been sent; left for an operator", item.id)
        report.uncertain += 1
    elif result.permanent:
        statement = _SET_FAILED
        kind = EventKind.DELIVERY_FAILED
        detail = (
            f"{item.kind} <{item.message_id}> not delivered after "
            f"{item.attempts} attempt(s): {error}"
        )
        log.error("outbox %s failed permanently: %s", item.id, error)
        report.failed += 1
        if alerts is not None:
            _tell(store, alerts, conn, item, now)
    else:
        statement = _SET_RETRY
        params["retry_at"] = now + retry_delay(item.attempts)
        kind = EventKind.DELIVERY_RETRY
        detail = (
            f"{item.kind} <{item.message_id}> attempt {item.attempts} failed, will retry: {error}"
        )
        log.warning("outbox %s attempt %d failed: %s", item.id, item.attempts, error)
        report.retried += 1
    conn.execute(statement, params)
    conn.execute(_ADD_EVENT, {"case_id": item.case_id, "at": now, "kind": kind, "detail": detail})


def _tell(
    store: Store, alerts: FailureAlerts, conn: Connection, item: _Claimed, now: datetime
) -> None:
    """Queue the failure's notice; if that cannot be done, the failure is still recorded."""
    failed = FailedMail(
        item.id, item.case_id, item.kind, item.message_id, item.recipients, item.attempts
    )
    try:
        with store.session_on(conn) as s:
            told = alerts.queue(s, failed, now)
    except Exception as exc:  # a broken template must not lose the failure's own record
        log.error("outbox %s: could not queue its failure notice (%s)", item.id, type(exc).__name__)
        return
    if told:
        decisions.info("outbox %s failed: told %s", item.id, ", ".join(told))
