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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ingest.classify import Classification, Policy, Verdict, classify
from ingest.parse.types import ParsedEmail
from tracker.config import Config, MailboxConfig
from tracker.model import Case, Event, Message, OutboxItem, RawMail, RefSequence
from tracker.notify import Renderer, build_message, neutral_subject, new_message_id
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

    def merge(self, plan: Plan) -> None:
        """Make a fully decided message visible to the rest of the batch."""
        if plan.new_case is not None:
            self.cases[plan.new_case.key] = plan.new_case
            self.by_ref[plan.new_case.reference] = plan.new_case
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
        self, config: Config, renderer: Renderer, policy: Policy, prefixes: frozenset[str]
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.policy = policy
        self.prefixes = prefixes
        self.mailboxes: dict[str, MailboxConfig] = {m.name: m for m in config.mailbox}

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
            view.merge(plan)
            plans.append(plan)
            outcomes.append(plan.outcome)
            decided[w.raw_id] = plan.outcome
        self._write(s, plans)
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
            return plan
        return self._open_case(s, w, email, verdict, thread, view, now)

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
        partnership = self.config.partnerships[mailbox.partnership]
        year = w.received_at.astimezone(LONDON).year
        reference = self._next_reference(s, view, partnership.prefix, year)
        row = {
            "reference": reference,
            "partnership": mailbox.partnership,
            "status": "open",
            "stage": 1,
            "flags": [],
            "category": None,
            "opened_at": w.received_at,
            "raised_by": email.from_.addr,
            "mailbox": w.mailbox,
        }
        case = view.new_case(reference, mailbox.partnership, row)
        plan = self._finish(w, Outcome(w.raw_id, "case", f"opened {reference}", reference), now)
        plan.new_case = case
        self._add_message(plan, w, email, case, verdict, thread)
        mid_text = f"<{email.message_id}>" if email.message_id else "(no Message-ID)"
        signals = f"; signals: {', '.join(verdict.signals)}" if verdict.signals else ""
        plan.events.append(
            _event(
                case,
                w.raw_id,
                now,
                "opened",
                f"case opened from message {mid_text} from {email.from_.addr} "
                f"to mailbox {w.mailbox}, received "
                f"{w.received_at.isoformat()}; {thread.detail}{signals}",
            )
        )
        if self._queue_ack(plan, case, email, mailbox, view, now):
            plan.outcome = Outcome(w.raw_id, "case", f"opened {reference}", reference, True)
        return plan

    def _queue_ack(
        self,
        plan: Plan,
        case: CaseRef,
        email: ParsedEmail,
        mailbox: MailboxConfig,
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
        partnership = self.config.partnerships[case.partnership]
        opened_at: datetime = case.row["opened_at"]
        context = {
            "reference": case.reference,
            "partnership_name": partnership.display_name or case.partnership,
            "mailbox_address": mailbox.address,
            "received_local": opened_at.astimezone(LONDON).strftime("%A %d %B %Y, %H:%M"),
        }
        rendered = self.renderer.render(case.partnership, "sender/ack", context)
        from_addr = self.config.outgoing.from_address
        message_id = new_message_id("ack", case.reference, from_addr)
        data = build_message(
            from_addr=from_addr,
            to=to,
            reply_to=mailbox.address,
            subject=neutral_subject(case.reference, rendered.subject),
            text=rendered.text,
            message_id=message_id,
            date=now,
            in_reply_to=email.message_id,
            references=(*email.references, email.message_id) if email.message_id else (),
            tracker_header=f"{case.reference}; kind=ack",
        )
        plan.outbox.append(
            {
                "intent": _Intent("ack", case),
                "case": case,
                "kind": "ack",
                "message_id": message_id,
                "envelope_from": from_addr,
                "recipients": [to],
                "rate_key": to.lower(),
                "data": data,
                "automatic": True,
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
                "message_id": message_id,
                "content_hash": None,
                "from_addr": from_addr,
                "at": now,
                "verdict": "own",
                "threaded_via": None,
            }
        )
        plan.seen_ids.append((message_id, "out", case))
        plan.events.append(
            _event(case, None, now, "ack-queued", f"acknowledgement <{message_id}> queued to {to}")
        )
        plan.mail_to = to.lower()
        return True

    # -- writing ---------------------------------------------------------------

    def _write(self, s: Session, plans: list[Plan]) -> None:
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
        if plans:
            s.execute(update(RawMail), [p.raw for p in plans])


@dataclass(frozen=True)
class _Intent:
    """``ack:<case id>``, once the case has an id."""

    kind: str
    case: CaseRef


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
        out["intent"] = f"{intent.kind}:{intent.case.id}"
    return out
