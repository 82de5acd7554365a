"""Process lifecycle: one thread per mailbox, one outbox thread, an APScheduler tick.

Each mailbox thread loops ``poll → commit_raw → process → ack → wait``; the
outbox thread delivers whenever a mailbox thread has queued mail and on
every scheduler tick (retries, abandoned sends). A failing mailbox backs off
and reconnects without disturbing the others; a failing message is
quarantined by the service. ``run_once`` does the same work in the calling
thread until every mailbox is empty, for ``tracker run --once`` and tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler

from ingest.errors import AuthenticationFailed, SourceError
from ingest.raw import RawMessage
from ingest.sources.backoff import Backoff
from ingest.sources.base import Source
from tracker import delivery
from tracker.chasers import ChaseReport
from tracker.clock import Clock
from tracker.config import Config, MailboxConfig
from tracker.delivery_alerts import FailureAlerts
from tracker.intake import Result
from tracker.kinds import Outcome
from tracker.senders.base import Sender
from tracker.service import Service
from tracker.store import DbSourceState, Store

log = logging.getLogger(__name__)

Reporter = Callable[[str, Result], None]

#: After a stop, how long ``run_forever`` waits for its threads (all together) to finish
#: what they are doing; SIGTERM must stop the daemon within a few seconds.
STOP_GRACE_SECONDS = 2.0


def make_source(mailbox: MailboxConfig, store: Store) -> Source:
    """Build the source a mailbox's configuration asks for."""
    if mailbox.kind == "maildir":
        from ingest.sources.maildir import MaildirSource

        assert mailbox.path is not None
        return MaildirSource(mailbox.name, mailbox.path)
    from ingest.sources.imap import ImapSource

    assert mailbox.host is not None and mailbox.username is not None

    def password() -> str:
        return mailbox.password() or ""

    return ImapSource(
        mailbox.name,
        host=mailbox.host,
        port=mailbox.effective_port,
        tls=mailbox.tls,
        username=mailbox.username,
        password=password,
        state=DbSourceState(store),
        folder=mailbox.folder,
        processed_folder=mailbox.processed_folder,
        quarantine_folder=mailbox.quarantine_folder,
        ca_file=mailbox.ca_file,
        use_idle=mailbox.idle,
        idle_timeout=mailbox.idle_timeout,
        poll_interval=mailbox.poll_interval,
        timeout=mailbox.timeout,
    )


@dataclass
class RunReport:
    fetched: int = 0
    #: Fetched again after an earlier run had already processed them (only the ack was missing).
    seen_before: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    sent: int = 0
    chasers: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, outcome: Result) -> None:
        self.outcomes[outcome.outcome] = self.outcomes.get(outcome.outcome, 0) + 1

    def summary(self) -> str:
        parts = [f"{self.fetched} fetched"]
        if self.seen_before:
            parts.append(f"{self.seen_before} seen before")
        parts += [f"{n} {k}" for k, n in self.outcomes.items()]
        if self.chasers:
            parts.append(f"{self.chasers} chasers")
        parts.append(f"{self.sent} sent")
        if self.retried:
            parts.append(f"{self.retried} to retry")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.uncertain:
            parts.append(f"{self.uncertain} uncertain")
        return ", ".join(parts)


