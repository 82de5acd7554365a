"""A follow-up to a case under its partnership's procedure, and what the rules' effects write.

:func:`follow` reads the new text of a reply (and what a form in it says) for
stage moves, flags, category and resolution, asks the engine what they mean
for the case, and turns the answer into timeline lines, deadline changes,
the case's new state and notices. :func:`effects_changes` is shared with
opening a case. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime

from ingest.forms import Extraction
from ingest.parse.types import ParsedEmail
from tracker.intake.context import Context
from tracker.intake.decision import CaseChange, Changes, ClosedDeadline, Line, OpenedDeadline
from tracker.intake.forms import record_forms
from tracker.intake.mail import notices, outsider_notice, resolution_notices
from tracker.intake.participants import copied_in, standing_of
from tracker.intake.snapshot import CaseView
from tracker.intake.work import Work
from tracker.kinds import EventKind
from tracker.rules.authority import Standing
from tracker.rules.engine import Effects, Engine
from tracker.rules.partnerships import Partnership
from tracker.rules.signals import Signal, read_signals

__all__ = ["effects_changes", "follow", "own_source", "signals_for"]


def follow(
    work: Work, email: ParsedEmail, case: CaseView, ctx: Context, next_deadline_key: int
) -> Changes:
    """Forms, rules and notices for a message that joined ``case``, within the sender's rights."""
    assert email.from_ is not None and work.classification is not None
    partnership = ctx.partnerships.by_name.get(case.partnership)
    if partnership is None:
        detail = "partnership no longer configured: no rules"
        return Changes(lines=(Line(case.key, work.raw_id, EventKind.NOTED, detail),))
    sender = email.from_.addr
    standing = standing_of(
        sender,
        case,
        staff=partnership.staff,
        authenticated=work.classification.authenticated,
    )
    if standing is Standing.OUTSIDER:
        return _outsider(work, case, ctx, partnership, sender)
    own = {*ctx.own_addresses, *partnership.addresses}
    joined = copied_in(email, case, raw_id=work.raw_id, own=own)
    changes = Changes(participants=joined)
    if joined:
        who = ", ".join(p.address for p in joined)
        line = Line(case.key, work.raw_id, EventKind.PARTICIPANTS, f"copied in by {sender}: {who}")
        changes += Changes(lines=(line,))
    if sender in partnership.staff and standing is not Standing.STAFF:
        detail = (
            f"{sender} is staff, but this message's origin was not authenticated "
            "(no dmarc=pass from a trusted gateway): staff commands do not count"
        )
        changes += Changes(lines=(Line(case.key, work.raw_id, EventKind.NOTED, detail),))
    engine = partnership.engine
    state = case.state
    if not state.track:
        state = replace(state, track=engine.rule_file.default_track)
    changes += record_forms(
        work.forms,
        raw_id=work.raw_id,
        case=case.key,
        partnership=partnership.name,
        fields=case.fields,
        child=case.child,
        secret=ctx.child_key_secret,
    )
    signals = signals_for(email, work.forms, engine, state.track)
    if not signals:
        return changes
    fx = engine.apply(state, case.open_deadlines, signals, sender, work.received_at, standing)
    changes += effects_changes(
        ctx,
        work.raw_id,
        case=case.key,
        reference=case.reference,
        partnership=partnership,
        fx=fx,
        resolved_at=case.resolved_at,
        child=changes.child.identifiers if changes.child is not None else case.child,
        next_deadline_key=next_deadline_key,
        version=case.version,
    )
    if fx.state.status == "resolved" and case.state.status != "resolved":
        changes += resolution_notices(
            ctx,
            case=case.key,
            reference=case.reference,
            partnership=partnership,
            fx=fx,
            resolved_by=f"{sender} ({standing})",
            raw_id=work.raw_id,
        )
    return changes


def _outsider(
    work: Work, case: CaseView, ctx: Context, partnership: Partnership, sender: str
) -> Changes:
    """Mail about a case from someone outside it: kept, marked unverified, changes nothing."""
    detail = (
        f"unverified: {sender} is not a participant of this case; "
        "nothing in the message was applied"
    )
    line = Line(case.key, work.raw_id, EventKind.UNVERIFIED, detail)
    return Changes(lines=(line,)) + outsider_notice(
        ctx,
        case=case.key,
        reference=case.reference,
        partnership=partnership,
        sender=sender,
        told=case.outsiders_told,
    )


def own_source(source: str, attached_messages: Collection[str] = ()) -> bool:
    """Was a form field read from the message's own words or its own attached files?

    Quoted and forwarded parts (``forwarded:N``) and e-mails attached to the
    message (as the forms reader lists them) are someone else's words: they may
    fill case fields, never trigger anything.
    """
    if any(part.startswith("forwarded:") for part in source.split("/")):
        return False
    return not any(source == m or source.startswith(m + "/") for m in attached_messages)


def signals_for(
    email: ParsedEmail,
    forms: Extraction | None,
    engine: Engine,
    track: str | None,
    *,
    opening: bool = False,
) -> list[Signal]:
    """Signals from the new text, plus what the message's own form says (concern, category).

    A category inferred from the whole message counts only when it opens the case.
    """
    text = email.new_text
    fields = {} if forms is None else forms.fields
    attached = () if forms is None else forms.attached_messages
    extra = [
        fields[n].value
        for n in ("concern", "requested_action")
        if n in fields and own_source(fields[n].source, attached)
    ]
    if extra:
        text = "\n".join([text, *extra])
    signals = read_signals(text, email.subject, engine.vocabulary_for(track))
    cat = fields.get("category")
    usable = cat is not None and (
        opening or (cat.source != "inferred" and own_source(cat.source, attached))
    )
    if cat is not None and usable and not any(s.kind == "category" for s in signals):
        signals.append(Signal("category", cat.value, f"form ({cat.source}): category", False))
    return signals


def effects_changes(
    ctx: Context,
    raw_id: int,
    *,
    case: int,
    reference: str,
    partnership: Partnership,
    fx: Effects,
    resolved_at: datetime | None,
    child: Mapping[str, str | None] | None,
    next_deadline_key: int,
    version: int = 0,
) -> Changes:
    """Lines, deadline changes, the new state and notices for what the engine decided.

    ``resolved_at`` is when the case was resolved before this message (None
    if it was open); new deadlines take keys from ``next_deadline_key`` down.
    """
    lines = [Line(case, raw_id, kind, detail) for kind, detail in fx.events]
    lines += [Line(case, raw_id, EventKind.DEADLINE, d.explanation) for d in fx.deadlines]
    closed = tuple(
        ClosedDeadline(key, state, fx.at if state == "met" else None) for key, state in fx.closed
    )
    opened = tuple(
        OpenedDeadline(next_deadline_key - i, case, spec) for i, spec in enumerate(fx.deadlines)
    )
    if fx.state.status != "resolved":
        resolved_at = None
    elif resolved_at is None:
        resolved_at = fx.at
    own = Changes(
        lines=tuple(lines),
        closed=closed,
        opened=opened,
        case_change=CaseChange(case, fx.state, resolved_at, version),
    )
    return own + notices(
        ctx, case=case, reference=reference, partnership=partnership, fx=fx, child=child
    )
