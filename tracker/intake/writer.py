"""Write a batch's decisions: the only database code of the intake.

Everything goes in with a handful of multi-row statements, in the caller's
transaction. Reference numbers are claimed here: each new case's number was
decided as the snapshot's last number plus one, and the sequence row moves
on only if it still holds that last number (a conditional ``UPDATE``); if
another daemon took a number meanwhile, :class:`~tracker.errors.ConflictError`
undoes the transaction and the batch is decided again on a fresh snapshot.
Outgoing mail goes through :func:`tracker.outbox.enqueue`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from tracker.errors import ConflictError
from tracker.intake.decision import CaseChange, Decision, NewCase
from tracker.intake.rows import case_columns
from tracker.model import (
    Attachment,
    Case,
    CaseField,
    Child,
    Deadline,
    Event,
    Message,
    Participant,
    RawMail,
    RefSequence,
)
from tracker.outbox import OutgoingMail, enqueue

__all__ = ["apply"]

#: Core tables, for conditional multi-row UPDATEs (the ORM's bulk update takes no WHERE).
_CASES = cast(Table, Case.__table__)
_RAW = cast(Table, RawMail.__table__)

#: Maps a case key (negative: opened in this batch) to its row id.
_CaseId = Callable[[int | None], int | None]


def apply(s: Session, decisions: Sequence[Decision], now: datetime) -> None:
    """Insert and update everything ``decisions`` say, in the caller's transaction."""
    todo = [d for d in decisions if not d.already_done]
    if not todo:
        return
    new_cases = [d.new_case for d in todo if d.new_case is not None]
    _claim_references(s, new_cases)
    final: dict[int, CaseChange] = {}
    for d in todo:
        if d.changes.case_change is not None:
            final[d.changes.case_change.case] = d.changes.case_change
    ids: dict[int, int] = {}
    if new_cases:
        rows = [_new_case_row(c, final[c.key]) for c in new_cases]
        got = s.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True), rows).all()
        ids = {c.key: case_id for c, case_id in zip(new_cases, got, strict=True)}

    def case_id(key: int | None) -> int | None:
        return None if key is None else ids.get(key, key)

    messages = [
        {
            "case_id": case_id(m.case),
            "raw_id": d.raw_id,
            "direction": "in",
            "message_id": m.message_id,
            "content_hash": m.content_hash,
            "from_addr": m.from_addr,
            "at": m.at,
            "verdict": m.verdict,
            "threaded_via": m.threaded_via,
        }
        for d in todo
        if (m := d.message) is not None
    ]
    if messages:
        s.execute(insert(Message), messages)
    events = [
        {
            "case_id": case_id(x.case),
            "raw_id": x.raw_id,
            "at": now,
            "kind": x.kind,
            "detail": x.detail,
        }
        for d in todo
        for x in d.changes.lines
    ]
    if events:
        s.execute(insert(Event), events)
    fields = [
        {
            "case_id": case_id(f.case),
            "name": f.name,
            "value": f.value,
            "source": f.source,
            "confidence": f.confidence,
            "raw_id": f.raw_id,
            "recorded_at": now,
        }
        for d in todo
        for f in d.changes.fields
    ]
    if fields:
        s.execute(insert(CaseField), fields)
    participants = [
        {
            "case_id": case_id(p.case),
            "address": p.address,
            "role": p.role,
            "raw_id": p.raw_id,
            "added_at": now,
        }
        for d in todo
        for p in d.changes.participants
    ]
    if participants:
        s.execute(insert(Participant), participants)
    _write_children(s, todo, case_id, now)
    attachments = [vars(a) for d in todo for a in d.changes.attachments]
    if attachments:
        s.execute(insert(Attachment), attachments)
    _write_deadlines(s, todo, case_id, now)
    _update_cases(s, [change for key, change in final.items() if key > 0])
    _finish_raw(s, todo, now)
    enqueue(
        s,
        [
            OutgoingMail(
                kind=m.kind,
                intent=m.intent.format(case=case_id(m.case)),
                to=m.to,
                message_id=m.message_id,
                envelope_from=m.envelope_from,
                data=m.data,
                automatic=m.automatic,
                case_id=case_id(m.case),
            )
            for d in todo
            for m in d.changes.mails
        ],
        now,
    )


def _update_cases(s: Session, changes: Sequence[CaseChange]) -> None:
    """Each changed case's new state, if it is still at the version it was decided from."""
    if not changes:
        return
    cols = case_columns(changes[0].state, None)
    stmt = (
        update(_CASES)
        .where(Case.id == bindparam("b_id"), Case.version == bindparam("b_version"))
        .values(version=Case.version + 1, **{c: bindparam(f"b_{c}") for c in cols})
    )
    rows = [
        {
            "b_id": c.case,
            "b_version": c.version,
            **{f"b_{k}": v for k, v in case_columns(c.state, c.resolved_at).items()},
        }
        for c in changes
    ]
    done: CursorResult[Any] = s.execute(stmt, rows)  # type: ignore[assignment]
    if done.rowcount != len(rows):
        raise ConflictError("a case changed meanwhile (another mailbox or daemon wrote to it)")


