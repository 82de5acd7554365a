"""What one incoming message means: a pure function of the message, the snapshot and the context.

:func:`decide` runs the triage of DESIGN.md §4 in order: already done,
unparseable, our own mail or a duplicate, held for review, a robot's mail,
a follow-up to a case (its rules applied), or a new case with its
acknowledgement. It returns a frozen :class:`~tracker.intake.decision.Decision`
and touches no database, clock or mailbox; :mod:`tracker.intake.writer`
writes what it says.
"""

from __future__ import annotations

from ingest.classify import Verdict
from tracker.intake.context import Context
from tracker.intake.decision import Changes, Decision, Line
from tracker.intake.following import follow
from tracker.intake.opening import open_case
from tracker.intake.outcomes import inbound, quarantine
from tracker.intake.snapshot import Snapshot
from tracker.intake.work import Result, Work
from tracker.kinds import EventKind, Outcome
from tracker.threads import match

__all__ = ["decide"]


def decide(work: Work, snapshot: Snapshot, ctx: Context) -> Decision:
    """Decide one message (see the module docstring)."""
    earlier = snapshot.done.get(work.raw_id)
    if earlier is not None:
        # Done by another daemon, or the same bytes twice in this batch.
        return Decision(earlier, already_done=True)
    email = work.email
    if email is None:
        return quarantine(work, work.parse_error or "unparseable", work.parse_trace)
    assert work.classification is not None
    verdict = work.classification
    mid = email.message_id
    mid_text = f"<{mid}>" if mid else "(no Message-ID)"

    seen: tuple[str, int | None] | None
    if mid:
        seen = snapshot.by_mid.get(mid)
    elif email.content_hash in snapshot.by_hash:
        seen = ("in", snapshot.by_hash[email.content_hash])
    else:
        seen = None
    if seen is not None:
        direction, case = seen
        if direction == "out":
            reason = f"own mail: our outgoing {mid_text} came back to mailbox {work.mailbox}"
        else:
            how = "Message-ID" if mid else "content"
            reason = f"duplicate: same {how} as message already received {mid_text}"
        lines = (
            ()
            if case is None
            else (Line(case, work.raw_id, EventKind.IGNORED, f"ignored: {reason}"),)
        )
        return Decision(Result(work.raw_id, Outcome.IGNORED, reason), changes=Changes(lines=lines))

    if verdict.verdict in (Verdict.SUSPICIOUS, Verdict.NO_SENDER):
        return quarantine(work, f"held for review: {verdict.reason}")

    thread = match(email, snapshot, ctx.partnerships.prefixes)
    found = snapshot.cases.get(thread.case_id) if thread.case_id is not None else None
    if verdict.automated:
        case = found.key if found is not None else None
        lines = ()
        if case is not None:
            detail = f"ignored: {verdict.reason}; {thread.detail}"
            lines = (Line(case, work.raw_id, EventKind.IGNORED, detail),)
        return Decision(
            Result(work.raw_id, Outcome.IGNORED, verdict.reason),
            message=inbound(work, email, case, thread),
            changes=Changes(lines=lines),
        )

    assert email.from_ is not None  # NO_SENDER was quarantined above
    if found is None:
        return open_case(work, email, thread, snapshot, ctx)
    detail = (
        f"message {mid_text} from {email.from_.addr} to mailbox {work.mailbox}; {thread.detail}"
    )
    arrived = Changes(lines=(Line(found.key, work.raw_id, EventKind.MESSAGE_IN, detail),))
    return Decision(
        Result(work.raw_id, Outcome.THREAD, thread.detail, found.reference),
        message=inbound(work, email, found.key, thread),
        changes=arrived + follow(work, email, found, ctx, snapshot.next_deadline_key),
    )
