"""One batch of incoming mail as the intake sees it: the work, the prefetched view, the plans.

:class:`BatchView` fetches up front what a batch can ask (Message-IDs,
content hashes, sender rate counts; case state on demand) and holds the
batch's picture of each case, so that a reply right behind its escalation
threads into it; :class:`Plan` collects everything deciding one message wants
written, merged into the view only once that message is fully decided.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest.forms import Extraction
from ingest.parse.types import ParsedEmail
from tracker.model import Case, CaseField, Child, Deadline, Message, OutboxItem, RefSequence
from tracker.rules.engine import CaseState, Effects, OpenDeadline

T = TypeVar("T")

LONDON = ZoneInfo("Europe/London")
CHUNK = 500


@dataclass(frozen=True)
class Outcome:
    raw_id: int
    outcome: str  # case | thread | ignored | quarantined
    reason: str
    reference: str | None = None
    acknowledged: bool = False


@dataclass
class CaseRef:
    """A case as the batch knows it; ``id`` is None until a new case is inserted."""

    key: int
    reference: str
    partnership: str
    id: int | None = None
    row: dict[str, Any] | None = None  # the row to insert, for a new case
    #: The case as the rules see it, loaded when a message may change it.
    state: CaseState | None = None
    open_deadlines: list[OpenDeadline] = field(default_factory=list)
    #: Case fields recorded so far (name -> (value, source)) and whether a child row exists.
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    child: dict[str, Any] | None = None


@dataclass(frozen=True)
class Work:
    """One stored message to decide: its raw row and what parsing made of it."""

    raw_id: int
    mailbox: str
    received_at: datetime
    email: ParsedEmail | None
    parse_error: str | None
    #: Traceback summary of a parser crash, kept with the quarantined message.
    parse_trace: str | None = None
    #: Forms and case fields read from the body and attachments (people's mail only).
    forms: Extraction | None = None


@dataclass
class Plan:
    """Everything deciding one message wants written."""

    outcome: Outcome
    raw: dict[str, Any]
    new_case: CaseRef | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    # What later messages of the batch must see:
    seen_ids: list[tuple[str, str, CaseRef | None]] = field(default_factory=list)
    seen_hash: tuple[str, CaseRef | None] | None = None
    mail_to: str | None = None
    #: What the rules decided for the message's case (applied to the view on merge).
    ruled: tuple[CaseRef, Effects] | None = None
    #: Case fields, child identifiers and attachment records read from forms.
    fields: list[dict[str, Any]] = field(default_factory=list)
    child: dict[str, Any] | None = None
    #: Identifiers a later message adds to a recorded child (gaps only).
    child_update: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``: bound the parameters of one ``IN (...)``."""
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


