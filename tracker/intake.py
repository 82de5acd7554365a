"""Deciding a batch of incoming messages: look everything up once, decide in memory, write once.

A backlog of hundreds of messages must not cost a dozen round trips each, so
:class:`Intake` works in three steps inside one transaction:

1. **prefetch** (:class:`BatchView`): every Message-ID, content hash, sender
   rate count and raw row the batch can ask about, in a few queries (case
   references, needed only by messages no header threads, are looked up on
   demand);
2. **decide**, message by message, in memory: duplicate or own mail,
   classification, threading, new case and acknowledgement. Each message's
   effects are collected in a :class:`Plan` and only merged into the batch's
   view when the message is fully decided, so a message whose decision fails
   (a bug) is quarantined with its traceback and leaves no trace in the others;
3. **write** every plan with a handful of multi-row statements.

Cases opened earlier in the same batch are visible to later messages (a reply
delivered right behind its escalation threads into it).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ingest.classify import Classification, Policy, Verdict, classify
from ingest.forms import CHILD_FIELDS, Extraction, child_key
from ingest.forms.dates import iso_date
from ingest.parse.types import ParsedEmail
from tracker.config import Config, MailboxConfig
from tracker.inference import Signal, read_signals
from tracker.ladder import CaseState, Effects, Ladder, Notice, OpenDeadline
from tracker.model import (
    Attachment,
    Case,
    CaseField,
    Child,
    Deadline,
    Event,
    Message,
    OutboxItem,
    RawMail,
    RefSequence,
)
from tracker.notify import Renderer, render_mail
from tracker.procedures import Partnership, Procedures
from tracker.refcode import format_reference
from tracker.threads import ThreadMatch, match

log = logging.getLogger(__name__)

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
        """The case's rule state and open deadlines, from the database on first use."""
        if case.state is None:
            assert case.id is not None
            row = self._s.get(Case, case.id)
            assert row is not None
            notified = self._s.scalars(
                select(OutboxItem.intent).where(OutboxItem.case_id == case.id)
            ).all()
            prefix = f"notify:{case.id}:"
            case.state = CaseState(
                reference=row.reference,
                track=row.track or "",
                stage=row.stage,
                flags=frozenset(row.flags or ()),
                status="resolved" if row.status == "resolved" else "open",
                category=row.category,
                opened_at=row.opened_at,
                stage_entered_at=row.stage_entered_at or row.opened_at,
                raised_by=row.raised_by,
                notified=frozenset(
                    i.removeprefix(prefix).split("/")[0] for i in notified if i.startswith(prefix)
                ),
            )
            case.fields = {
                name: (value, source)
                for name, value, source in self._s.execute(
                    select(CaseField.name, CaseField.value, CaseField.source).where(
                        CaseField.case_id == case.id
                    )
                )
            }
            child = self._s.scalars(select(Child).where(Child.case_id == case.id)).first()
            if child is not None:
                case.child = {"name": child.name, "dob": child.dob, "local_ref": child.local_ref}
            case.open_deadlines = [
                OpenDeadline(d_id, stage, due)
                for d_id, stage, due in self._s.execute(
                    select(Deadline.id, Deadline.stage, Deadline.due_at).where(
                        Deadline.case_id == case.id, Deadline.state == "open"
                    )
                )
            ]
        return case.state

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


