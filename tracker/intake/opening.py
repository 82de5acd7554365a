"""A new case from a person's escalation: its partnership, reference, rules and acknowledgement.

The reference number is the snapshot's last number for the partnership's
prefix and year plus one; :func:`tracker.intake.writer.apply` claims it in
the database and refuses the batch if another daemon took it meanwhile. Pure.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ingest.parse.types import ParsedEmail
from tracker.intake.context import Context
from tracker.intake.decision import Changes, Decision, Line, NewCase
from tracker.intake.following import effects_changes, signals_for
from tracker.intake.forms import record_forms
from tracker.intake.mail import compose, local_text, template_context
from tracker.intake.outcomes import inbound, quarantine
from tracker.intake.participants import escalation_participants
from tracker.intake.routing import partnership_for
from tracker.intake.snapshot import Snapshot
from tracker.intake.work import Result, Work
from tracker.kinds import EventKind, Outcome
from tracker.refcode import format_reference
from tracker.rules.authority import Standing
from tracker.rules.engine import Effects
from tracker.rules.partnerships import Partnership
from tracker.threads import ThreadMatch

__all__ = ["open_case"]

LONDON = ZoneInfo("Europe/London")


def open_case(
    work: Work, email: ParsedEmail, thread: ThreadMatch, snapshot: Snapshot, ctx: Context
) -> Decision:
    assert email.from_ is not None and work.classification is not None
    mailbox = ctx.mailboxes.get(work.mailbox)
    if mailbox is None:
        raise LookupError(f"mailbox {work.mailbox!r} is no longer configured")
    names = mailbox.partnership_names
    intake = {n: ctx.partnerships[n].addresses for n in names}
    name = partnership_for(intake, email, mailbox.address)
    if name is None:
        return quarantine(
            work,
            "held for review: cannot tell which partnership this escalation is for "
            f"(mailbox {work.mailbox} serves {', '.join(names)}; the recipients match "
            "none or several of their addresses)",
        )
    partnership = ctx.partnerships[name]
    year = work.received_at.astimezone(LONDON).year
    number = snapshot.sequences.get((partnership.prefix, year), 0) + 1
    reference = format_reference(partnership.prefix, year, number)
    engine = partnership.engine
    raised_by = email.from_.addr
    original = work.forms.original_sender if work.forms else None
    if original and original[1]:
        # A forwarded escalation: the practitioner who raised it is the original sender.
        raised_by = original[1].lower()
    fx = engine.open(
        reference=reference,
        opened_at=work.received_at,
        raised_by=raised_by,
        signals=signals_for(email, work.forms, engine, None, opening=True),
        standing=(
            Standing.STAFF
            if work.classification.authenticated and raised_by in partnership.staff
            else Standing.RAISER
        ),
    )
    key = snapshot.next_case_key
    new = NewCase(
        key,
        reference,
        partnership.prefix,
        year,
        number,
        name,
        work.mailbox,
        raised_by,
        work.received_at,
    )
    mid_text = f"<{email.message_id}>" if email.message_id else "(no Message-ID)"
    verdict = work.classification
    signals_text = f"; signals: {', '.join(verdict.signals)}" if verdict.signals else ""
    opened = Line(
        key,
        work.raw_id,
        EventKind.OPENED,
        f"case opened from message {mid_text} from {email.from_.addr} "
        f"to mailbox {work.mailbox}, received "
        f"{work.received_at.isoformat()}; {thread.detail}{signals_text}",
    )
    own = {*ctx.own_addresses, *partnership.addresses}
    joined = escalation_participants(email, raised_by, case=key, raw_id=work.raw_id, own=own)
    changes = Changes(lines=(opened,), participants=joined)
    forms = record_forms(
        work.forms,
        raw_id=work.raw_id,
        case=key,
        partnership=name,
        fields={},
        child=None,
        secret=ctx.child_key_secret,
    )
    changes += forms
    if raised_by != email.from_.addr:
        detail = f"forwarded by {email.from_.addr}; raised by {raised_by}"
        changes += Changes(lines=(Line(key, work.raw_id, EventKind.RAISER, detail),))
    changes += effects_changes(
        ctx,
        work.raw_id,
        case=key,
        reference=reference,
        partnership=partnership,
        fx=fx,
        resolved_at=None,
        child=forms.child.identifiers if forms.child is not None else None,
        next_deadline_key=snapshot.next_deadline_key,
    )
    ack = _acknowledgement(ctx, snapshot, email, key, reference, mailbox.address, partnership, fx)
    return Decision(
        Result(work.raw_id, Outcome.CASE, f"opened {reference}", reference, bool(ack.mails)),
        message=inbound(work, email, key, thread),
        new_case=new,
        changes=changes + ack,
    )


def _acknowledgement(
    ctx: Context,
    snapshot: Snapshot,
    email: ParsedEmail,
    case: int,
    reference: str,
    mailbox_address: str,
    partnership: Partnership,
    fx: Effects,
) -> Changes:
    """The one acknowledgement of a new case, unless the sender has had too many."""
    assert email.from_ is not None
    to = email.from_.addr
    limit = ctx.config.limits.auto_mail_per_sender_per_hour
    sent = snapshot.auto_counts.get(to.lower(), 0)
    if sent >= limit:
        why = f"rate limit: {sent} automatic mails to {to} in the last hour (limit {limit})"
        line = Line(case, None, EventKind.ACK_SKIPPED, f"no acknowledgement: {why}")
        return Changes(lines=(line,))
    context = template_context(reference, partnership, fx)
    context["mailbox_address"] = mailbox_address
    context["received_local"] = local_text(fx.state.opened_at)
    mid = email.message_id
    return compose(
        ctx,
        case=case,
        reference=reference,
        partnership=partnership,
        kind="ack",
        intent="ack:{case}",
        to=to,
        template="sender/ack",
        context=context,
        automatic=True,
        in_reply_to=mid,
        references=(*email.references, mid) if mid else (),
        reply_to=mailbox_address,
    )
