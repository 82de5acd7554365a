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
delivered right behind its escalation threads into it). The batch's data
structures are in :mod:`tracker.batch`; what a message means under its
partnership's procedure comes from :mod:`tracker.rules.engine`; the mail it causes
is composed by :mod:`tracker.mailing`; form fields and the child's
identifiers are recorded by :mod:`tracker.casefields`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ingest.classify import Classification, Policy, Verdict, classify
from ingest.forms import Extraction
from ingest.parse.types import ParsedEmail
from tracker.batch import (
    CHUNK,
    LONDON,
    BatchView,
    CaseRef,
    Outcome,
    Plan,
    Work,
    chunks,
    event_row,
    resolve_row,
)
from tracker.casefields import record_forms
from tracker.config import Config, MailboxConfig
from tracker.mailing import Mailer, local_text
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
from tracker.notify import Renderer
from tracker.refcode import format_reference
from tracker.rules.engine import Effects, Engine
from tracker.rules.partnerships import Partnership, Partnerships
from tracker.rules.signals import Signal, read_signals
from tracker.threads import ThreadMatch, match

__all__ = ["CHUNK", "Intake", "Outcome", "Work", "chunks"]

log = logging.getLogger(__name__)


class Intake:
    """Decides and writes one batch (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        renderer: Renderer,
        policy: Policy,
        partnerships: Partnerships,
        child_key_secret: bytes,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.policy = policy
        self.partnerships = partnerships
        self.prefixes = partnerships.prefixes
        self.mailboxes: dict[str, MailboxConfig] = {m.name: m for m in config.mailbox}
        self.mailer = Mailer(config, renderer, policy)
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
            event_row(
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
                plan.events.append(event_row(case, w.raw_id, now, "ignored", f"ignored: {reason}"))
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
                    event_row(
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
                event_row(
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
        partnership = self.partnerships.by_name.get(case.partnership)
        if partnership is None:
            plan.events.append(
                event_row(
                    case, w.raw_id, now, "noted", "partnership no longer configured: no rules"
                )
            )
            return
        engine = partnership.engine
        state = view.state_of(case)
        if not state.track:
            state = replace(state, track=engine.rule_file.default_track)
        record_forms(plan, w, case, partnership, now, self.child_key_secret)
        signals = self._signals(email, w.forms, engine, state.track)
        if not signals:
            return
        fx = engine.apply(state, case.open_deadlines, signals, email.from_.addr, w.received_at)
        self._record_effects(plan, w, email, case, partnership, fx, now)

    def _signals(
        self, email: ParsedEmail, forms: Extraction | None, engine: Engine, track: str | None
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
            plan.events.append(event_row(case, w.raw_id, now, kind, detail))
        for d in fx.deadlines:
            plan.events.append(event_row(case, w.raw_id, now, "deadline", d.explanation))
        for notice in fx.notices:
            self.mailer.queue_notice(plan, case, partnership, fx, notice, now)

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
            else self.partnerships.for_recipients(names, _recipients(email))
        )
        if name is None:
            return self._quarantine(
                w,
                "held for review: cannot tell which partnership this escalation is for "
                f"(mailbox {w.mailbox} serves {', '.join(names)}; the recipients match "
                "none or several of their addresses)",
                now,
            )
        partnership = self.partnerships[name]
        year = w.received_at.astimezone(LONDON).year
        reference = self._next_reference(s, view, partnership.prefix, year)
        engine = partnership.engine
        signals = self._signals(email, w.forms, engine, None)
        raised_by = email.from_.addr
        original = w.forms.original_sender if w.forms else None
        if original and original[1]:
            # A forwarded escalation: the practitioner who raised it is the original sender.
            raised_by = original[1].lower()
        fx = engine.open(
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
            event_row(
                case,
                w.raw_id,
                now,
                "opened",
                f"case opened from message {mid_text} from {email.from_.addr} "
                f"to mailbox {w.mailbox}, received "
                f"{w.received_at.isoformat()}; {thread.detail}{signals_text}",
            )
        )
        record_forms(plan, w, case, partnership, now, self.child_key_secret)
        if raised_by != email.from_.addr:
            plan.events.append(
                event_row(
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
            plan.events.append(
                event_row(case, None, now, "ack-skipped", f"no acknowledgement: {why}")
            )
            return False

        if to in self.policy.own_addresses:
            return skip(f"{to} is one of the tracker's own addresses")
        limit = self.config.limits.auto_mail_per_sender_per_hour
        sent = view.auto_counts.get(to, 0)
        if sent >= limit:
            return skip(
                f"rate limit: {sent} automatic mails to {to} in the last hour (limit {limit})"
            )
        context = self.mailer.context(case, partnership, fx)
        context["mailbox_address"] = mailbox.address
        context["received_local"] = local_text(case.row["opened_at"])
        queued = self.mailer.queue_mail(
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
        outbox = [resolve_row(o) for p in plans for o in p.outbox]
        messages = [resolve_row(m) for p in plans for m in p.messages]
        events = [resolve_row(e) for p in plans for e in p.events]
        if outbox:
            s.execute(insert(OutboxItem), outbox)
        if messages:
            s.execute(insert(Message), messages)
        if events:
            s.execute(insert(Event), events)
        fields = [resolve_row(f) for p in plans for f in p.fields]
        if fields:
            s.execute(insert(CaseField), fields)
        children = [resolve_row(c) for c in view.new_children.values()]
        if children:
            s.execute(insert(Child), children)
        for case_id, values in view.child_updates.items():
            s.execute(update(Child).where(Child.case_id == case_id).values(**values))
        attachments = [a for p in plans for a in p.attachments]
        if attachments:
            s.execute(insert(Attachment), attachments)
        if view.case_updates:
            s.execute(update(Case), list(view.case_updates.values()))
        if view.deadline_updates:
            s.execute(update(Deadline), list(view.deadline_updates.values()))
        if view.new_deadlines:
            s.execute(insert(Deadline), [resolve_row(d) for d in view.new_deadlines.values()])
        if plans:
            s.execute(update(RawMail), [p.raw for p in plans])


def _recipients(email: ParsedEmail) -> list[str]:
    """Every address the message was delivered to: a shared mailbox tells partnerships by these."""
    out = [a.addr for a in (*email.to, *email.cc)]
    out += list(email.delivered_to)
    return out
