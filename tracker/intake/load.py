"""Fill a :class:`~tracker.intake.snapshot.Snapshot` for a batch in a few queries.

Everything the batch can ask is fetched here, before anything is decided:
Message-IDs and content hashes it names, rate counts of its senders, every
case one of those or a reference code in a subject or body points to (with
the case's state, fields, child and open deadlines), the raw rows' states
and the reference sequences. Deciding then asks the database nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tracker.intake.rows import state_of
from tracker.intake.snapshot import CaseView, Snapshot
from tracker.intake.work import Result, Work
from tracker.kinds import Outcome
from tracker.model import (
    Case,
    CaseField,
    Child,
    Deadline,
    Message,
    OutboxItem,
    Participant,
    RawMail,
    RefSequence,
)
from tracker.refcode import find_references
from tracker.rules.engine import OpenDeadline

__all__ = ["CHUNK", "chunks", "load_snapshot"]

T = TypeVar("T")
CHUNK = 500
LONDON = ZoneInfo("Europe/London")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``: bound the parameters of one ``IN (...)``."""
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def named_references(work: Sequence[Work], prefixes: Collection[str]) -> list[str]:
    """Every reference code the batch's subjects and bodies name.

    Run before the snapshot's transaction opens: it reads message text.
    """
    return sorted(
        {
            ref
            for w in work
            if w.email is not None
            for t in (w.email.subject, w.email.text)
            for ref in find_references(t, prefixes)
        }
    )


def load_snapshot(
    s: Session,
    work: Sequence[Work],
    since: datetime,
    prefixes: Collection[str],
    named: Collection[str],
) -> Snapshot:
    """What ``work`` may ask; ``since`` starts the per-sender rate window; ``named`` are the
    reference codes its text names (:func:`named_references`, read outside the transaction)."""
    snap = Snapshot()
    emails = [w.email for w in work if w.email is not None]
    case_ids: set[int] = set()

    for raw_ids in chunks(sorted({w.raw_id for w in work})):
        for raw_id, state, outcome, reason in s.execute(
            select(RawMail.id, RawMail.state, RawMail.outcome, RawMail.reason).where(
                RawMail.id.in_(raw_ids)
            )
        ):
            if state == "done":
                snap.done[raw_id] = Result(
                    raw_id, Outcome(outcome or Outcome.IGNORED), reason or ""
                )

    ids = sorted({i for e in emails for i in (e.message_id, *e.in_reply_to, *e.references) if i})
    for mids in chunks(ids):
        for mid, direction, case_id in s.execute(
            select(Message.message_id, Message.direction, Message.case_id).where(
                Message.message_id.in_(mids)
            )
        ):
            if mid is not None:
                snap.by_mid[mid] = (direction, case_id)
                if case_id is not None:
                    case_ids.add(case_id)

    hashes = sorted({e.content_hash for e in emails if not e.message_id})
    for hash_chunk in chunks(hashes):
        for h, case_id in s.execute(
            select(Message.content_hash, Message.case_id)
            .where(
                Message.content_hash.in_(hash_chunk),
                Message.message_id.is_(None),
                Message.direction == "in",
            )
            .order_by(Message.id)
        ):
            if h is not None and h not in snap.by_hash:
                snap.by_hash[h] = case_id
                if case_id is not None:
                    case_ids.add(case_id)

    senders = sorted({e.from_.addr for e in emails if e.from_ is not None})
    for sender_chunk in chunks(senders):
        counts = s.execute(
            select(OutboxItem.rate_key, func.count(OutboxItem.id))
            .where(
                OutboxItem.rate_key.in_(sender_chunk),
                OutboxItem.automatic.is_(True),
                OutboxItem.created_at >= since,
            )
            .group_by(OutboxItem.rate_key)
        )
        snap.auto_counts.update({key: n for key, n in counts})

    for refs in chunks(sorted(named)):
        for case_id, reference in s.execute(
            select(Case.id, Case.reference).where(Case.reference.in_(refs))
        ):
            snap.by_ref[reference] = case_id
            case_ids.add(case_id)

    _load_cases(s, snap, sorted(case_ids))
    years = sorted({w.received_at.astimezone(LONDON).year for w in work})
    if prefixes and years:
        for prefix, year, last in s.execute(
            select(RefSequence.prefix, RefSequence.year, RefSequence.last).where(
                RefSequence.prefix.in_(sorted(prefixes)), RefSequence.year.in_(years)
            )
        ):
            snap.sequences[(prefix, year)] = last
    return snap


def _load_cases(s: Session, snap: Snapshot, ids: list[int]) -> None:
    """Each case's state, fields, child, participants and open deadlines, six queries a chunk."""
    for chunk in chunks(ids):
        notified: dict[int, set[str]] = {i: set() for i in chunk}
        fields: dict[int, dict[str, tuple[str, str]]] = {i: {} for i in chunk}
        children: dict[int, dict[str, str | None]] = {}
        deadlines: dict[int, list[OpenDeadline]] = {i: [] for i in chunk}
        participants: dict[int, dict[str, str]] = {i: {} for i in chunk}
        for of_case, address, role in s.execute(
            select(Participant.case_id, Participant.address, Participant.role).where(
                Participant.case_id.in_(chunk)
            )
        ):
            participants[of_case][address] = role
        told: dict[int, set[str]] = {i: set() for i in chunk}
        for case_id, intent in s.execute(
            select(OutboxItem.case_id, OutboxItem.intent).where(
                OutboxItem.case_id.in_(chunk),
                or_(OutboxItem.intent.like("notify:%"), OutboxItem.intent.like("outsider:%")),
            )
        ):
            if case_id not in notified:
                continue
            prefix = f"notify:{case_id}:"
            if intent.startswith(prefix):
                notified[case_id].add(intent.removeprefix(prefix).split("/")[0])
            elif intent.startswith(f"outsider:{case_id}:"):
                told[case_id].add(intent.rpartition(":")[2])
        for name, value, source, case_id in s.execute(
            select(CaseField.name, CaseField.value, CaseField.source, CaseField.case_id).where(
                CaseField.case_id.in_(chunk)
            )
        ):
            fields[case_id][name] = (value, source)
        for child in s.scalars(select(Child).where(Child.case_id.in_(chunk))):
            children[child.case_id] = {
                "name": child.name,
                "dob": child.dob,
                "local_ref": child.local_ref,
            }
        for d_id, case_id, stage, due in s.execute(
            select(Deadline.id, Deadline.case_id, Deadline.stage, Deadline.due_at)
            .where(Deadline.case_id.in_(chunk), Deadline.state == "open")
            .order_by(Deadline.id)
        ):
            deadlines[case_id].append(OpenDeadline(d_id, stage, due))
        for row in s.scalars(select(Case).where(Case.id.in_(chunk))):
            snap.cases[row.id] = CaseView(
                key=row.id,
                reference=row.reference,
                partnership=row.partnership,
                state=state_of(row, notified[row.id]),
                resolved_at=row.resolved_at,
                fields=fields[row.id],
                child=children.get(row.id),
                open_deadlines=tuple(deadlines[row.id]),
                participants=participants[row.id],
                outsiders_told=frozenset(told[row.id]),
                version=row.version,
            )
            snap.by_ref[row.reference] = row.id
