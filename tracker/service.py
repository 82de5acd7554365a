"""The one place where the pure stages meet the database.

``commit_raw`` makes the fetched bytes durable; ``process`` runs
parse → classify → thread → case → outbox for stored messages, one
transaction per batch and one savepoint per message, so a message that
breaks something is quarantined with its reason while the rest of the batch
goes on. A message whose processing has killed the daemon before is tried
alone, and after ``limits.max_processing_attempts`` it is quarantined
without another try.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from ingest.classify import Classification, Policy, Verdict, classify
from ingest.errors import ParseError
from ingest.parse import parse
from ingest.parse.types import ParsedEmail
from ingest.raw import RawMessage
from tracker import outbox
from tracker.clock import Clock
from tracker.config import Config, MailboxConfig
from tracker.model import Case, Event, Message, RawMail, RefSequence
from tracker.notify import Renderer, build_message, neutral_subject, new_message_id
from tracker.refcode import format_reference
from tracker.store import Store
from tracker.threads import ThreadMatch, match

log = logging.getLogger(__name__)
decisions = logging.getLogger("tracker.decisions")

LONDON = ZoneInfo("Europe/London")
OUTCOMES = ("case", "thread", "ignored", "quarantined")


@dataclass(frozen=True)
class Stored:
    """A fetched message after :meth:`Service.commit_raw`."""

    raw: RawMessage
    raw_id: int
    done: bool  # already processed earlier (a re-delivery): only the ack is missing
    outcome: str | None


@dataclass(frozen=True)
class Outcome:
    raw_id: int
    outcome: str  # one of OUTCOMES
    reason: str
    reference: str | None = None
    acknowledged: bool = False


@dataclass(frozen=True)
class _Work:
    raw_id: int
    mailbox: str
    received_at: datetime
    data: bytes


class _SessionLookup:
    """:class:`tracker.threads.CaseLookup` over an open session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def cases_for_message_ids(self, message_ids: Sequence[str]) -> dict[str, int]:
        rows = self._s.execute(
            select(Message.message_id, Message.case_id).where(
                Message.message_id.in_(list(message_ids)), Message.case_id.is_not(None)
            )
        )
        return {mid: cid for mid, cid in rows if mid is not None and cid is not None}

    def case_for_reference(self, reference: str) -> int | None:
        return self._s.scalar(select(Case.id).where(Case.reference == reference))


