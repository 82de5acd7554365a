"""The transactional outbox: mail is queued with the case change, delivered afterwards.

Queuing happens inside the caller's transaction (:func:`enqueue`), so a case
and its acknowledgement exist together or not at all. Delivery
(:func:`deliver_pending`) claims one row at a time: the row is committed as
``sending`` *before* the hand-over and as ``sent`` after it. If the process
dies in between, nobody knows whether the relay took the mail, so the row is
later marked ``uncertain`` and never retried automatically: "at most once per
intent" beats a second acknowledgement. On PostgreSQL several daemons can
share the outbox; claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tracker.clock import Clock
from tracker.errors import PermanentDeliveryError, TemporaryDeliveryError
from tracker.model import Event, OutboxItem
from tracker.senders.base import Sender
from tracker.store import Store

log = logging.getLogger(__name__)
decisions = logging.getLogger("tracker.decisions")

#: A row left in ``sending`` longer than this belongs to a daemon that died.
SENDING_LEASE = timedelta(minutes=5)


def enqueue(
    session: Session,
    *,
    intent: str,
    case_id: int | None,
    kind: str,
    message_id: str,
    envelope_from: str,
    recipients: list[str],
    data: bytes,
    now: datetime,
    automatic: bool = True,
) -> OutboxItem:
    """Add one outgoing mail to the caller's transaction."""
    item = OutboxItem(
        intent=intent,
        case_id=case_id,
        kind=kind,
        message_id=message_id,
        envelope_from=envelope_from,
        recipients=recipients,
        rate_key=recipients[0].lower(),
        data=data,
        automatic=automatic,
        state="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(item)
    return item


def intent_exists(session: Session, intent: str) -> bool:
    return session.scalar(select(OutboxItem.id).where(OutboxItem.intent == intent)) is not None


def automatic_mail_count(session: Session, address: str, since: datetime) -> int:
    """How many automatic mails went (or are going) to ``address`` since ``since``."""
    return (
        session.scalar(
            select(func.count(OutboxItem.id)).where(
                OutboxItem.rate_key == address.lower(),
                OutboxItem.automatic.is_(True),
                OutboxItem.created_at >= since,
            )
        )
        or 0
    )


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class DeliveryReport:
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
                    kind="delivery-uncertain",
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


def _claim(store: Store, now: datetime) -> OutboxItem | None:
    with store.transaction() as s:
        row = s.scalars(
            select(OutboxItem)
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
            .order_by(OutboxItem.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        row.state = "sending"
        row.sending_since = now
        row.attempts += 1
        _ = row.data  # load the deferred bytes while the session is open
        return row


def deliver_pending(
    store: Store, sender: Sender, clock: Clock, *, max_attempts: int = 8, limit: int = 10_000
) -> DeliveryReport:
    """Deliver due rows one by one until none is due (or ``limit`` is reached)."""
    report = DeliveryReport()
    report.uncertain = mark_abandoned_sends(store, clock.now())
    for _ in range(limit):
        item = _claim(store, clock.now())
        if item is None:
            break
        try:
            sender.send(item.envelope_from, item.recipients, item.data, item.message_id)
        except TemporaryDeliveryError as exc:
            _finish(
                store, item, clock.now(), error=str(exc), permanent=item.attempts >= max_attempts
            )
            if item.attempts >= max_attempts:
                report.failed += 1
            else:
                report.retried += 1
            continue
        except PermanentDeliveryError as exc:
            _finish(store, item, clock.now(), error=str(exc), permanent=True)
            report.failed += 1
            continue
        _finish(store, item, clock.now(), error=None, permanent=False)
        report.sent += 1
    return report


def _finish(
    store: Store, item: OutboxItem, now: datetime, *, error: str | None, permanent: bool
) -> None:
    with store.transaction() as s:
        if error is None:
            values = {"state": "sent", "sent_at": now, "last_error": None}
            kind, detail = (
                f"{item.kind}-sent",
                f"{item.kind} <{item.message_id}> handed to the relay",
            )
            decisions.info("sent %s <%s>", item.kind, item.message_id)
        elif permanent:
            values = {"state": "failed", "last_error": error}
            kind = "delivery-failed"
            detail = (
                f"{item.kind} <{item.message_id}> not delivered after "
                f"{item.attempts} attempt(s): {error}"
            )
            log.error("outbox %s failed permanently: %s", item.id, error)
        else:
            values = {
                "state": "pending",
                "last_error": error,
                "next_attempt_at": now + retry_delay(item.attempts),
            }
            kind = "delivery-retry"
            detail = (
                f"{item.kind} <{item.message_id}> attempt {item.attempts} failed, "
                f"will retry: {error}"
            )
            log.warning("outbox %s attempt %d failed: %s", item.id, item.attempts, error)
        s.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(**values))
        s.add(Event(case_id=item.case_id, at=now, kind=kind, detail=detail))
