"""Telling a person when a notice to staff could not be delivered.

A notice to the Independent Reviewing Officer or the business manager that
the relay refuses for good (5xx) used to be only logged and put on the
timeline, where nobody looks. Now the business manager is told, and the
``outgoing.alerts_address`` too when one is configured, by a mail queued
through :func:`tracker.outbox.enqueue` in the transaction that records the
failure: metadata only (reference, kind of mail, recipient), never child
data. Each failed row is told about once (unique intent
``delivery-failed:<outbox id>``). Mail to practitioners (acknowledgements,
a resolution told to the raiser) is not: it stays a timeline line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.config import Config
from tracker.model import Case
from tracker.notify import Renderer, render_mail
from tracker.outbox import OutgoingMail, enqueue
from tracker.rules.partnerships import Partnership, Partnerships

__all__ = ["ALERT_KIND", "STAFF_ROLES", "FailedMail", "FailureAlerts"]

#: The kind (and intent prefix) of the mail that tells of a failure.
ALERT_KIND = "delivery-failed"
#: Whose notices are told about when they fail.
STAFF_ROLES = ("iro", "business_manager")
TEMPLATE = "business_manager/delivery_failed"


@dataclass(frozen=True)
class FailedMail:
    """What is known of an outbox row that failed for good (no content)."""

    id: int
    case_id: int | None
    kind: str
    message_id: str
    recipients: Sequence[str]
    attempts: int


@dataclass(frozen=True)
class FailureAlerts:
    """Queues the notice of a failed delivery; built by the daemon from its service."""

    partnerships: Partnerships
    renderer: Renderer
    config: Config

    def queue(self, s: Session, failed: FailedMail, now: datetime) -> list[str]:
        """Queue the notices ``failed`` calls for, in ``s``; returns who is told."""
        if failed.kind == ALERT_KIND:
            return []  # a notice about a failure that fails itself: the log and timeline say so
        found = self._partnership(s, failed)
        if found is None:
            return []
        p, reference = found
        staff = {a.lower() for a in (p.role_address(r) for r in STAFF_ROLES) if a}
        recipient = next((r for r in failed.recipients if r.lower() in staff), None)
        if recipient is None:
            return []  # mail to a practitioner
        targets: list[tuple[str, str]] = []
        bm = p.role_address("business_manager")
        if bm:
            targets.append((f"{ALERT_KIND}:{failed.id}", bm))
        alerts = self.config.outgoing.alerts_address
        if alerts and (bm is None or alerts.lower() != bm.lower()):
            targets.append((f"{ALERT_KIND}:{failed.id}/alerts", alerts))
        context = {
            "reference": reference,
            "kind": failed.kind,
            "recipient": recipient,
            "attempts": failed.attempts,
            "partnership_name": p.display_name,
        }
        from_addr = self.config.outgoing.from_address
        mails = []
        for intent, to in targets:
            mail = render_mail(
                self.renderer,
                partnership=p.name,
                template=TEMPLATE,
                context=context,
                kind=ALERT_KIND,
                reference=reference,
                from_addr=from_addr,
                to=to,
                date=now,
                reply_to=bm,
            )
            mails.append(
                OutgoingMail(
                    kind=ALERT_KIND,
                    intent=intent,
                    to=to,
                    message_id=mail.message_id,
                    envelope_from=from_addr,
                    data=mail.data,
                    automatic=False,
                    case_id=failed.case_id,
                    detail=f"{ALERT_KIND} notice about {failed.kind} <{failed.message_id}> "
                    f"<{mail.message_id}> queued to {to}",
                )
            )
        enqueue(s, mails, now)
        return [to for _, to in targets]

    def _partnership(self, s: Session, failed: FailedMail) -> tuple[Partnership, str] | None:
        """The failed mail's partnership and reference: its case's, or (a roll-up, a
        digest) the partnership whose staff it was addressed to, under its prefix."""
        if failed.case_id is not None:
            row = s.execute(
                select(Case.partnership, Case.reference).where(Case.id == failed.case_id)
            ).first()
            if row is None:
                return None
            p = self.partnerships.by_name.get(row.partnership)
            return None if p is None else (p, row.reference)
        wanted = {r.lower() for r in failed.recipients}
        for p in self.partnerships.by_name.values():
            if any((p.role_address(r) or "").lower() in wanted for r in STAFF_ROLES):
                return p, p.prefix
        return None