class BatchView:
    """What the database knows that this batch may ask, fetched up front.

    It also implements :class:`tracker.threads.CaseLookup`, with negative
    keys standing for cases opened earlier in the same batch.
    """

    def __init__(self, s: Session, work: Sequence[Work], since: datetime) -> None:
        self.cases: dict[int, CaseRef] = {}
        self.by_mid: dict[str, tuple[str, CaseRef | None]] = {}
        self.by_hash: dict[str, CaseRef | None] = {}
        self.by_ref: dict[str, CaseRef] = {}
        self.auto_counts: dict[str, int] = {}
        self._s = s
        self._unknown_refs: set[str] = set()
        #: Reference sequences this batch has locked, by (prefix, year).
        self.sequences: dict[tuple[str, int], RefSequence] = {}
        self._next_key = -1
        #: Deadline rows to insert (dicts), by batch-local negative key.
        self.new_deadlines: dict[int, dict[str, Any]] = {}
        #: Updates to stored deadline rows, by id.
        self.deadline_updates: dict[int, dict[str, Any]] = {}
        #: Final case fields for stored cases the batch changed, by case id.
        self.case_updates: dict[int, dict[str, Any]] = {}
        #: Child rows to insert (by batch case key) and gaps to fill in stored ones (by case id).
        self.new_children: dict[int, dict[str, Any]] = {}
        self.child_updates: dict[int, dict[str, Any]] = {}
        self._next_deadline = -1
        emails = [w.email for w in work if w.email is not None]

        ids = sorted(
            {i for e in emails for i in (e.message_id, *e.in_reply_to, *e.references) if i}
        )
        for chunk in chunks(ids):
            by_id = s.execute(
                select(
                    Message.message_id,
                    Message.direction,
                    Case.id,
                    Case.reference,
                    Case.partnership,
                )
                .outerjoin(Case, Case.id == Message.case_id)
                .where(Message.message_id.in_(chunk))
            )
            for mid, direction, case_id, ref, partnership in by_id:
                if mid is not None:
                    self.by_mid[mid] = (direction, self._known(case_id, ref, partnership))

        hashes = sorted({e.content_hash for e in emails if not e.message_id})
        for chunk in chunks(hashes):
            by_hash = s.execute(
                select(Message.content_hash, Case.id, Case.reference, Case.partnership)
                .outerjoin(Case, Case.id == Message.case_id)
                .where(
                    Message.content_hash.in_(chunk),
                    Message.message_id.is_(None),
                    Message.direction == "in",
                )
            )
            for h, case_id, ref, partnership in by_hash:
                if h is not None and h not in self.by_hash:
                    self.by_hash[h] = self._known(case_id, ref, partnership)

        senders = sorted({e.from_.addr for e in emails if e.from_ is not None})
        for chunk in chunks(senders):
            counts = s.execute(
                select(OutboxItem.rate_key, func.count(OutboxItem.id))
                .where(
                    OutboxItem.rate_key.in_(chunk),
                    OutboxItem.automatic.is_(True),
                    OutboxItem.created_at >= since,
                )
                .group_by(OutboxItem.rate_key)
            )
            self.auto_counts.update({key: n for key, n in counts})

    def _known(
        self, case_id: int | None, ref: str | None, partnership: str | None
    ) -> CaseRef | None:
        if case_id is None or ref is None or partnership is None:
            return None
        found = self.cases.get(case_id)
        if found is None:
            found = CaseRef(key=case_id, reference=ref, partnership=partnership, id=case_id)
            self.cases[case_id] = found
            self.by_ref[ref] = found
        return found

    def new_case(self, reference: str, partnership: str, row: dict[str, Any]) -> CaseRef:
        ref = CaseRef(key=self._next_key, reference=reference, partnership=partnership, row=row)
        self._next_key -= 1
        return ref

    def state_of(self, case: CaseRef) -> CaseState:
        """The case's rule state, fields, child and open deadlines, loaded on first use.

        The first call loads every stored case the batch knows so far, in five
        queries, rather than five queries per reply.
        """
        if case.state is None:
            assert case.id is not None
            pending = {c.id: c for c in self.cases.values() if c.id is not None and c.state is None}
            pending[case.id] = case
            self._load_states(pending)
        assert case.state is not None
        return case.state

    def _load_states(self, cases: dict[int, CaseRef]) -> None:
        ids = sorted(cases)
        notified: dict[int, set[str]] = {i: set() for i in ids}
        for chunk in chunks(ids):
            for case_id, intent in self._s.execute(
                select(OutboxItem.case_id, OutboxItem.intent).where(
                    OutboxItem.case_id.in_(chunk), OutboxItem.intent.like("notify:%")
                )
            ):
                prefix = f"notify:{case_id}:"
                if case_id in notified and intent.startswith(prefix):
                    notified[case_id].add(intent.removeprefix(prefix).split("/")[0])
            for name, value, source, case_id in self._s.execute(
                select(CaseField.name, CaseField.value, CaseField.source, CaseField.case_id).where(
                    CaseField.case_id.in_(chunk)
                )
            ):
                cases[case_id].fields[name] = (value, source)
            for child in self._s.scalars(select(Child).where(Child.case_id.in_(chunk))):
                cases[child.case_id].child = {
                    "name": child.name,
                    "dob": child.dob,
                    "local_ref": child.local_ref,
                }
            for d_id, case_id, stage, due in self._s.execute(
                select(Deadline.id, Deadline.case_id, Deadline.stage, Deadline.due_at)
                .where(Deadline.case_id.in_(chunk), Deadline.state == "open")
                .order_by(Deadline.id)
            ):
                cases[case_id].open_deadlines.append(OpenDeadline(d_id, stage, due))
            for row in self._s.scalars(select(Case).where(Case.id.in_(chunk))):
                cases[row.id].state = CaseState(
                    reference=row.reference,
                    track=row.track or "",
                    stage=row.stage,
                    flags=frozenset(row.flags or ()),
                    status="resolved" if row.status == "resolved" else "open",
                    category=row.category,
                    opened_at=row.opened_at,
                    stage_entered_at=row.stage_entered_at or row.opened_at,
                    raised_by=row.raised_by,
                    notified=frozenset(notified[row.id]),
                )

    def _apply(self, case: CaseRef, fx: Effects, now: datetime) -> None:
        """Apply decided effects to the batch's picture of the case and the rows to write."""
        st = fx.state
        was_resolved = case.state is not None and case.state.status == "resolved"
        case.state = st
        closing = dict(fx.closed)
        keep: list[OpenDeadline] = []
        for d in case.open_deadlines:
            new_state = closing.get(d.key)
            if new_state is None:
                keep.append(d)
                continue
            met = fx.at if new_state == "met" else None
            if d.key < 0:
                self.new_deadlines[d.key].update(state=new_state, met_at=met)
            else:
                self.deadline_updates[d.key] = {"id": d.key, "state": new_state, "met_at": met}
        for nd in fx.deadlines:
            key = self._next_deadline
            self._next_deadline -= 1
            self.new_deadlines[key] = {
                "case": case,
                "track": nd.track,
                "stage": nd.stage,
                "unit": nd.unit,
                "within": nd.within,
                "basis": nd.basis,
                "start_event": nd.start_event,
                "started_at": nd.started_at,
                "due_at": nd.due_at,
                "out_of_hours": nd.out_of_hours,
                "rule": nd.rule,
                "explanation": nd.explanation,
                "state": "open",
                "met_at": None,
                "reminder_at": nd.reminder_at,
                "reminded_at": None,
                "overdue_at": None,
                "created_at": now,
            }
            keep.append(OpenDeadline(key, nd.stage, nd.due_at))
        case.open_deadlines = keep
        fields = {
            "stage": st.stage,
            "flags": sorted(st.flags),
            "status": st.status,
            "category": st.category,
            "track": st.track,
            "stage_entered_at": st.stage_entered_at,
        }
        if st.status != "resolved":
            fields["resolved_at"] = None
        elif not was_resolved:
            fields["resolved_at"] = fx.at
        if case.row is not None:
            case.row.update(fields)
        else:
            assert case.id is not None
            self.case_updates[case.id] = {"id": case.id, **fields}

    def merge(self, plan: Plan, now: datetime) -> None:
        """Make a fully decided message visible to the rest of the batch."""
        if plan.new_case is not None:
            self.cases[plan.new_case.key] = plan.new_case
            self.by_ref[plan.new_case.reference] = plan.new_case
        if plan.ruled is not None:
            self._apply(plan.ruled[0], plan.ruled[1], now)
        for f in plan.fields:
            f["case"].fields[f["name"]] = (f["value"], f["source"])
        if plan.child is not None:
            case = plan.child["case"]
            case.child = {k: plan.child[k] for k in ("name", "dob", "local_ref")}
            self.new_children[case.key] = plan.child
        if plan.child_update is not None:
            update = dict(plan.child_update)
            case = update.pop("case")
            assert case.child is not None
            case.child.update({k: v for k, v in update.items() if k != "child_key"})
            pending = self.new_children.get(case.key)
            if pending is not None:
                pending.update(update)
            else:
                assert case.id is not None
                self.child_updates.setdefault(case.id, {}).update(update)
        for mid, direction, case in plan.seen_ids:
            self.by_mid[mid] = (direction, case)
        if plan.seen_hash is not None and plan.seen_hash[0] not in self.by_hash:
            self.by_hash[plan.seen_hash[0]] = plan.seen_hash[1]
        if plan.mail_to is not None:
            self.auto_counts[plan.mail_to] = self.auto_counts.get(plan.mail_to, 0) + 1

    # CaseLookup
    def cases_for_message_ids(self, message_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for mid in message_ids:
            found = self.by_mid.get(mid)
            if found is not None and found[1] is not None:
                out[mid] = found[1].key
        return out

    def case_for_reference(self, reference: str) -> int | None:
        # Asked only for messages that no header threads (threads.match tries those
        # first), so looking up on demand beats scanning every body of the batch.
        if reference not in self.by_ref and reference not in self._unknown_refs:
            row = self._s.execute(
                select(Case.id, Case.reference, Case.partnership).where(Case.reference == reference)
            ).first()
            if row is None:
                self._unknown_refs.add(reference)
            else:
                self._known(*row)
        found = self.by_ref.get(reference)
        return None if found is None else found.key


@dataclass(frozen=True)
class Intent:
    """``ack:{id}`` and the like, filled in once the case has an id."""

    template: str
    case: CaseRef


def event_row(
    case: CaseRef | None, raw_id: int | None, at: datetime, kind: str, detail: str
) -> dict[str, Any]:
    """A timeline line to insert."""
    return {"case": case, "raw_id": raw_id, "at": at, "kind": kind, "detail": detail}


def resolve_row(row: dict[str, Any]) -> dict[str, Any]:
    """Replace batch-local case references by the ids the database gave them."""
    out = dict(row)
    case = out.pop("case")
    out["case_id"] = None if case is None else case.id
    intent = out.get("intent")
    if isinstance(intent, Intent):
        out["intent"] = intent.template.format(id=intent.case.id)
    return out
