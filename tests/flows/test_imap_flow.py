"""The daemon against a real Dovecot (IDLE) and a real SMTP server, in its own threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from tests.fixtures.dovecot import DovecotServer
from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness
from tests.helpers import rfc822
from tracker.clock import SystemClock
from tracker.config import load_config


def _config(tmp: Path, db_url: str, dovecot: DovecotServer, sink: SmtpSink, tls: str) -> Path:
    mailbox = {
        "name": "sscp",
        "kind": "imap",
        "address": "sscp@solihull.gov.uk",
        "partnership": "solihull",
        "host": dovecot.host,
        "username": dovecot.user,
        "password_env": "TEST_IMAP_PASSWORD",
        "idle_timeout": 30.0,
        "timeout": 10.0,
    }
    if tls == "implicit":
        mailbox.update(port=dovecot.tls_port, tls="implicit", ca_file=str(dovecot.ca_file))
    else:
        mailbox.update(port=dovecot.port, tls="none")
    data = {
        "database": {"url": db_url},
        "partnerships": {"solihull": {"prefix": "SSCP", "domains": ["solihull.gov.uk"]}},
        "mailbox": [mailbox],
        "outgoing": {
            "transport": "smtp",
            "host": sink.host,
            "port": sink.port,
            "tls": "none",
            "from_address": "sscp@solihull.gov.uk",
        },
    }
    path = tmp / "config.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.fixture
def running(
    tmp_path: Path,
    sqlite_url: str,
    dovecot: DovecotServer,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Harness]:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", dovecot.password)
    tls = getattr(request, "param", "none")
    h = Harness(
        load_config(_config(tmp_path, sqlite_url, dovecot, smtp_sink, tls)), clock=SystemClock()
    )  # type: ignore[arg-type]
    daemon = h.daemon()
    thread = threading.Thread(target=daemon.run_forever, kwargs={"tick_seconds": 1.0})
    thread.start()
    try:
        yield h
    finally:
        daemon.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "daemon did not stop"


def _wait(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize("running", ["none", "implicit"], indirect=True)
def test_idle_daemon_acknowledges_new_mail(
    running: Harness, dovecot: DovecotServer, smtp_sink: SmtpSink
) -> None:
    arrived = datetime(2026, 11, 20, 16, 45, tzinfo=UTC)
    dovecot.append("INBOX", rfc822(message_id="<live1@school.example>"), internaldate=arrived)
    [ack] = smtp_sink.wait_for(1, timeout=20)
    assert ack.parsed()["Subject"] == "[SSCP-2026-0001] Escalation received"
    [case] = running.cases()
    assert case.opened_at == arrived  # INTERNALDATE, not the Date: header
    _wait(lambda: dovecot.list_uids("INBOX") == [] and len(dovecot.list_uids("Processed")) == 1)


def test_daemon_survives_server_restart(
    running: Harness, dovecot: DovecotServer, smtp_sink: SmtpSink
) -> None:
    dovecot.append("INBOX", rfc822(message_id="<before@school.example>"))
    smtp_sink.wait_for(1, timeout=20)
    dovecot.restart()
    dovecot.append(
        "INBOX", rfc822(message_id="<after@school.example>", sender="B <b@school.example>")
    )
    smtp_sink.wait_for(2, timeout=40)
    assert [c.reference for c in running.cases()] == ["SSCP-2026-0001", "SSCP-2026-0002"]
    _wait(lambda: len(dovecot.list_uids("Processed")) == 2)


def test_quarantined_mail_is_moved_to_quarantine_folder(
    running: Harness, dovecot: DovecotServer
) -> None:
    dovecot.append("INBOX", rfc822(sender="X <x@so1ihull.gov.uk>"))
    _wait(lambda: len(dovecot.list_uids("Quarantine")) == 1)
    assert dovecot.list_uids("INBOX") == [] and running.cases() == []
