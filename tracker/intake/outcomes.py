"""Small constructors shared by the triage and opening a case: quarantine, the inbound row."""

from __future__ import annotations

from ingest.parse.types import ParsedEmail
from tracker.intake.decision import Changes, Decision, InboundMessage, Line
from tracker.intake.work import Result, Work
from tracker.kinds import EventKind, Outcome
from tracker.threads import ThreadMatch

__all__ = ["inbound", "quarantine"]


def quarantine(work: Work, reason: str, error: str | None = None) -> Decision:
    """Hold the message for a person, with the reason on its own timeline line."""
    detail = f"message {work.raw_id} from mailbox {work.mailbox} quarantined: {reason}"
    line = Line(None, work.raw_id, EventKind.QUARANTINED, detail)
    return Decision(
        Result(work.raw_id, Outcome.QUARANTINED, reason),
        error=error,
        changes=Changes(lines=(line,)),
    )


def inbound(
    work: Work, email: ParsedEmail, case: int | None, thread: ThreadMatch
) -> InboundMessage:
    """The incoming ``messages`` row: how later mail threads by this one."""
    assert work.classification is not None
    return InboundMessage(
        case=case,
        message_id=email.message_id,
        content_hash=email.content_hash,
        from_addr=email.from_.addr if email.from_ else None,
        at=work.received_at,
        verdict=work.classification.verdict.value,
        threaded_via=thread.via,
    )
