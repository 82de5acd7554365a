"""A relay that hangs up after the message data, before its reply: the mail is never resent.

The relay has the whole message when the connection drops, so it may well
deliver it; sending again would give the recipient two copies (a second
acknowledgement, a second IRO notice). The row is marked ``uncertain`` with a
timeline line, for an operator to decide. A connection lost *before* the data
went out is an ordinary temporary failure and is retried.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.fixtures.smtp import HOST, free_port
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker import delivery
from tracker.errors import DeliveryUncertain, TemporaryDeliveryError
from tracker.kinds import EventKind
from tracker.senders.smtp import SmtpSender


class HangUp:
    """aiosmtpd handler that closes the connection at one command, without replying."""

    def __init__(self, at: str) -> None:
        self.at = at  # "DATA": after the whole message arrived; "RCPT": before any data
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.at == "RCPT":
            assert server.transport is not None
            server.transport.abort()
            return "250 OK"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        with self.lock:
            self.received.append(envelope.original_content)
        if self.at == "DATA":
            assert server.transport is not None
            server.transport.abort()  # the message is here; the "250" never leaves
        return "250 OK"


def _relay(at: str) -> Iterator[tuple[HangUp, int]]:
    handler = HangUp(at)
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def drops_after_data() -> Iterator[tuple[HangUp, int]]:
    yield from _relay("DATA")


@pytest.fixture
def drops_before_data() -> Iterator[tuple[HangUp, int]]:
    yield from _relay("RCPT")


MESSAGE = b"From: a@x.example\r\nTo: b@y.example\r\nSubject: t\r\n\r\nbody\r\n"


def test_the_sender_says_uncertain_when_the_reply_to_the_data_never_comes(
    drops_after_data: tuple[HangUp, int],
) -> None:
    handler, port = drops_after_data
    sender = SmtpSender(HOST, port, "none", timeout=10.0)
    try:
        with pytest.raises(DeliveryUncertain):
            sender.send("a@x.example", ["b@y.example"], MESSAGE, "m1@x.example")
    finally:
        sender.close()
    assert len(handler.received) == 1


def test_a_connection_lost_before_the_data_is_an_ordinary_temporary_failure(
    drops_before_data: tuple[HangUp, int],
) -> None:
    handler, port = drops_before_data
    sender = SmtpSender(HOST, port, "none", timeout=10.0)
    try:
        with pytest.raises(TemporaryDeliveryError):
            sender.send("a@x.example", ["b@y.example"], MESSAGE, "m2@x.example")
    finally:
        sender.close()
    assert handler.received == []


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str, drops_after_data: tuple[HangUp, int]) -> Harness:
    return Harness(flow_config(tmp_path, sqlite_url, drops_after_data[1]))


def test_the_outbox_marks_it_uncertain_and_never_sends_it_again(
    h: Harness, drops_after_data: tuple[HangUp, int]
) -> None:
    handler, port = drops_after_data
    h.deliver(rfc822())
    d = h.daemon()
    for name, source in d.sources.items():
        while d.step(name, source, 100):
            pass
    sender = SmtpSender(HOST, port, "none", timeout=10.0)
    try:
        first = delivery.deliver_pending(h.store, sender, h.clock, max_attempts=8)
        assert (first.sent, first.retried, first.failed, first.uncertain) == (0, 0, 0, 1)
        for _ in range(3):
            h.clock.advance(seconds=3600)
            again = delivery.deliver_pending(h.store, sender, h.clock, max_attempts=8)
            assert (again.sent, again.retried, again.uncertain) == (0, 0, 0)
    finally:
        sender.close()
        d.sender.close()
    [item] = h.outbox()
    assert item.state == "uncertain"
    assert item.attempts == 1
    assert len(handler.received) == 1  # handed over once, never again
    lines = [e for e in h.events() if e.kind == EventKind.DELIVERY_UNCERTAIN]
    assert len(lines) == 1
    assert item.message_id in lines[0].detail
    assert "not resent" in lines[0].detail
