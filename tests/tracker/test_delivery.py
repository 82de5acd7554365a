"""Delivery of the outbox against a real SMTP server: retries, failures, at most once."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker import delivery
from tracker.model import OutboxItem
from tracker.senders.smtp import SmtpSender


@pytest.fixture
def h(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> Harness:
    return Harness(flow_config(tmp_path, db_url, smtp_sink.port, outgoing={"max_attempts": 3}))


def _queue(h: Harness, n: int = 1) -> None:
    """Open ``n`` cases (one acknowledgement each) without delivering anything."""
    for i in range(n):
        h.deliver(rfc822(message_id=f"<q{i}@school.example>", sender=f"P <p{i}@school.example>"))
    d = h.daemon()
    for name, source in d.sources.items():
        while d.step(name, source, 100):
            pass


def _sender(sink: SmtpSink) -> SmtpSender:
    return SmtpSender(sink.host, sink.port, "none")


def test_temporary_failure_is_retried_with_backoff(h: Harness, smtp_sink: SmtpSink) -> None:
    _queue(h)
    smtp_sink.fail_next(451)
    sender = _sender(smtp_sink)
    rep = delivery.deliver_pending(h.store, sender, h.clock, max_attempts=3)
    assert (rep.sent, rep.retried) == (0, 1)
    [item] = h.outbox()
    assert item.state == "pending" and item.attempts == 1
    assert item.next_attempt_at == h.clock.now() + timedelta(seconds=30)
    # Not due yet: nothing happens.
    assert delivery.deliver_pending(h.store, sender, h.clock).sent == 0
    h.clock.advance(seconds=31)
    assert delivery.deliver_pending(h.store, sender, h.clock).sent == 1
    assert len(smtp_sink.messages) == 1
    kinds = [e.kind for e in h.events()]
    assert kinds[-2:] == ["delivery-retry", "ack-sent"]
    sender.close()


def test_permanent_failure_is_not_retried(h: Harness, smtp_sink: SmtpSink) -> None:
    _queue(h)
    smtp_sink.fail_next(550)
    sender = _sender(smtp_sink)
    rep = delivery.deliver_pending(h.store, sender, h.clock)
    assert rep.failed == 1
    h.clock.advance(hours=2)
    assert delivery.deliver_pending(h.store, sender, h.clock).sent == 0
    [item] = h.outbox()
    assert item.state == "failed" and "550" in (item.last_error or "")
    assert any(e.kind == "delivery-failed" for e in h.events())
    sender.close()


def test_gives_up_after_max_attempts(h: Harness, smtp_sink: SmtpSink) -> None:
    _queue(h)
    smtp_sink.fail_next(451, n=5)
    sender = _sender(smtp_sink)
    for _ in range(3):
        delivery.deliver_pending(h.store, sender, h.clock, max_attempts=3)
        h.clock.advance(hours=1)
    [item] = h.outbox()
    assert (item.state, item.attempts) == ("failed", 3)
    sender.close()


def test_relay_down_is_temporary(h: Harness, smtp_sink: SmtpSink) -> None:
    _queue(h)
    smtp_sink.stop()
    sender = _sender(smtp_sink)
    assert delivery.deliver_pending(h.store, sender, h.clock).retried == 1
    smtp_sink.start()
    h.clock.advance(minutes=5)
    assert delivery.deliver_pending(h.store, sender, h.clock).sent == 1
    sender.close()


def test_a_send_interrupted_by_a_crash_is_never_repeated(h: Harness, smtp_sink: SmtpSink) -> None:
    _queue(h, 2)
    # Simulate a daemon that died after committing 'sending' for the first row.
    with h.store.transaction() as s:
        first = s.scalar(select(func.min(OutboxItem.id)))
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id == first)
            .values(state="sending", sending_since=h.clock.now())
        )
    sender = _sender(smtp_sink)
    assert delivery.deliver_pending(h.store, sender, h.clock).sent == 1  # only the other one
    h.clock.advance(minutes=6)  # past the lease: an operator must decide
    rep = delivery.deliver_pending(h.store, sender, h.clock)
    assert (rep.sent, rep.uncertain) == (0, 1)
    states = {o.id: o.state for o in h.outbox()}
    assert states[first] == "uncertain"
    assert len(smtp_sink.messages) == 1
    assert any(e.kind == "delivery-uncertain" for e in h.events())
    sender.close()


@pytest.mark.postgres
def test_two_daemons_share_one_outbox(tmp_path: Path, pg_url: str, smtp_sink: SmtpSink) -> None:
    """Rows are claimed with SKIP LOCKED: two delivering workers never send one twice."""
    h = Harness(
        flow_config(
            tmp_path, pg_url, smtp_sink.port, limits={"auto_mail_per_sender_per_hour": 1000}
        )
    )
    _queue(h, 40)
    results = []

    def worker() -> None:
        sender = _sender(smtp_sink)
        results.append(delivery.deliver_pending(h.store, sender, h.clock).sent)
        sender.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(results) == 40
    ids = [str(m.parsed()["Message-ID"]) for m in smtp_sink.wait_for(40)]
    assert len(ids) == len(set(ids)) == 40