def _finish_raw(s: Session, todo: Sequence[Decision], now: datetime) -> None:
    """Mark the raw rows done, if no other daemon has done them meanwhile."""
    stmt = (
        update(_RAW)
        .where(RawMail.id == bindparam("b_id"), RawMail.state == "pending")
        .values(
            state="done",
            outcome=bindparam("b_outcome"),
            reason=bindparam("b_reason"),
            error=bindparam("b_error"),
            processed_at=now,
        )
    )
    rows = [
        {
            "b_id": d.raw_id,
            "b_outcome": str(d.result.outcome),
            "b_reason": d.result.reason,
            "b_error": d.error,
        }
        for d in todo
    ]
    done: CursorResult[Any] = s.execute(stmt, rows)  # type: ignore[assignment]
    if done.rowcount != len(rows):
        raise ConflictError("a message was processed meanwhile by another daemon")


def _new_case_row(c: NewCase, change: CaseChange) -> dict[str, Any]:
    return {
        "reference": c.reference,
        "partnership": c.partnership,
        "opened_at": c.opened_at,
        "raised_by": c.raised_by,
        "mailbox": c.mailbox,
        **case_columns(change.state, change.resolved_at),
    }


def _claim_references(s: Session, new_cases: Sequence[NewCase]) -> None:
    """Move each reference sequence past the numbers decided, or raise ConflictError."""
    numbers: dict[tuple[str, int], list[int]] = {}
    for c in new_cases:
        numbers.setdefault((c.prefix, c.year), []).append(c.number)
    for (prefix, year), taken in sorted(numbers.items()):
        before, last = min(taken) - 1, max(taken)
        moved: CursorResult[Any] = s.execute(  # type: ignore[assignment]
            update(RefSequence)
            .where(
                RefSequence.prefix == prefix, RefSequence.year == year, RefSequence.last == before
            )
            .values(last=last)
        )
        if moved.rowcount == 1:
            continue
        exists = s.scalar(
            select(RefSequence.last).where(RefSequence.prefix == prefix, RefSequence.year == year)
        )
        if exists is not None or before != 0:
            raise ConflictError(f"reference numbers for {prefix}-{year} were taken meanwhile")
        # The first case of the year: a second daemon inserting too fails on the key.
        s.execute(insert(RefSequence).values(prefix=prefix, year=year, last=last))


def _write_children(s: Session, todo: Sequence[Decision], case_id: _CaseId, now: datetime) -> None:
    """New children rows, with gaps later messages of the batch filled; gaps in stored ones."""
    new: dict[int, dict[str, Any]] = {}
    stored: dict[int, dict[str, Any]] = {}
    for d in todo:
        c = d.changes
        if c.child is not None:
            ch = c.child
            new[ch.case] = {
                "case_id": case_id(ch.case),
                "partnership": ch.partnership,
                "child_key": ch.child_key,
                "name": ch.name,
                "dob": ch.dob,
                "local_ref": ch.local_ref,
                "source": ch.source,
                "recorded_at": now,
            }
        if c.child_update is not None:
            u = c.child_update
            values = {**dict(u.values), "child_key": u.child_key}
            if u.case in new:
                new[u.case].update(values)
            else:
                stored.setdefault(u.case, {}).update(values)
    if new:
        s.execute(insert(Child), list(new.values()))
    for key, values in stored.items():
        s.execute(update(Child).where(Child.case_id == key).values(**values))


def _write_deadlines(s: Session, todo: Sequence[Decision], case_id: _CaseId, now: datetime) -> None:
    """Deadlines opened by the batch (closing any the batch closed again) and stored ones closed."""
    opened: dict[int, dict[str, Any]] = {}
    closed: dict[int, dict[str, Any]] = {}
    for d in todo:
        for o in d.changes.opened:
            spec = o.spec
            opened[o.key] = {
                "case_id": case_id(o.case),
                "track": spec.track,
                "stage": spec.stage,
                "unit": spec.unit,
                "within": spec.within,
                "basis": spec.basis,
                "start_event": spec.start_event,
                "started_at": spec.started_at,
                "due_at": spec.due_at,
                "out_of_hours": spec.out_of_hours,
                "rule": spec.rule,
                "explanation": spec.explanation,
                "state": "open",
                "met_at": None,
                "reminder_at": spec.reminder_at,
                "reminded_at": None,
                "overdue_at": None,
                "created_at": now,
            }
        for c in d.changes.closed:
            values = {"state": c.state, "met_at": c.met_at}
            if c.key in opened:
                opened[c.key].update(values)
            else:
                closed[c.key] = {"id": c.key, **values}
    if opened:
        s.execute(insert(Deadline), list(opened.values()))
    if closed:
        s.execute(update(Deadline), list(closed.values()))