class Intake:
    """Decides and writes one batch (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        renderer: Renderer,
        policy: Policy,
        procedures: Procedures,
        child_key_secret: bytes,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.policy = policy
        self.procedures = procedures
        self.prefixes = procedures.prefixes
        self.mailboxes: dict[str, MailboxConfig] = {m.name: m for m in config.mailbox}
        self.secure_domains = frozenset(d.lower() for d in config.security.secure_domains)
        self.child_key_secret = child_key_secret

    def run(self, s: Session, work: Sequence[Work], now: datetime) -> list[Outcome]:
        raws = {
            r.id: r
            for chunk in chunks(sorted({w.raw_id for w in work}))
            for r in s.execute(
                select(RawMail.id, RawMail.state, RawMail.outcome, RawMail.reason).where(
                    RawMail.id.in_(chunk)
                )
            )
        }
        view = BatchView(s, work, now - timedelta(hours=1))
        outcomes: list[Outcome] = []
        plans: list[Plan] = []
        decided: dict[int, Outcome] = {}
        for w in work:
            raw = raws[w.raw_id]
            if raw.state == "done" or w.raw_id in decided:
                # Done by another daemon, or the same bytes twice in this batch.
                earlier = decided.get(w.raw_id)
                outcomes.append(
                    earlier or Outcome(w.raw_id, raw.outcome or "ignored", raw.reason or "")
                )
                continue
            try:
                plan = self._decide(s, w, view, now)
            except Exception as exc:  # a bug deciding one message must not stop the batch
                # The exception's text may quote the message, so it goes to the
                # database (raw_mail.error) for review, never to the log.
                log.error(
                    "deciding raw message %s failed (%s); quarantined", w.raw_id, type(exc).__name__
                )
                summary = "".join(traceback.format_exception(exc, limit=-4))[-4000:]
                plan = self._quarantine(w, f"processing failed: {type(exc).__name__}", now, summary)
            view.merge(plan, now)
            plans.append(plan)
            outcomes.append(plan.outcome)
            decided[w.raw_id] = plan.outcome
        self._write(s, plans, view)
        return outcomes

    # -- deciding -----------------------------------------------------------

    def _finish(self, w: Work, outcome: Outcome, now: datetime, error: str | None = None) -> Plan:
        raw = {
            "id": w.raw_id,
            "state": "done",
            "outcome": outcome.outcome,
            "reason": outcome.reason,
            "error": error,
            "processed_at": now,
        }
        return Plan(outcome=outcome, raw=raw)

    def _quarantine(self, w: Work, reason: str, now: datetime, error: str | None = None) -> Plan:
        plan = self._finish(w, Outcome(w.raw_id, "quarantined", reason), now, error)
        plan.events.append(
            _event(
                None,
                w.raw_id,
                now,
                "quarantined",
                f"message {w.raw_id} from mailbox {w.mailbox} quarantined: {reason}",
            )
        )
        return plan

    def _decide(self, s: Session, w: Work, view: BatchView, now: datetime) -> Plan:
        email = w.email
        if email is None:
            return self._quarantine(w, w.parse_error or "unparseable", now, w.parse_trace)
        mid = email.message_id
        mid_text = f"<{mid}>" if mid else "(no Message-ID)"

        # Our own mail coming back, or the same message seen before.
        earlier: tuple[str, CaseRef | None] | None
        if mid:
            earlier = view.by_mid.get(mid)
        else:
            earlier = (
                ("in", view.by_hash[email.content_hash])
                if email.content_hash in view.by_hash
                else None
            )
        if earlier is not None:
            direction, case = earlier
            if direction == "out":
                reason = f"own mail: our outgoing {mid_text} came back to mailbox {w.mailbox}"
            else:
                how = "Message-ID" if mid else "content"
                reason = f"duplicate: same {how} as message already received {mid_text}"
            plan = self._finish(w, Outcome(w.raw_id, "ignored", reason), now)
            if case is not None:
                plan.events.append(_event(case, w.raw_id, now, "ignored", f"ignored: {reason}"))
            return plan

        verdict = classify(email, self.policy)
        if verdict.verdict in (Verdict.SUSPICIOUS, Verdict.NO_SENDER):
            return self._quarantine(w, f"held for review: {verdict.reason}", now)

        thread = match(email, view, self.prefixes)
        found = view.cases[thread.case_id] if thread.case_id is not None else None
        if verdict.automated:
            plan = self._finish(w, Outcome(w.raw_id, "ignored", verdict.reason), now)
            self._add_message(plan, w, email, found, verdict, thread)
            if found is not None:
                plan.events.append(
                    _event(
                        found,
                        w.raw_id,
                        now,
                        "ignored",
                        f"ignored: {verdict.reason}; {thread.detail}",
                    )
                )
            return plan

        assert email.from_ is not None  # NO_SENDER was quarantined above
        if found is not None:
            plan = self._finish(w, Outcome(w.raw_id, "thread", thread.detail, found.reference), now)
            self._add_message(plan, w, email, found, verdict, thread)
            plan.events.append(
                _event(
                    found,
                    w.raw_id,
                    now,
                    "message-in",
                    f"message {mid_text} from {email.from_.addr} to mailbox "
                    f"{w.mailbox}; {thread.detail}",
                )
            )
            self._follow_rules(plan, w, email, found, view, now)
            return plan
        return self._open_case(s, w, email, verdict, thread, view, now)

    # -- the rules ----------------------------------------------------------

    def _follow_rules(
        self, plan: Plan, w: Work, email: ParsedEmail, case: CaseRef, view: BatchView, now: datetime
    ) -> None:
        """Read the reply for stage moves, flags, category and resolution, and act on them."""
        assert email.from_ is not None
        partnership = self.procedures.by_name.get(case.partnership)
        if partnership is None:
            plan.events.append(
                _event(case, w.raw_id, now, "noted", "partnership no longer configured: no rules")
            )
            return
        ladder = partnership.ladder
        state = view.state_of(case)
        if not state.track:
            state = replace(state, track=ladder.procedure.default_track)
        self._record_forms(plan, w, case, partnership, now)
        signals = self._signals(email, w.forms, ladder)
        if not signals:
            return
        fx = ladder.apply(state, case.open_deadlines, signals, email.from_.addr, w.received_at)
        self._record_effects(plan, w, email, case, partnership, fx, now)

    def _signals(
        self, email: ParsedEmail, forms: Extraction | None, ladder: Ladder
    ) -> list[Signal]:
        """Signals from the new text, plus what a form says (its concern, its category)."""
        text = email.new_text
        if forms is not None:
            extra = [
                forms.fields[n].value for n in ("concern", "requested_action") if n in forms.fields
            ]
            if extra:
                text = "\n".join([text, *extra])
        signals = read_signals(text, email.subject, ladder.vocabulary)
        cat = forms.fields.get("category") if forms is not None else None
        if cat is not None and not any(s.kind == "category" for s in signals):
            value = _FORM_CATEGORIES.get(cat.value, cat.value)
            signals.append(Signal("category", value, f"form ({cat.source}): category", False))
        return signals

    def _record_forms(
        self, plan: Plan, w: Work, case: CaseRef, partnership: Partnership, now: datetime
    ) -> None:
        """Case fields, child identifiers and attachment records from the message's forms.

        The first value of a field is kept; a different later value is a
        conflict on the timeline (field and sources named, values never).
        """
        forms = w.forms
        if forms is None:
            return
        for i, a in enumerate(forms.attachments, 1):
            plan.attachments.append(
                {
                    "raw_id": w.raw_id,
                    "filename": a.filename,
                    "content_type": a.content_type[:200],
                    "size": a.size,
                    "sha256": a.sha256,
                    "status": a.status,
                    "reason": a.reason,
                }
            )
            if a.status in ("blocked", "too-large", "timeout", "unreadable"):
                plan.events.append(
                    _event(
                        case, w.raw_id, now, "attachment", f"attachment {i}: {a.status}: {a.reason}"
                    )
                )
        for c in forms.conflicts:
            chosen = forms.fields.get(c.name)
            plan.events.append(
                _event(
                    case,
                    w.raw_id,
                    now,
                    "field-conflict",
                    f"{c.name}: {', '.join(v.source for v in c.values)} disagree; "
                    f"{chosen.source if chosen else 'none'} kept",
                )
            )
        recorded = []
        for name, fv in forms.fields.items():
            if name in CHILD_FIELDS or name == "category":
                continue
            have = case.fields.get(name)
            if have is None:
                plan.fields.append(
                    {
                        "case": case,
                        "name": name,
                        "value": fv.value[:20000],
                        "source": fv.source[:200],
                        "confidence": fv.confidence,
                        "raw_id": w.raw_id,
                        "recorded_at": now,
                    }
                )
                recorded.append(name)
            elif _same(have[0], fv.value) is False:
                plan.events.append(
                    _event(
                        case,
                        w.raw_id,
                        now,
                        "field-conflict",
                        f"{name}: {fv.source} differs from the value recorded from {have[1]}; "
                        "the recorded value is kept",
                    )
                )
        if recorded:
            plan.events.append(
                _event(case, w.raw_id, now, "fields", f"recorded: {', '.join(recorded)}")
            )
        self._record_child(plan, w, case, partnership, now)

    def _record_child(
        self, plan: Plan, w: Work, case: CaseRef, partnership: Partnership, now: datetime
    ) -> None:
        assert w.forms is not None
        got = {n: w.forms.fields[n] for n in CHILD_FIELDS if n in w.forms.fields}
        if not got:
            return
        name = got["child_name"].value.strip()[:200] if "child_name" in got else None
        dob = iso_date(got["child_dob"].value) if "child_dob" in got else None
        ref = got["child_ref"].value.strip()[:100] if "child_ref" in got else None
        sources = sorted({fv.source for fv in got.values()})
        if case.child is None:
            key = child_key(name, dob, partnership.name, self.child_key_secret)
            plan.child = {
                "case": case,
                "partnership": partnership.name,
                "child_key": key,
                "name": name,
                "dob": dob,
                "local_ref": ref,
                "source": ", ".join(sources)[:200],
                "recorded_at": now,
            }
            what = [
                label
                for label, v in (("name", name), ("date of birth", dob), ("local reference", ref))
                if v
            ]
            plan.events.append(
                _event(
                    case,
                    w.raw_id,
                    now,
                    "child",
                    f"child's {', '.join(what)} recorded from {', '.join(sources)}, stored apart"
                    + (f"; child key {key[:12]}" if key else ""),
                )
            )
            return
        differs = [
            label
            for label, new, old in (
                ("name", name, case.child.get("name")),
                ("date of birth", dob, case.child.get("dob")),
                ("local reference", ref, case.child.get("local_ref")),
            )
            if new and old and _same(new, old) is False
        ]
        if differs:
            plan.events.append(
                _event(
                    case,
                    w.raw_id,
                    now,
                    "child-conflict",
                    f"child's {', '.join(differs)} in {', '.join(sources)} differ from those "
                    "recorded; the recorded ones are kept",
                )
            )

    def _record_effects(
        self,
        plan: Plan,
        w: Work,
        email: ParsedEmail,
        case: CaseRef,
        partnership: Partnership,
        fx: Effects,
        now: datetime,
    ) -> None:
        plan.ruled = (case, fx)
        for kind, detail in fx.events:
            plan.events.append(_event(case, w.raw_id, now, kind, detail))
        for d in fx.deadlines:
            plan.events.append(_event(case, w.raw_id, now, "deadline", d.explanation))
        for notice in fx.notices:
            self._queue_notice(plan, case, partnership, fx, notice, now)

    def _context(self, case: CaseRef, partnership: Partnership, fx: Effects) -> dict[str, Any]:
        """What a notification template may show: case metadata only."""
        st = fx.state
        proc = partnership.ladder.procedure
        track = proc.track(st.track)
        stage = track.stage(st.stage)
        due = next((d for d in reversed(fx.deadlines)), None)
        return {
            "reference": case.reference,
            "partnership_name": partnership.display_name,
            "stage": st.stage,
            "stage_name": stage.name if stage else "",
            "stage_count": len(track.stages),
            "track": st.track,
            "track_label": track.label,
            "flags": [proc.flags[f].label if f in proc.flags else f for f in sorted(st.flags)],
            "category": st.category,
            "status": st.status,
            "raised_by": st.raised_by,
            "due_local": _local_text(due.due_at) if due and due.due_at else None,
            "due_explanation": due.explanation if due else None,
            "opened_local": _local_text(st.opened_at),
            "advice": [a for k, a in fx.events if k == "advice"],
        }

    def _queue_notice(
        self,
        plan: Plan,
        case: CaseRef,
        partnership: Partnership,
        fx: Effects,
        notice: Notice,
        now: datetime,
    ) -> None:
        """Queue one notification to each of its roles, secure content only over a secure route."""
        context = self._context(case, partnership, fx)
        for role in notice.roles:
            to = fx.state.raised_by if role == "raiser" else partnership.role_address(role)
            if not to:
                plan.events.append(
                    _event(
                        case, None, now, "not-sent", f"{notice.name}: no address for role {role}"
                    )
                )
                continue
            secure = self._secure_route(to)
            if notice.content == "identifiers" and not secure:
                plan.events.append(
                    _event(
                        case,
                        None,
                        now,
                        "secure-route-missing",
                        f"{notice.name} to {to}: not a secure-domain address over verified TLS; "
                        "sent without identifiers",
                    )
                )
                self._secure_route_missing(plan, case, partnership, notice, to, context, now)
            self._queue_mail(
                plan,
                case,
                partnership,
                kind=notice.name,
                intent=f"notify:{{id}}:{notice.key}/{role}",
                to=to,
                template=notice.template,
                context={
                    **context,
                    "child": _child_of(plan, case)
                    if secure and notice.content == "identifiers"
                    else None,
                    "secure": secure and notice.content == "identifiers",
                    "role": role,
                    "trigger": notice.trigger,
                },
                automatic=role == "raiser",
                now=now,
            )

    def _secure_route(self, address: str) -> bool:
        """Mail that may name a child goes only to a secure domain, over verified TLS."""
        out = self.config.outgoing
        if out.transport == "smtp" and out.tls == "none":
            return False
        domain = address.rpartition("@")[2].lower()
        return any(domain == d or domain.endswith("." + d) for d in self.secure_domains)

    def _secure_route_missing(
        self,
        plan: Plan,
        case: CaseRef,
        partnership: Partnership,
        notice: Notice,
        to: str,
        context: dict[str, Any],
        now: datetime,
    ) -> None:
        bm = partnership.role_address("business_manager")
        if not bm or bm == to or not self._secure_route(bm):
            return
        self._queue_mail(
            plan,
            case,
            partnership,
            kind="secure-route-missing",
            intent=f"notify:{{id}}:secure-route-missing/{notice.key}",
            to=bm,
            template="business_manager/secure_route_missing",
            context={**context, "notification": notice.name, "recipient": to},
            automatic=False,
            now=now,
        )

    def _queue_mail(
        self,
        plan: Plan,
        case: CaseRef,
        partnership: Partnership,
        *,
        kind: str,
        intent: str,
        to: str,
        template: str,
        context: dict[str, Any],
        automatic: bool,
        now: datetime,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
        reply_to: str | None = None,
    ) -> bool:
        """Render one mail into the outbox, with its Message row and a timeline line."""
        if to in self.policy.own_addresses and automatic:
            plan.events.append(_event(case, None, now, "not-sent", f"{kind}: {to} is our own"))
            return False
        from_addr = self.config.outgoing.from_address
        mail = render_mail(
            self.renderer,
            partnership=partnership.name,
            template=template,
            context=context,
            kind=kind,
            reference=case.reference,
            from_addr=from_addr,
            to=to,
            date=now,
            reply_to=reply_to or partnership.role_address("business_manager"),
            in_reply_to=in_reply_to,
            references=references,
        )
        plan.outbox.append(
            {
                "intent": _Intent(intent, case),
                "case": case,
                "kind": kind,
                "message_id": mail.message_id,
                "envelope_from": from_addr,
                "recipients": [to],
                "rate_key": to.lower(),
                "data": mail.data,
                "automatic": automatic,
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
        plan.messages.append(
            {
                "case": case,
                "raw_id": None,
                "direction": "out",
                "message_id": mail.message_id,
                "content_hash": None,
                "from_addr": from_addr,
                "at": now,
                "verdict": "own",
                "threaded_via": None,
            }
        )
        plan.seen_ids.append((mail.message_id, "out", case))
        plan.events.append(
            _event(case, None, now, f"{kind}-queued", f"{kind} <{mail.message_id}> queued to {to}")
        )
        return True

    def _add_message(
        self,
        plan: Plan,
        w: Work,
        email: ParsedEmail,
        case: CaseRef | None,
        verdict: Classification,
        thread: ThreadMatch,
    ) -> None:
        plan.messages.append(
            {
                "case": case,
                "raw_id": w.raw_id,
                "direction": "in",
                "message_id": email.message_id,
                "content_hash": email.content_hash,
                "from_addr": email.from_.addr if email.from_ else None,
                "at": w.received_at,
                "verdict": verdict.verdict.value,
                "threaded_via": thread.via,
            }
        )
        if email.message_id:
            plan.seen_ids.append((email.message_id, "in", case))
        else:
            plan.seen_hash = (email.content_hash, case)

    def _next_reference(self, s: Session, view: BatchView, prefix: str, year: int) -> str:
        """Issue the next number for ``prefix``/``year`` (row-locked until commit)."""
        key = (prefix, year)
        if key not in view.sequences:
            seq = s.scalars(
                select(RefSequence)
                .where(RefSequence.prefix == prefix, RefSequence.year == year)
                .with_for_update()
            ).first()
            if seq is None:
                seq = RefSequence(prefix=prefix, year=year, last=0)
                s.add(seq)
            view.sequences[key] = seq
        seq = view.sequences[key]
        seq.last += 1
        return format_reference(prefix, year, seq.last)

    def _open_case(
        self,
        s: Session,
        w: Work,
        email: ParsedEmail,
        verdict: Classification,
        thread: ThreadMatch,
        view: BatchView,
        now: datetime,
    ) -> Plan:
        assert email.from_ is not None
        mailbox = self.mailboxes.get(w.mailbox)
        if mailbox is None:
            raise LookupError(f"mailbox {w.mailbox!r} is no longer configured")
        names = mailbox.partnership_names
        name = (
            names[0]
            if len(names) == 1
            else self.procedures.for_recipients(names, _recipients(email))
        )
        if name is None:
            return self._quarantine(
                w,
                "held for review: cannot tell which partnership this escalation is for "
                f"(mailbox {w.mailbox} serves {', '.join(names)}; the recipients match "
                "none or several of their addresses)",
                now,
            )
        partnership = self.procedures[name]
        year = w.received_at.astimezone(LONDON).year
        reference = self._next_reference(s, view, partnership.prefix, year)
        ladder = partnership.ladder
        signals = self._signals(email, w.forms, ladder)
        raised_by = email.from_.addr
        original = w.forms.original_sender if w.forms else None
        if original and original[1]:
            # A forwarded escalation: the practitioner who raised it is the original sender.
            raised_by = original[1].lower()
        fx = ladder.open(
            reference=reference,
            opened_at=w.received_at,
            raised_by=raised_by,
            signals=signals,
        )
        st = fx.state
        row = {
            "reference": reference,
            "partnership": name,
            "status": st.status,
            "stage": st.stage,
            "flags": sorted(st.flags),
            "category": st.category,
            "opened_at": w.received_at,
            "raised_by": raised_by,
            "mailbox": w.mailbox,
            "track": st.track,
            "stage_entered_at": st.stage_entered_at,
            "resolved_at": w.received_at if st.status == "resolved" else None,
        }
        case = view.new_case(reference, name, row)
        plan = self._finish(w, Outcome(w.raw_id, "case", f"opened {reference}", reference), now)
        plan.new_case = case
        self._add_message(plan, w, email, case, verdict, thread)
        mid_text = f"<{email.message_id}>" if email.message_id else "(no Message-ID)"
        signals_text = f"; signals: {', '.join(verdict.signals)}" if verdict.signals else ""
        plan.events.append(
            _event(
                case,
                w.raw_id,
                now,
                "opened",
                f"case opened from message {mid_text} from {email.from_.addr} "
                f"to mailbox {w.mailbox}, received "
                f"{w.received_at.isoformat()}; {thread.detail}{signals_text}",
            )
        )
        self._record_forms(plan, w, case, partnership, now)
        if raised_by != email.from_.addr:
            plan.events.append(
                _event(
                    case,
                    w.raw_id,
                    now,
                    "raiser",
                    f"forwarded by {email.from_.addr}; raised by {raised_by}",
                )
            )
        self._record_effects(plan, w, email, case, partnership, fx, now)
        if self._queue_ack(plan, case, email, mailbox, partnership, fx, view, now):
            plan.outcome = Outcome(w.raw_id, "case", f"opened {reference}", reference, True)
        return plan

    def _queue_ack(
        self,
        plan: Plan,
        case: CaseRef,
        email: ParsedEmail,
        mailbox: MailboxConfig,
        partnership: Partnership,
        fx: Effects,
        view: BatchView,
        now: datetime,
    ) -> bool:
        """Render and queue the one acknowledgement of a new case, unless it must not go."""
        assert email.from_ is not None and case.row is not None
        to = email.from_.addr

        def skip(why: str) -> bool:
            plan.events.append(_event(case, None, now, "ack-skipped", f"no acknowledgement: {why}"))
            return False

        if to in self.policy.own_addresses:
            return skip(f"{to} is one of the tracker's own addresses")
        limit = self.config.limits.auto_mail_per_sender_per_hour
        sent = view.auto_counts.get(to, 0)
        if sent >= limit:
            return skip(
                f"rate limit: {sent} automatic mails to {to} in the last hour (limit {limit})"
            )
        context = self._context(case, partnership, fx)
        context["mailbox_address"] = mailbox.address
        context["received_local"] = _local_text(case.row["opened_at"])
        queued = self._queue_mail(
            plan,
            case,
            partnership,
            kind="ack",
            intent="ack:{id}",
            to=to,
            template="sender/ack",
            context=context,
            automatic=True,
            now=now,
            in_reply_to=email.message_id,
            references=(*email.references, email.message_id) if email.message_id else (),
            reply_to=mailbox.address,
        )
        if queued:
            plan.mail_to = to.lower()
        return queued

    # -- writing ---------------------------------------------------------------

    def _write(self, s: Session, plans: list[Plan], view: BatchView) -> None:
        """Insert and update everything the batch decided, in a few multi-row statements."""
        new_cases = [p.new_case for p in plans if p.new_case is not None]
        if new_cases:
            ids = s.scalars(
                insert(Case).returning(Case.id, sort_by_parameter_order=True),
                [c.row for c in new_cases if c.row is not None],
            ).all()
            for case, case_id in zip(new_cases, ids, strict=True):
                case.id = case_id
        outbox = [_resolve(o) for p in plans for o in p.outbox]
        messages = [_resolve(m) for p in plans for m in p.messages]
        events = [_resolve(e) for p in plans for e in p.events]
        if outbox:
            s.execute(insert(OutboxItem), outbox)
        if messages:
            s.execute(insert(Message), messages)
        if events:
            s.execute(insert(Event), events)
        fields = [_resolve(f) for p in plans for f in p.fields]
        if fields:
            s.execute(insert(CaseField), fields)
        children = [_resolve(p.child) for p in plans if p.child is not None]
        if children:
            s.execute(insert(Child), children)
        attachments = [a for p in plans for a in p.attachments]
        if attachments:
            s.execute(insert(Attachment), attachments)
        if view.case_updates:
            s.execute(update(Case), list(view.case_updates.values()))
        if view.deadline_updates:
            s.execute(update(Deadline), list(view.deadline_updates.values()))
        if view.new_deadlines:
            s.execute(insert(Deadline), [_resolve(d) for d in view.new_deadlines.values()])
        if plans:
            s.execute(update(RawMail), [p.raw for p in plans])


@dataclass(frozen=True)
class _Intent:
    """``ack:{id}`` and the like, filled in once the case has an id."""

    template: str
    case: CaseRef


#: The forms reader's short category codes, as the shared taxonomy names them.
_FORM_CATEGORIES = {
    "roles": "roles_responsibilities",
    "information_sharing": "information_sharing_communication",
}


def _child_of(plan: Plan, case: CaseRef) -> dict[str, Any] | None:
    """The case's child identifiers, including any this very message recorded."""
    if plan.child is not None and plan.child["case"] is case:
        return {k: plan.child[k] for k in ("name", "dob", "local_ref")}
    return case.child


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _recipients(email: ParsedEmail) -> list[str]:
    """Every address the message was delivered to: a shared mailbox tells partnerships by these."""
    out = [a.addr for a in (*email.to, *email.cc)]
    out += list(email.delivered_to)
    return out


def _local_text(t: datetime) -> str:
    return t.astimezone(LONDON).strftime("%A %d %B %Y, %H:%M")


def _event(
    case: CaseRef | None, raw_id: int | None, at: datetime, kind: str, detail: str
) -> dict[str, Any]:
    return {"case": case, "raw_id": raw_id, "at": at, "kind": kind, "detail": detail}


def _resolve(row: dict[str, Any]) -> dict[str, Any]:
    """Replace batch-local case references by the ids the database gave them."""
    out = dict(row)
    case = out.pop("case")
    out["case_id"] = None if case is None else case.id
    intent = out.get("intent")
    if isinstance(intent, _Intent):
        out["intent"] = intent.template.format(id=intent.case.id)
    return out
