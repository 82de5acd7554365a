"""``tracker export``: every case with its messages, deadlines and timeline, as plain data.

The operator's full export. It is not in :mod:`tracker.reports`, whose output
is built from case metadata only: this one carries addresses and the
timeline by default, and the child's identifiers, narrative fields,
attachment names and message subjects with ``include_personal`` (they may
name the child). The pseudonymous learning export is
:mod:`tracker.reports.export`. JSON keeps the structure; CSV flattens each
case to one row with its lists as JSON text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from ingest.errors import EscalationTrackerError
from ingest.parse import parse
from tracker.model import (
    Attachment,
    Case,
    CaseField,
    Child,
    Deadline,
    Event,
    Message,
    OutboxItem,
    Participant,
    RawMail,
)
from tracker.store import Store

__all__ = ["EXPORT_CSV_FIELDS", "METADATA_FIELDS", "export_cases", "write_export"]

#: Case fields about professionals and the procedure (classes C and D), exported by default;
#: the narrative (concern, requested action, response, resolution) only with --include-personal.
METADATA_FIELDS = ("raiser_name", "raiser_email", "raiser_agency", "other_party", "form_date")

EXPORT_CSV_FIELDS = [
    "reference",
    "partnership",
    "status",
    "stage",
    "flags",
    "category",
    "opened_at",
    "raised_by",
    "mailbox",
    "participants",
    "child_key",
    "fields",
    "message_ids",
    "deadlines",
    "notifications",
    "events",
]


def export_cases(store: Store, include_personal: bool) -> list[dict[str, Any]]:
    """Every case with its message ids and timeline, as plain data."""
    out: list[dict[str, Any]] = []
    with store.transaction() as s:
        for case in s.scalars(select(Case).order_by(Case.id)):
            messages = s.scalars(
                select(Message).where(Message.case_id == case.id).order_by(Message.id)
            ).all()
            row = _case_row(s, case, messages)
            child = s.scalars(select(Child).where(Child.case_id == case.id)).first()
            fields = {
                f.name: f for f in s.scalars(select(CaseField).where(CaseField.case_id == case.id))
            }
            # The pseudonymous key links cases about one child without naming it.
            row["child_key"] = child.child_key if child else None
            row["fields"] = {name: fields[name].value for name in METADATA_FIELDS if name in fields}
            if include_personal:
                row["child"] = (
                    {"name": child.name, "dob": child.dob, "local_ref": child.local_ref}
                    if child
                    else None
                )
                row["fields"] = {name: f.value for name, f in fields.items()}
                row["field_sources"] = {name: f.source for name, f in fields.items()}
                _add_personal(s, messages, row)
            out.append(row)
    return out


def _case_row(s: Session, case: Case, messages: Sequence[Message]) -> dict[str, Any]:
    """What every export holds about a case: metadata, messages, timeline, deadlines, mail."""
    return {
        "reference": case.reference,
        "partnership": case.partnership,
        "status": case.status,
        "stage": case.stage,
        "flags": list(case.flags),
        "category": case.category,
        "opened_at": case.opened_at.isoformat(),
        "raised_by": case.raised_by,
        "mailbox": case.mailbox,
        "participants": [
            {"address": p.address, "role": p.role}
            for p in s.scalars(
                select(Participant).where(Participant.case_id == case.id).order_by(Participant.id)
            )
        ],
        "message_ids": [m.message_id for m in messages if m.message_id],
        "messages": [
            {
                "direction": m.direction,
                "message_id": m.message_id,
                "from": m.from_addr,
                "at": m.at.isoformat(),
                "verdict": m.verdict,
                "threaded_via": m.threaded_via,
            }
            for m in messages
        ],
        "events": [
            {"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail}
            for e in s.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.id))
        ],
        "track": case.track,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
        "deadlines": [
            {
                "stage": d.stage,
                "due_at": d.due_at.isoformat() if d.due_at else None,
                "basis": d.basis,
                "unit": d.unit,
                "within": d.within,
                "rule": d.rule,
                "state": d.state,
                "met_at": d.met_at.isoformat() if d.met_at else None,
                "out_of_hours": d.out_of_hours,
            }
            for d in s.scalars(
                select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)
            )
        ],
        "notifications": [
            {
                "kind": o.kind,
                "to": list(o.recipients),
                "state": o.state,
                "sent_at": o.sent_at.isoformat() if o.sent_at else None,
            }
            for o in s.scalars(
                select(OutboxItem).where(OutboxItem.case_id == case.id).order_by(OutboxItem.id)
            )
        ],
    }


def _add_personal(s: Session, messages: Sequence[Message], row: dict[str, Any]) -> None:
    """Attachment names and message subjects: they may name the child, so only on request."""
    raw_ids = [m.raw_id for m in messages if m.raw_id is not None]
    row["attachments"] = [
        {
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "sha256": a.sha256,
            "status": a.status,
            "reason": a.reason,
        }
        for a in (
            s.scalars(
                select(Attachment).where(Attachment.raw_id.in_(raw_ids)).order_by(Attachment.id)
            )
            if raw_ids
            else []
        )
    ]
    raws = (
        s.scalars(
            select(RawMail).options(undefer(RawMail.data)).where(RawMail.id.in_(raw_ids))
        ).all()
        if raw_ids
        else []
    )
    subjects: dict[int, str | None] = {}
    for r in raws:
        try:
            subjects[r.id] = parse(r.data).subject
        except EscalationTrackerError:
            subjects[r.id] = None
    for m, d in zip(messages, row["messages"], strict=True):
        if m.raw_id is not None:
            d["subject"] = subjects.get(m.raw_id)


def write_export(cases: list[dict[str, Any]], fmt: str, stream: TextIO) -> None:
    """``json``: the cases as they are; ``csv``: one row per case, lists as JSON text."""
    if fmt == "json":
        json.dump({"cases": cases}, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    writer = csv.DictWriter(stream, fieldnames=EXPORT_CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for c in cases:
        writer.writerow(
            {
                **c,
                "flags": " ".join(c["flags"]),
                "participants": " ".join(f"{p['address']}:{p['role']}" for p in c["participants"]),
                "message_ids": " ".join(f"<{m}>" for m in c["message_ids"]),
                "events": json.dumps(c["events"], ensure_ascii=False),
                "deadlines": json.dumps(c["deadlines"], ensure_ascii=False),
                "fields": json.dumps(c["fields"], ensure_ascii=False),
                "notifications": json.dumps(c["notifications"], ensure_ascii=False),
            }
        )