class Service:
    def __init__(self, config: Config, store: Store, clock: Clock, renderer: Renderer) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.renderer = renderer
        self.mailboxes: dict[str, MailboxConfig] = {m.name: m for m in config.mailbox}
        self.prefixes = frozenset(p.prefix for p in config.partnerships.values())
        protected = set(config.security.protected_domains)
        for p in config.partnerships.values():
            protected.update(p.domains)
        self.policy = Policy(
            trusted_authserv_ids=frozenset(i.lower() for i in config.security.trusted_authserv_ids),
            protected_domains=frozenset(d.lower() for d in protected),
            own_addresses=config.own_addresses,
        )

    # -- stage 1: make the bytes durable ----------------------------------

    def commit_raw(self, batch: Sequence[RawMessage]) -> list[Stored]:
        """Store each message's bytes once; re-deliveries find their earlier row."""
        if not batch:
            return []
        now = self.clock.now()
        result: list[Stored] = []
        with self.store.transaction() as s:
            by_mailbox: dict[str, list[RawMessage]] = {}
            for raw in batch:
                by_mailbox.setdefault(raw.mailbox, []).append(raw)
            known: dict[tuple[str, str], RawMail] = {}
            for mailbox, raws in by_mailbox.items():
                hashes = list({r.sha256 for r in raws})
                for i in range(0, len(hashes), 500):
                    for row in s.scalars(
                        select(RawMail).where(
                            RawMail.mailbox == mailbox, RawMail.sha256.in_(hashes[i : i + 500])
                        )
                    ):
                        known[(row.mailbox, row.sha256)] = row
            for raw in batch:
                key = (raw.mailbox, raw.sha256)
                found = known.get(key)
                if found is None:
                    found = RawMail(
                        mailbox=raw.mailbox,
                        external_id=raw.external_id,
                        sha256=raw.sha256,
                        size=raw.size,
                        received_at=raw.received_at,
                        stored_at=now,
                        data=raw.data,
                        state="pending",
                        attempts=0,
                        replays=0,
                    )
                    s.add(found)
                    known[key] = found
                result.append(Stored(raw, 0, found.state == "done", found.outcome))
            s.flush()
            result = [
                Stored(st.raw, known[(st.raw.mailbox, st.raw.sha256)].id, st.done, st.outcome)
                for st in result
            ]
        return result

    def mark_acked(self, raw_ids: Sequence[int]) -> None:
        if raw_ids:
            with self.store.transaction() as s:
                s.execute(
                    update(RawMail)
                    .where(RawMail.id.in_(list(raw_ids)))
                    .values(acked_at=self.clock.now())
                )

    # -- stage 2: decide ---------------------------------------------------

    def process_stored(self, stored: Sequence[Stored]) -> list[Outcome]:
        """Process the not-yet-done messages of a batch just committed."""
        work = [
            _Work(st.raw_id, st.raw.mailbox, st.raw.received_at, st.raw.data)
            for st in stored
            if not st.done
        ]
        return self._process(work)

    def process_pending(self, limit: int = 500) -> list[Outcome]:
        """Process rows left ``pending`` by a daemon that stopped (or a replay)."""
        with self.store.transaction() as s:
            rows = s.scalars(
                select(RawMail)
                .options(undefer(RawMail.data))
                .where(RawMail.state == "pending")
                .order_by(RawMail.id)
                .limit(limit)
            ).all()
            work = [_Work(r.id, r.mailbox, r.received_at, r.data) for r in rows]
        return self._process(work)

    def _process(self, work: Sequence[_Work]) -> list[Outcome]:
        if not work:
            return []
        with self.store.transaction() as s:
            attempts = dict(
                s.execute(
                    select(RawMail.id, RawMail.attempts).where(
                        RawMail.id.in_([w.raw_id for w in work])
                    )
                ).all()
            )
        limit = self.config.limits.max_processing_attempts
        poisoned = [w for w in work if attempts.get(w.raw_id, 0) >= limit]
        retried = [w for w in work if 0 < attempts.get(w.raw_id, 0) < limit]
        fresh = [w for w in work if attempts.get(w.raw_id, 0) == 0]
        outcomes = [self._give_up(w, attempts[w.raw_id]) for w in poisoned]
        # A message tried before may be what stopped the daemon: try it alone, so one
        # poison message cannot take its batch with it.
        for w in retried:
            self._count_attempt([w])
            outcomes += self._run_batch([w])
        if fresh:
            self._count_attempt(fresh)
            outcomes += self._run_batch(fresh)
        return outcomes

    def _count_attempt(self, work: Sequence[_Work]) -> None:
        """Commit the attempt before trying: if processing kills the process, the next
        start knows, and stops feeding the same poison after ``max_processing_attempts``."""
        with self.store.transaction() as s:
            s.execute(
                update(RawMail)
                .where(RawMail.id.in_([w.raw_id for w in work]), RawMail.state == "pending")
                .values(attempts=RawMail.attempts + 1)
            )

    def _give_up(self, w: _Work, attempts: int) -> Outcome:
        reason = f"processing stopped the daemon {attempts} times; not tried again"
        with self.store.transaction() as s:
            raw = s.get_one(RawMail, w.raw_id)
            return self._quarantine(s, raw, reason, error=None)

    def _run_batch(self, work: Sequence[_Work]) -> list[Outcome]:
        parsed: list[tuple[_Work, ParsedEmail | None, str | None]] = []
        for w in work:
            try:
                parsed.append((w, parse(w.data), None))
            except ParseError as exc:
                parsed.append((w, None, f"cannot parse: {exc}"))
            except Exception as exc:  # a parser bug must not lose the message
                parsed.append((w, None, f"parser failed: {type(exc).__name__}: {exc}"))
        for attempt in range(3):
            try:
                return self._apply_all(parsed)
            except IntegrityError:
                # Another daemon stored the same Message-ID or reference first
                # (PostgreSQL); the next attempt sees its rows and deduplicates.
                if attempt == 2:
                    raise
                log.info("concurrent update detected; retrying batch of %d", len(parsed))
        raise AssertionError("unreachable")

    def _apply_all(
        self, parsed: Sequence[tuple[_Work, ParsedEmail | None, str | None]]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with self.store.transaction() as s:
            for w, email, parse_error in parsed:
                raw = s.get_one(RawMail, w.raw_id)
                if raw.state == "done":  # done by another daemon meanwhile
                    outcomes.append(Outcome(raw.id, raw.outcome or "ignored", raw.reason or ""))
                    continue
                if email is None:
                    outcomes.append(self._quarantine(s, raw, parse_error or "unparseable", None))
                    continue
                try:
                    with s.begin_nested():
                        outcome = self._apply_one(s, raw, email)
                except IntegrityError:
                    raise
                except Exception as exc:
                    summary = "".join(traceback.format_exception(exc, limit=-4))[-4000:]
                    log.exception("processing raw message %s failed; quarantined", raw.id)
                    outcome = self._quarantine(
                        s, raw, f"processing failed: {type(exc).__name__}: {exc}", summary
                    )
                outcomes.append(outcome)
        for o in outcomes:
            decisions.info(
                "raw %s: %s (%s)%s",
                o.raw_id,
                o.outcome,
                o.reason,
                f" case {o.reference}" if o.reference else "",
            )
        return outcomes

    def _finish(self, raw: RawMail, outcome: str, reason: str) -> None:
        raw.state = "done"
        raw.outcome = outcome
        raw.reason = reason
        raw.processed_at = self.clock.now()

    def _quarantine(self, s: Session, raw: RawMail, reason: str, error: str | None) -> Outcome:
        self._finish(raw, "quarantined", reason)
        raw.error = error
        s.add(
            Event(
                case_id=None,
                raw_id=raw.id,
                at=self.clock.now(),
                kind="quarantined",
                detail=f"message {raw.id} from mailbox {raw.mailbox} quarantined: {reason}",
            )
        )
        return Outcome(raw.id, "quarantined", reason)

    def _apply_one(self, s: Session, raw: RawMail, email: ParsedEmail) -> Outcome:
        now = self.clock.now()
        mid = email.message_id
        mid_text = f"<{mid}>" if mid else "(no Message-ID)"

        # Our own mail coming back, or the same message seen before.
        earlier: Message | None = None
        if mid:
            earlier = s.scalars(select(Message).where(Message.message_id == mid)).first()
        else:
            earlier = s.scalars(
                select(Message).where(
                    Message.content_hash == email.content_hash,
                    Message.message_id.is_(None),
                    Message.direction == "in",
                )
            ).first()
        if earlier is not None:
            if earlier.direction == "out":
                reason = f"own mail: our outgoing {mid_text} came back to mailbox {raw.mailbox}"
            else:
                how = "Message-ID" if mid else "content"
                reason = f"duplicate: same {how} as message already received {mid_text}"
            if earlier.case_id is not None:
                s.add(
                    Event(
                        case_id=earlier.case_id,
                        raw_id=raw.id,
                        at=now,
                        kind="ignored",
                        detail=f"ignored: {reason}",
                    )
                )
            self._finish(raw, "ignored", reason)
            return Outcome(raw.id, "ignored", reason)

        verdict = classify(email, self.policy)
        if verdict.verdict in (Verdict.SUSPICIOUS, Verdict.NO_SENDER):
            return self._quarantine(s, raw, f"held for review: {verdict.reason}", None)

        thread = match(email, _SessionLookup(s), self.prefixes)
        if verdict.automated:
            reason = f"ignored: {verdict.reason}"
            self._add_message(s, raw, email, thread.case_id, verdict, thread)
            if thread.case_id is not None:
                s.add(
                    Event(
                        case_id=thread.case_id,
                        raw_id=raw.id,
                        at=now,
                        kind="ignored",
                        detail=f"{reason}; {thread.detail}",
                    )
                )
            self._finish(raw, "ignored", verdict.reason)
            return Outcome(raw.id, "ignored", verdict.reason)

        assert email.from_ is not None  # NO_SENDER was quarantined above
        if thread.case_id is not None:
            case = s.get_one(Case, thread.case_id)
            self._add_message(s, raw, email, case.id, verdict, thread)
            s.add(
                Event(
                    case_id=case.id,
                    raw_id=raw.id,
                    at=now,
                    kind="message-in",
                    detail=f"message {mid_text} from {email.from_.addr} to mailbox "
                    f"{raw.mailbox}; {thread.detail}",
                )
            )
            self._finish(raw, "thread", thread.detail)
            return Outcome(raw.id, "thread", thread.detail, case.reference)

        return self._open_case(s, raw, email, verdict, thread)

    def _add_message(
        self,
        s: Session,
        raw: RawMail,
        email: ParsedEmail,
        case_id: int | None,
        verdict: Classification,
        thread: ThreadMatch,
    ) -> None:
        s.add(
            Message(
                case_id=case_id,
                raw_id=raw.id,
                direction="in",
                message_id=email.message_id,
                content_hash=email.content_hash,
                from_addr=email.from_.addr if email.from_ else None,
                at=raw.received_at,
                verdict=verdict.verdict.value,
                threaded_via=thread.via,
            )
        )
        s.flush()

    def _next_reference(self, s: Session, prefix: str, year: int) -> str:
        seq = s.scalars(
            select(RefSequence)
            .where(RefSequence.prefix == prefix, RefSequence.year == year)
            .with_for_update()
        ).first()
        if seq is None:
            seq = RefSequence(prefix=prefix, year=year, last=0)
            s.add(seq)
        seq.last += 1
        return format_reference(prefix, year, seq.last)

    def _open_case(
        self,
        s: Session,
        raw: RawMail,
        email: ParsedEmail,
        verdict: Classification,
        thread: ThreadMatch,
    ) -> Outcome:
        assert email.from_ is not None
        now = self.clock.now()
        mailbox = self.mailboxes.get(raw.mailbox)
        if mailbox is None:
            raise LookupError(f"mailbox {raw.mailbox!r} is no longer configured")
        partnership = self.config.partnerships[mailbox.partnership]
        year = raw.received_at.astimezone(LONDON).year
        reference = self._next_reference(s, partnership.prefix, year)
        case = Case(
            reference=reference,
            partnership=mailbox.partnership,
            status="open",
            stage=1,
            flags=[],
            opened_at=raw.received_at,
            raised_by=email.from_.addr,
            mailbox=raw.mailbox,
        )
        s.add(case)
        s.flush()
        self._add_message(s, raw, email, case.id, verdict, thread)
        mid_text = f"<{email.message_id}>" if email.message_id else "(no Message-ID)"
        signals = f"; signals: {', '.join(verdict.signals)}" if verdict.signals else ""
        s.add(
            Event(
                case_id=case.id,
                raw_id=raw.id,
                at=now,
                kind="opened",
                detail=f"case opened from message {mid_text} from {email.from_.addr} to "
                f"mailbox {raw.mailbox}, received {raw.received_at.isoformat()}; "
                f"{thread.detail}{signals}",
            )
        )
        acked = self._queue_ack(s, case, email, mailbox)
        self._finish(raw, "case", f"opened {reference}")
        return Outcome(raw.id, "case", f"opened {reference}", reference, acked)

    def _queue_ack(
        self, s: Session, case: Case, email: ParsedEmail, mailbox: MailboxConfig
    ) -> bool:
        assert email.from_ is not None
        now = self.clock.now()
        to = email.from_.addr
        intent = f"ack:{case.id}"

        def skip(why: str) -> bool:
            s.add(
                Event(
                    case_id=case.id, at=now, kind="ack-skipped", detail=f"no acknowledgement: {why}"
                )
            )
            return False

        if to in self.config.own_addresses:
            return skip(f"{to} is one of the tracker's own addresses")
        if outbox.intent_exists(s, intent):
            return skip("one was already queued for this case")
        limit = self.config.limits.auto_mail_per_sender_per_hour
        sent = outbox.automatic_mail_count(s, to, now - timedelta(hours=1))
        if sent >= limit:
            return skip(
                f"rate limit: {sent} automatic mails to {to} in the last hour (limit {limit})"
            )
        partnership = self.config.partnerships[case.partnership]
        context = {
            "reference": case.reference,
            "partnership_name": partnership.display_name or case.partnership,
            "mailbox_address": mailbox.address,
            "received_local": case.opened_at.astimezone(LONDON).strftime("%A %d %B %Y, %H:%M"),
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
        outbox.enqueue(
            s,
            intent=intent,
            case_id=case.id,
            kind="ack",
            message_id=message_id,
            envelope_from=from_addr,
            recipients=[to],
            data=data,
            now=now,
        )
        s.add(
            Message(
                case_id=case.id,
                raw_id=None,
                direction="out",
                message_id=message_id,
                content_hash=None,
                from_addr=from_addr,
                at=now,
                verdict="own",
                threaded_via=None,
            )
        )
        s.add(
            Event(
                case_id=case.id,
                at=now,
                kind="ack-queued",
                detail=f"acknowledgement <{message_id}> queued to {to}",
            )
        )
        return True
