"""The one place where the pure stages meet the database.

``commit_raw`` makes the fetched bytes durable; ``process_*`` parses the
stored messages and hands them to :class:`tracker.intake.Intake`, which
decides a whole batch in memory and writes it in one transaction. A message
whose processing has stopped the daemon before is tried alone, and after
``limits.max_processing_attempts`` it is quarantined without another try.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import undefer

from ingest.classify import Policy
from ingest.forms import FormLimits
from ingest.raw import RawMessage
from tracker import chasers
from tracker.clock import Clock
from tracker.config import Config, child_key_secret, own_header_secret
from tracker.errors import ConfigError, ConflictError
from tracker.intake import Intake, Result, Work, chunks
from tracker.intake.reading import read
from tracker.kinds import EventKind, Outcome
from tracker.model import Event, RawMail
from tracker.notify import Renderer
from tracker.reports import digest_job
from tracker.rules.partnerships import Partnerships
from tracker.store import Store, observe_clock

__all__ = ["Result", "Service", "Stored"]

log = logging.getLogger(__name__)

#: Attempts at writing one batch when another daemon wrote first (PostgreSQL).
CONFLICT_RETRIES = 5
decisions = logging.getLogger("tracker.decisions")


@dataclass(frozen=True)
class Stored:
    """A fetched message after :meth:`Service.commit_raw`."""

    raw: RawMessage
    raw_id: int
    done: bool  # already processed earlier (a re-delivery): only the ack is missing
    outcome: str | None


@dataclass(frozen=True)
class _Unparsed:
    raw_id: int
    mailbox: str
    received_at: datetime
    data: bytes


class Service:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        renderer: Renderer,
        partnerships: Partnerships | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        own_key = own_header_secret(config)
        renderer.own_key = own_key  # every mail rendered for this service signs our header
        self.renderer = renderer
        #: Raises :class:`tracker.rules.schema.RuleFileError` for an invalid rule file,
        #: so a daemon with a broken procedure never starts.
        self.partnerships = partnerships or Partnerships.from_config(config)
        self.prefixes = self.partnerships.prefixes
        missing = [
            f"rules for {name}: {problem}"
            for name, p in self.partnerships.by_name.items()
            for problem in renderer.missing(name, p.engine.rule_file.templates())
        ]
        if missing:
            raise ConfigError("\n".join(missing))
        protected = set(config.security.protected_domains)
        for p in self.partnerships.by_name.values():
            protected.update(p.domains)
        self.policy = Policy(
            trusted_authserv_ids=frozenset(i.lower() for i in config.security.trusted_authserv_ids),
            protected_domains=frozenset(d.lower() for d in protected),
            own_addresses=config.own_addresses,
            own_header_key=own_key,
        )
        if not self.policy.trusted_authserv_ids:
            log.warning(
                "no trusted_authserv_ids configured: staff commands by mail will be refused"
            )
        #: Reading pools, one per mailbox: a hostile backlog in one mailbox queues behind
        #: itself, never in front of another mailbox's mail (threads start on first use).
        self._read_pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()
        self.form_limits = FormLimits(
            max_attachment_bytes=config.forms.max_attachment_bytes,
            max_total_bytes=config.forms.max_total_bytes,
            parse_timeout_seconds=config.forms.parse_timeout_seconds,
        )
        self.intake = Intake(config, renderer, self.partnerships, child_key_secret(config))

    # -- stage 1: make the bytes durable ----------------------------------

    def commit_raw(self, batch: Sequence[RawMessage]) -> list[Stored]:
        """Store each message's bytes once; re-deliveries find their earlier row."""
        if not batch:
            return []
        now = self.clock.now()
        known: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        with self.store.transaction() as s:
            by_mailbox: dict[str, set[str]] = {}
            for raw in batch:
                by_mailbox.setdefault(raw.mailbox, set()).add(raw.sha256)
            for mailbox, hash_set in by_mailbox.items():
                for chunk in chunks(sorted(hash_set)):
                    rows = s.execute(
                        select(RawMail.id, RawMail.sha256, RawMail.state, RawMail.outcome).where(
                            RawMail.mailbox == mailbox, RawMail.sha256.in_(chunk)
                        )
                    )
                    for row_id, sha, state, outcome in rows:
                        known[(mailbox, sha)] = (row_id, state, outcome)
            new: dict[tuple[str, str], RawMessage] = {}
            for raw in batch:
                key = (raw.mailbox, raw.sha256)
                if key not in known and key not in new:
                    new[key] = raw
            if new:
                ids = s.scalars(
                    insert(RawMail).returning(RawMail.id, sort_by_parameter_order=True),
                    [
                        {
                            "mailbox": r.mailbox,
                            "external_id": r.external_id,
                            "sha256": r.sha256,
                            "size": r.size,
                            "received_at": r.received_at,
                            "stored_at": now,
                            "data": r.data,
                            "state": "pending",
                            "attempts": 0,
                            "replays": 0,
                        }
                        for r in new.values()
                    ],
                ).all()
                for key, row_id in zip(new, ids, strict=True):
                    known[key] = (row_id, "pending", None)
        result = []
        for raw in batch:
            row_id, state, outcome = known[(raw.mailbox, raw.sha256)]
            result.append(Stored(raw, row_id, state == "done", outcome))
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

    def process_stored(self, stored: Sequence[Stored]) -> list[Result]:
        """Process the not-yet-done messages of a batch just committed."""
        work = [
            _Unparsed(st.raw_id, st.raw.mailbox, st.raw.received_at, st.raw.data)
            for st in stored
            if not st.done
        ]
        return self._process(work)

    def process_pending(self, limit: int = 500) -> list[Result]:
        """Process rows left ``pending`` by a daemon that stopped (or a replay)."""
        with self.store.transaction() as s:
            rows = s.scalars(
                select(RawMail)
                .options(undefer(RawMail.data))
                .where(RawMail.state == "pending")
                .order_by(RawMail.id)
                .limit(limit)
            ).all()
            work = [_Unparsed(r.id, r.mailbox, r.received_at, r.data) for r in rows]
        return self._process(work)

    def _process(self, work: Sequence[_Unparsed]) -> list[Result]:
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

    def _count_attempt(self, work: Sequence[_Unparsed]) -> None:
        """Commit the attempt before trying: if processing kills the process, the next
        start knows, and stops feeding the same poison after ``max_processing_attempts``."""
        with self.store.transaction() as s:
            s.execute(
                update(RawMail)
                .where(RawMail.id.in_([w.raw_id for w in work]), RawMail.state == "pending")
                .values(attempts=RawMail.attempts + 1)
            )

    def _give_up(self, w: _Unparsed, attempts: int) -> Result:
        reason = f"processing stopped the daemon {attempts} times; not tried again"
        return self._quarantine(w.raw_id, reason)

    def _quarantine(self, raw_id: int, reason: str, error: str | None = None) -> Result:
        now = self.clock.now()
        with self.store.transaction() as s:
            raw = s.get_one(RawMail, raw_id)
            raw.state, raw.outcome, raw.reason, raw.error, raw.processed_at = (
                "done",
                Outcome.QUARANTINED,
                reason,
                error,
                now,
            )
            s.add(
                Event(
                    case_id=None,
                    raw_id=raw.id,
                    at=now,
                    kind=EventKind.QUARANTINED,
                    detail=f"message {raw.id} from mailbox {raw.mailbox} quarantined: {reason}",
                )
            )
        return Result(raw_id, Outcome.QUARANTINED, reason)

    def _read_all(self, work: Sequence[_Unparsed]) -> list[Work]:
        """Parse, classify and read the forms of a batch, several messages at a time.

        Reading an attachment waits on a worker process (a real PDF can take a
        tenth of a second), so a backlog is read several messages at once.
        """

        def one(w: _Unparsed) -> Work:
            budget = self.config.limits.processing_budget_seconds
            return read(
                w.raw_id, w.mailbox, w.received_at, w.data, self.policy, self.form_limits, budget
            )

        if len(work) < 2:
            return [one(w) for w in work]
        return list(self._read_pool(work[0].mailbox).map(one, work))

    def _read_pool(self, mailbox: str) -> ThreadPoolExecutor:
        with self._pools_lock:
            pool = self._read_pools.get(mailbox)
            if pool is None:
                pool = ThreadPoolExecutor(
                    max_workers=max(2, min(8, os.cpu_count() or 2)),
                    thread_name_prefix=f"read-{mailbox}",
                )
                self._read_pools[mailbox] = pool
            return pool

    def _run_batch(self, work: Sequence[_Unparsed]) -> list[Result]:
        return self._write_batch(self._read_all(work))

    def _write_batch(self, parsed: Sequence[Work]) -> list[Result]:
        """Decide and write ``parsed`` in one transaction; one bad message never fails its batch.

        If writing fails for any reason but a conflict or an unusable database,
        the messages are written one by one, so only the one that cannot be
        written is quarantined, its traceback kept in ``raw_mail.error`` (it may
        quote the message, so it is never logged).
        """
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                outcomes = self.intake.run(self.store, parsed, self.clock.now())
                break
            except (IntegrityError, ConflictError):
                # Another daemon stored the same Message-ID or took a reference number
                # first (PostgreSQL); the next attempt sees its rows and decides again
                # (deciding is cheap: the messages were read once, above). A short random
                # pause keeps two daemons from colliding on every attempt.
                if attempt == CONFLICT_RETRIES:
                    raise
                log.info("concurrent update detected; retrying batch of %d", len(parsed))
                time.sleep(random.uniform(0, 0.05 * attempt))
            except (OperationalError, InterfaceError):
                raise  # the database, not a message: the rows stay pending for the next try
            except Exception as exc:
                if len(parsed) > 1:
                    log.warning(
                        "writing a batch of %d failed (%s); writing its messages one by one",
                        len(parsed),
                        type(exc).__name__,
                    )
                    return [r for w in parsed for r in self._write_batch([w])]
                log.error(
                    "writing raw message %s failed (%s); quarantined",
                    parsed[0].raw_id,
                    type(exc).__name__,
                )
                summary = "".join(traceback.format_exception(exc, limit=-4))[-4000:]
                outcome = self._quarantine(
                    parsed[0].raw_id, f"processing failed: {type(exc).__name__}", summary
                )
                decisions.info("raw %s: %s (%s)", outcome.raw_id, outcome.outcome, outcome.reason)
                return [outcome]
        for o in outcomes:
            decisions.info("raw %s: %s (%s)", o.raw_id, o.outcome, o.reason)
        return outcomes

    # -- for the daemon and the operator -------------------------------------

    def replay(self, ids: Sequence[int] | None) -> list[Result]:
        """Process quarantined messages again, after a fix; ``None`` replays every one.

        Each row becomes pending with its attempts reset (the poison-message
        limit counts afresh) and one more replay counted, then it is processed
        like a message left by a stopped daemon. Ids that are not quarantined
        are skipped; an empty list means nothing was replayed.
        """
        marked = (
            update(RawMail)
            .where(RawMail.outcome == Outcome.QUARANTINED)
            .values(state="pending", outcome=None, attempts=0, replays=RawMail.replays + 1)
            .returning(RawMail.id)
        )
        if ids is not None:
            marked = marked.where(RawMail.id.in_(list(ids)))
        with self.store.transaction() as s:
            count = len(s.scalars(marked).all())
        if not count:
            return []
        return self.process_pending(limit=count + 1000)

    def run_due(self, now: datetime) -> chasers.ChaseReport:
        """The scheduler's tick: queue the reminders, overdue notices and roll-ups due now.

        Each goes once however often this runs. ``now`` is first held to the
        database's clock, which never moves backwards (a system clock stepped
        back by NTP must not judge a deadline twice).
        """
        now = observe_clock(self.store, now, explicit=False)
        return chasers.run_due(self.store, self.partnerships, self.renderer, self.config, now)

    def queue_digest(self, partnership: str, kind: str, now: datetime) -> digest_job.DigestResult:
        """Queue ``partnership``'s ``kind`` digest for the period containing ``now`` (once)."""
        now = observe_clock(self.store, now, explicit=False)
        return digest_job.queue(self.store, self.partnerships, self.config, partnership, kind, now)

    def schedule_digests(self, scheduler: Any, run: Callable[[str, str], None]) -> list[str]:
        """Add ``run(partnership, kind)`` to an APScheduler on each digest's schedule."""
        return digest_job.add_jobs(scheduler, self.config, self.partnerships, run)
