"""A follow-up to a case under its partnership's procedure, and what the rules' effects write.

:func:`follow` reads the new text of a reply (and what a form in it says) for
stage moves, flags, category and resolution, asks the engine what they mean
for the case, and turns the answer into timeline lines, deadline changes,
the case's new state and notices. :func:`effects_changes` is shared with
opening a case. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from ingest.forms import Extraction
from ingest.parse.types import ParsedEmail
from tracker.intake.context import Context
from tracker.intake.decision import CaseChange, Changes, ClosedDeadline, Line, OpenedDeadline
from tracker.intake.forms import record_forms
from tracker.intake.mail import notices
from tracker.intake.snapshot import CaseView
from tracker.intake.work import Work
from tracker.kinds import EventKind
from tracker.rules.engine import Effects, Engine
from tracker.rules.partnerships import Partnership
from tracker.rules.signals import Signal, read_signals

__all__ = ["effects_changes", "follow", "signals_for"]


def follow(
    work: Work, email: ParsedEmail, case: CaseView, ctx: Context, next_deadline_key: int
) -> Changes:
    """Forms, rules and notices for a message that joined ``case``."""
    assert email.from_ is not None
    partnership = ctx.partnerships.by_name.get(case.partnership)
    if partnership is None:
        detail = "partnership no longer configured: no rules"
        return Changes(lines=(Line(case.key, work.raw_id, EventKind.NOTED, detail),))
    engine = partnership.engine
    state = case.state
    if not state.track:
        state = replace(state, track=engine.rule_file.default_track)
    forms = record_forms(
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
        return forms
    fx = engine.apply(state, case.open_deadlines, signals, email.from_.addr, work.received_at)
    return forms + effects_changes(
        ctx,
        work.raw_id,
        case=case.key,
        reference=case.reference,
        partnership=partnership,
        fx=fx,
        resolved_at=case.resolved_at,
        child=forms.child.identifiers if forms.child is not None else case.child,
        next_deadline_key=next_deadline_key,
    )


def signals_for(
    email: ParsedEmail, forms: Extraction | None, engine: Engine, track: str | None
) -> list[Signal]:
    """Signals from the new text, plus what a form says (its concern, its category)."""
    text = email.new_text
    if forms is not None:
        extra = [
            forms.fields[n].value for n in ("concern", "requested_action") if n in forms.fields
        ]
        if extra:
            text = "\n".join([text, *extra])
    signals = read_signals(text, email.subject, engine.vocabulary_for(track))
    cat = forms.fields.get("category") if forms is not None else None
    if cat is not None and not any(s.kind == "category" for s in signals):
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
        case_change=CaseChange(case, fx.state, resolved_at),
    )
    return own + notices(
        ctx, case=case, reference=reference, partnership=partnership, fx=fx, child=child
    )