class Daemon:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        service: Service,
        sources: dict[str, Source],
        sender: Sender,
        *,
        reporter: Reporter | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.service = service
        self.sources = sources
        self.sender = sender
        self.reporter = reporter
        self._stop = threading.Event()
        self._outbox_wakeup = threading.Event()
        self._outbox_lock = threading.Lock()
        self.report = RunReport()
        self._report_lock = threading.Lock()

    # -- one step for one mailbox -----------------------------------------

    def step(self, name: str, source: Source, limit: int) -> int:
        """Fetch, store, process and ack one batch; returns how many were fetched."""
        batch = source.poll(limit)
        if not batch:
            return 0
        stored = self.service.commit_raw(batch)
        outcomes = {o.raw_id: o for o in self.service.process_stored(stored)}
        processed: list[RawMessage] = []
        quarantined: list[RawMessage] = []
        acked_ids: list[int] = []
        for st in stored:
            result = outcomes.get(st.raw_id)
            final = result.outcome if result else st.outcome
            if final is None:
                continue  # still pending (another daemon holds it); fetched again later
            (quarantined if final == Outcome.QUARANTINED else processed).append(st.raw)
            acked_ids.append(st.raw_id)
        source.ack(processed, "processed")
        source.ack(quarantined, "quarantined")
        self.service.mark_acked(acked_ids)
        with self._report_lock:
            self.report.fetched += len(batch)
            self.report.seen_before += sum(1 for st in stored if st.done)
            for o in outcomes.values():
                self.report.add(o)
        if self.reporter:
            for o in outcomes.values():
                self.reporter(name, o)
        if any(o.outcome in (Outcome.CASE, Outcome.THREAD) for o in outcomes.values()):
            self._outbox_wakeup.set()  # acknowledgements and notifications
        return len(batch)

    def deliver(self) -> delivery.DeliveryReport:
        with self._outbox_lock:
            rep = delivery.deliver_pending(
                self.store,
                self.sender,
                self.clock,
                max_attempts=self.config.outgoing.max_attempts,
                alerts=FailureAlerts(self.service.partnerships, self.service.renderer, self.config),
            )
        with self._report_lock:
            self.report.sent += rep.sent
            self.report.retried += rep.retried
            self.report.failed += rep.failed
            self.report.uncertain += rep.uncertain
        return rep

    def chase(self) -> ChaseReport:
        """Queue the reminders, overdue notices and roll-ups due now (idempotent)."""
        rep = self.service.run_due(self.clock.now())
        with self._report_lock:
            self.report.chasers += rep.queued
        return rep

    def recover(self) -> None:
        """Finish what a previous run left half-done: stored but unprocessed messages."""
        while True:
            outcomes = self.service.process_pending()
            if not outcomes:
                break
            for o in outcomes:
                self.report.add(o)

    # -- --once --------------------------------------------------------------

    def run_once(self, progress: Callable[[str], None] | None = None) -> RunReport:
        self.recover()
        for name, source in self.sources.items():
            mailbox = next(m for m in self.config.mailbox if m.name == name)
            total = 0
            try:
                while not self._stop.is_set():
                    n = self.step(name, source, mailbox.batch_size)
                    if n == 0:
                        break
                    total += n
                    if progress:
                        progress(f"{name}: {total} messages fetched and processed")
                    self.deliver()
            except SourceError as exc:
                log.error("%s", exc)
                self.report.errors.append(str(exc))
            finally:
                source.close()
        self.chase()
        self.deliver()
        return self.report

    # -- forever ----------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._outbox_wakeup.set()
        for source in self.sources.values():
            source.interrupt()

    def _mailbox_loop(self, name: str, source: Source, mailbox: MailboxConfig) -> None:
        backoff = Backoff(initial=1.0, maximum=300.0)
        while not self._stop.is_set():
            try:
                while not self._stop.is_set() and self.step(name, source, mailbox.batch_size):
                    pass
                backoff.reset()
                if not self._stop.is_set():
                    source.wait(mailbox.idle_timeout)
            except AuthenticationFailed as exc:
                log.error("%s; retrying in 5 minutes", exc)
                source.close()
                self._stop.wait(300)
            except SourceError as exc:
                delay = backoff.next_delay()
                log.warning("%s; reconnecting in %.0f s", exc, delay)
                source.close()
                self._stop.wait(delay)
            except Exception:
                delay = backoff.next_delay()
                log.exception("mailbox %s: unexpected error; retrying in %.0f s", name, delay)
                source.close()
                self._stop.wait(delay)
        source.close()

    def _outbox_loop(self) -> None:
        while not self._stop.is_set():
            self._outbox_wakeup.wait(30)
            self._outbox_wakeup.clear()
            if self._stop.is_set():
                break
            try:
                self.deliver()
            except Exception:
                log.exception("outbox delivery failed; will try again")

    def digest(self, partnership: str, kind: str) -> None:
        """A scheduled digest: queued once per period (unique intent), then delivered."""
        try:
            result = self.service.queue_digest(partnership, kind, self.clock.now())
            if result.status == "refused":
                log.warning("%s digest for %s %s", kind, partnership, result.message)
        except Exception:
            log.exception("%s digest for %s failed", kind, partnership)
        self._outbox_wakeup.set()

    def run_due(self) -> None:
        """The scheduler's tick: queue due chasers, then wake the outbox (retries too)."""
        try:
            self.chase()
        except Exception:
            log.exception("chasers failed; will try again at the next tick")
        self._outbox_wakeup.set()

    def run_forever(self, *, tick_seconds: float = 30.0) -> None:
        self.recover()
        threads = [threading.Thread(target=self._outbox_loop, name="outbox", daemon=True)]
        for m in self.config.mailbox:
            if m.name in self.sources:
                threads.append(
                    threading.Thread(
                        target=self._mailbox_loop,
                        args=(m.name, self.sources[m.name], m),
                        name=f"mailbox-{m.name}",
                        daemon=True,
                    )
                )
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(
            self.run_due,
            "interval",
            seconds=tick_seconds,
            id="tick",
            max_instances=1,
            coalesce=True,
        )
        self.service.schedule_digests(scheduler, self.digest)
        scheduler.start()
        self._outbox_wakeup.set()
        for t in threads:
            t.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            scheduler.shutdown(wait=False)
            self._outbox_wakeup.set()
            # One shared grace period, not one per thread: a stop must be quick. A thread
            # still busy after it is a daemon thread and ends with the process; whatever it
            # had not committed is rolled back, and its raw message is tried again.
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            self.sender.close()


def all_sources(config: Config, store: Store) -> dict[str, Source]:
    """One source per configured mailbox, by name."""
    return {m.name: make_source(m, store) for m in config.mailbox}
