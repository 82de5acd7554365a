"""ImapSource against a real, private Dovecot (tests/fixtures/dovecot.py); no mocks."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import trustme

from ingest.errors import (
    AuthenticationFailed,
    SourceError,
    SourceProtocolError,
    SourceUnavailable,
)
from ingest.raw import RawMessage
from ingest.sources.base import MemoryState
from ingest.sources.imap import TRACKED_KEYWORD, ImapSource
from tests.fixtures.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot

# Post-login capabilities Dovecot advertises, minus the extensions under test.
_BASE_CAPS = "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE UNSELECT NAMESPACE CHILDREN"
# A server that cannot do TLS at all: no STARTTLS, and the implicit-TLS listener off.
_NO_TLS = "ssl = no\nservice imap-login {\n  inet_listener imaps {\n    port = 0\n  }\n}\n"


def message(n: int, date: str = "Mon, 01 Jan 2001 00:00:00 +0000") -> bytes:
    return (
        f"From: referrer{n}@agency.example\r\n"
        f"To: escalations@sscp.example\r\n"
        f"Subject: Escalation {n}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <m{n}@agency.example>\r\n"
        "\r\n"
        f"Body of escalation {n}.\r\n"
    ).encode()


def uid_of(external_id: str) -> int:
    return int(external_id.split(":")[1])


def wire_lines(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    """Client->server command lines imaplib traced (logger imapclient.imaplib)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "imapclient.imaplib"
        and r.getMessage().startswith("> ")
        and needle in r.getMessage()
    ]


# ---------------------------------------------------------------------- poll


def test_poll_returns_bytes_and_internaldate_not_date_header(dovecot: DovecotServer) -> None:
    arrived = datetime(2026, 3, 4, 9, 15, 30, tzinfo=timezone(timedelta(hours=2)))
    data = message(1, date="Fri, 01 Jan 2021 12:00:00 -0500")
    uid = dovecot.append("INBOX", data, internaldate=arrived)
    source = dovecot.make_source()

    [raw] = source.poll()

    assert raw.mailbox == "sscp"
    assert raw.external_id == f"{dovecot.uidvalidity()}:{uid}"
    assert raw.data == data
    assert raw.received_at == arrived
    assert raw.received_at.utcoffset() == timedelta(0)
    assert raw.received_at == datetime(2026, 3, 4, 7, 15, 30, tzinfo=UTC)


def test_poll_uses_peek_so_seen_is_not_set(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source()

    assert len(source.poll()) == 1

    assert dovecot.flags("INBOX") == {1: ()}


def test_poll_is_oldest_first_and_respects_limit(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(n) for n in range(5)])
    source = dovecot.make_source()

    assert [uid_of(m.external_id) for m in source.poll(limit=2)] == [1, 2]
    assert [uid_of(m.external_id) for m in source.poll()] == [1, 2, 3, 4, 5]
    assert source.poll(limit=0) == []


def test_nothing_moves_before_ack(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2)])
    first = dovecot.make_source()

    batch = first.poll()
    again = first.poll()
    first.close()
    # A daemon that died before acking: a fresh source and state see the same mail.
    after_restart = dovecot.make_source(state=MemoryState()).poll()

    assert [m.external_id for m in again] == [m.external_id for m in batch]
    assert [m.data for m in after_restart] == [m.data for m in batch]
    assert dovecot.list_uids("INBOX") == [1, 2]
    assert dovecot.list_uids("Processed") == []
    assert dovecot.flags("INBOX") == {1: (), 2: ()}


def test_batch_of_250_is_fetched_in_chunks(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [message(n) for n in range(250)]
    dovecot.append_many("INBOX", bodies)
    source = dovecot.make_source(fetch_chunk=100)
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")

    batch = source.poll()

    assert [m.data for m in batch] == bodies
    assert [uid_of(m.external_id) for m in batch] == list(range(1, 251))
    fetches = wire_lines(caplog, "FETCH")
    assert len(fetches) == 3
    assert all("BODY.PEEK[] INTERNALDATE RFC822.SIZE" in line for line in fetches)


class ExpungeBeforeFetch(logging.Handler):
    """Expunge a message from a second session just before the source's FETCH.

    imaplib traces each command line at DEBUG just before sending it, so this
    handler runs in the source's thread between its SEARCH and its FETCH: the
    race "expunged by someone else after we searched" made deterministic.
    """

    def __init__(self, dovecot: DovecotServer, uid: int) -> None:
        super().__init__(logging.DEBUG)
        self.dovecot = dovecot
        self.uid = uid
        self.done = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.done or "UID FETCH" not in record.getMessage():
            return
        self.done = True
        with self.dovecot.client() as other:
            other.select_folder("INBOX")
            other.delete_messages([self.uid])
            other.expunge()


def test_uid_expunged_between_search_and_fetch_is_skipped(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append_many("INBOX", [message(1), message(2), message(3)])
    source = dovecot.make_source()
    wire = logging.getLogger("imapclient.imaplib")
    handler = ExpungeBeforeFetch(dovecot, uid=2)
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")
    wire.addHandler(handler)
    try:
        batch = source.poll()
    finally:
        wire.removeHandler(handler)

    assert handler.done
    assert [uid_of(m.external_id) for m in batch] == [1, 3]
    assert any("uid 2 vanished" in r.getMessage() for r in caplog.records)
    source.ack(batch, "processed")
    assert dovecot.list_uids("INBOX") == []


# ----------------------------------------------------------------------- ack


def test_ack_moves_to_processed_and_quarantine(dovecot: DovecotServer) -> None:
    bodies = [message(1), message(2), message(3)]
    dovecot.append_many("INBOX", bodies)
    state = MemoryState()
    source = dovecot.make_source(state=state)
    batch = source.poll()

    source.ack([batch[0], batch[2]], "processed")
    source.ack([batch[1]], "quarantined")

    assert dovecot.list_uids("INBOX") == []
    assert dovecot.fetch("Processed") == [bodies[0], bodies[2]]
    assert dovecot.fetch("Quarantine") == [bodies[1]]
    assert source.poll() == []
    assert dovecot.make_source(state=MemoryState()).poll() == []
    assert state.load("sscp") == (dovecot.uidvalidity(), 3)


def test_ack_uses_one_move_command_per_disposition(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append_many("INBOX", [message(n) for n in range(6)])
    source = dovecot.make_source()
    batch = source.poll()
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")

    source.ack(batch[:4], "processed")
    source.ack(batch[4:], "quarantined")

    moves = wire_lines(caplog, "MOVE")
    assert len(moves) == 2
    assert 'UID MOVE 1:4 "Processed"' in moves[0]
    assert 'UID MOVE 5:6 "Quarantine"' in moves[1]


def test_watermark_waits_for_every_lower_uid(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2), message(3)])
    state = MemoryState()
    source = dovecot.make_source(state=state)
    batch = source.poll()
    validity = dovecot.uidvalidity()

    source.ack(batch[1:], "processed")
    assert state.load("sscp") is None  # uid 1 is still unacked

    source.ack(batch[:1], "quarantined")
    assert state.load("sscp") == (validity, 3)


def test_watermark_is_reused_by_a_new_source(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2), message(3)])
    validity = dovecot.uidvalidity()
    state = MemoryState()
    # Messages at or below the watermark stay in INBOX (e.g. someone copied
    # them back): the watermark, not the folder's contents, decides.
    state.save("sscp", validity, 2)

    batch = dovecot.make_source(state=state).poll()

    assert [m.external_id for m in batch] == [f"{validity}:3"]


def test_uid_range_quirk_highest_uid_below_watermark(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2)])
    state = MemoryState()
    state.save("sscp", dovecot.uidvalidity(), 5)

    # "UID 6:*" matches UID 2 on the server (RFC 3501: n:* includes the highest UID).
    assert dovecot.make_source(state=state).poll() == []


def test_ack_without_folders_sets_keyword_and_leaves_mail(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2)])
    state = MemoryState()
    source = dovecot.make_source(state=state, processed_folder=None, quarantine_folder=None)
    batch = source.poll()

    source.ack(batch, "processed")

    assert dovecot.list_uids("INBOX") == [1, 2]
    assert all(TRACKED_KEYWORD.encode() in flags for flags in dovecot.flags("INBOX").values())
    assert "Processed" not in dovecot.folders()
    assert source.poll() == []
    # Even with the watermark lost, the keyword keeps them from coming back.
    fresh = dovecot.make_source(state=MemoryState(), processed_folder=None, quarantine_folder=None)
    assert fresh.poll() == []


def test_uidvalidity_change_refetches_and_skips_stale_acks(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [message(1), message(2), message(3)]
    dovecot.append_many("INBOX", bodies)
    state = MemoryState()
    source = dovecot.make_source(state=state)
    old_validity = dovecot.uidvalidity()
    source.ack(source.poll(limit=2), "processed")
    [stale] = source.poll()
    assert state.load("sscp") == (old_validity, 2)

    dovecot.reset_uidvalidity("INBOX")
    new_validity = dovecot.uidvalidity()
    assert new_validity != old_validity

    with caplog.at_level(logging.WARNING, logger="ingest.sources.imap"):
        try:
            batch = source.poll()
        except SourceUnavailable:  # the restart dropped our connection
            batch = source.poll()
        source.ack([stale], "processed")  # old UIDVALIDITY: must not touch anything

    # UID 1 under the new UIDVALIDITY is below the old watermark of 2, yet refetched.
    assert [m.external_id for m in batch] == [f"{new_validity}:1"]
    assert batch[0].data == bodies[2]
    assert dovecot.list_uids("INBOX") == [1]
    assert state.load("sscp") == (new_validity, 0)
    messages = [r.getMessage() for r in caplog.records]
    assert any("UIDVALIDITY" in m and "changed" in m for m in messages)
    assert any("old uidvalidity" in m for m in messages)

    source.ack(batch, "processed")
    assert state.load("sscp") == (new_validity, 1)
    assert dovecot.fetch("Processed") == bodies


@pytest.mark.parametrize(
    ("capabilities", "expunge_command"),
    [
        pytest.param(_BASE_CAPS + " UIDPLUS", "UID EXPUNGE", id="uidplus"),
        pytest.param(_BASE_CAPS, "EXPUNGE", id="plain-expunge"),
    ],
)
def test_ack_without_move_copies_and_expunges(
    dovecot: DovecotServer,
    caplog: pytest.LogCaptureFixture,
    capabilities: str,
    expunge_command: str,
) -> None:
    dovecot.restart(extra_config=f"imap_capability = {capabilities}\n")
    bodies = [message(1), message(2)]
    dovecot.append_many("INBOX", bodies)
    source = dovecot.make_source()
    batch = source.poll()
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")

    source.ack(batch, "processed")

    assert dovecot.list_uids("INBOX") == []
    assert dovecot.fetch("Processed") == bodies
    assert source.poll() == []
    assert not wire_lines(caplog, " MOVE ")
    assert len(wire_lines(caplog, 'UID COPY 1:2 "Processed"')) == 1
    assert len(wire_lines(caplog, expunge_command)) == 1


# ---------------------------------------------------------------------- wait


def append_later(dovecot: DovecotServer, data: bytes, delay: float = 0.3) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        dovecot.append("INBOX", data)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_idle_wait_returns_when_mail_arrives(dovecot: DovecotServer) -> None:
    source = dovecot.make_source()
    assert source.poll() == []
    assert source.supports_idle
    thread = append_later(dovecot, message(1))

    started = time.monotonic()
    source.wait(20)
    elapsed = time.monotonic() - started
    thread.join(5)

    assert elapsed < 20
    [raw] = source.poll()
    assert raw.data == message(1)


def test_wait_returns_at_once_when_poll_left_mail_behind(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2)])
    source = dovecot.make_source()
    source.ack(source.poll(limit=1), "processed")

    started = time.monotonic()
    source.wait(10)

    assert time.monotonic() - started < 10
    assert [m.data for m in source.poll()] == [message(2)]


def test_wait_sees_mail_announced_during_ack(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source()
    batch = source.poll()
    dovecot.append("INBOX", message(2))
    source.ack(batch, "processed")  # the MOVE response already carries "* 1 EXISTS"

    started = time.monotonic()
    source.wait(10)

    assert time.monotonic() - started < 10
    assert [m.data for m in source.poll()] == [message(2)]


def test_wait_idles_when_only_unacked_mail_is_left(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source(idle_timeout=0.5)
    source.poll()  # handed out, not acked (e.g. the store failed): no reason to spin

    started = time.monotonic()
    source.wait(20)

    assert time.monotonic() - started >= 0.5


def test_ack_of_messages_someone_else_moved_is_harmless(dovecot: DovecotServer) -> None:
    dovecot.append_many("INBOX", [message(1), message(2)])
    state = MemoryState()
    source = dovecot.make_source(state=state)
    batch = source.poll()
    with dovecot.client() as other:
        other.select_folder("INBOX")
        other.delete_messages([1])
        other.expunge()

    # Dovecot answers the MOVE with NO [EXPUNGEISSUED]: the source must sync and retry.
    source.ack(batch, "processed")

    assert dovecot.list_uids("INBOX") == []
    assert dovecot.fetch("Processed") == [message(2)]
    assert state.load("sscp") == (dovecot.uidvalidity(), 2)


@pytest.mark.parametrize("folders", [True, False], ids=["move", "keyword"])
def test_ack_after_someone_expunged_part_of_the_batch(
    dovecot: DovecotServer, folders: bool
) -> None:
    dovecot.append_many("INBOX", [message(1), message(2), message(3)])
    overrides = {} if folders else {"processed_folder": None, "quarantine_folder": None}
    source = dovecot.make_source(**overrides)
    batch = source.poll()
    with dovecot.client() as other:
        other.select_folder("INBOX")
        other.delete_messages([2])
        other.expunge()

    source.ack(batch, "processed")

    if folders:
        assert dovecot.fetch("Processed") == [message(1), message(3)]
    else:
        assert all(TRACKED_KEYWORD.encode() in f for f in dovecot.flags("INBOX").values())


def test_idle_wait_times_out_quietly(dovecot: DovecotServer) -> None:
    source = dovecot.make_source(idle_timeout=0.5)
    source.poll()

    source.wait(20)  # idle_timeout caps one IDLE round

    assert source.poll() == []


def test_wait_without_idle_sleeps_poll_interval(dovecot: DovecotServer) -> None:
    source = dovecot.make_source(use_idle=False, poll_interval=0.2)
    assert not source.supports_idle

    started = time.monotonic()
    source.wait(20)

    assert 0.2 <= time.monotonic() - started < 20


def test_server_without_idle_falls_back_to_sleeping(dovecot: DovecotServer) -> None:
    dovecot.restart(extra_config=f"imap_capability = {_BASE_CAPS} UIDPLUS MOVE\n")
    source = dovecot.make_source(poll_interval=0.2)

    assert not source.supports_idle
    started = time.monotonic()
    source.wait(20)
    assert 0.2 <= time.monotonic() - started < 20


# ------------------------------------------------------------------ failures


def poll_after_outage(source: ImapSource) -> list[RawMessage]:
    """The first call may notice the dead connection; the next must work."""
    try:
        return source.poll()
    except SourceUnavailable:
        return source.poll()


def test_reconnects_after_server_restart(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source()
    first = source.poll()
    source.ack(first, "processed")

    dovecot.restart()
    dovecot.append("INBOX", message(2))

    [raw] = poll_after_outage(source)
    assert raw.data == message(2)
    source.ack([raw], "processed")
    assert dovecot.fetch("Processed") == [message(1), message(2)]


def test_unreachable_server_is_source_unavailable(dovecot: DovecotServer) -> None:
    source = dovecot.make_source()
    dovecot.stop()

    with pytest.raises(SourceUnavailable, match="unreachable"):
        source.poll()
    with pytest.raises(SourceUnavailable):
        source.wait(1)

    dovecot.start()
    assert source.poll() == []


def test_server_going_away_during_idle_raises_source_unavailable(
    dovecot: DovecotServer,
) -> None:
    source = dovecot.make_source()
    source.poll()
    stopper = threading.Timer(0.3, dovecot.stop)
    stopper.start()

    started = time.monotonic()
    with pytest.raises(SourceUnavailable):
        source.wait(20)
    stopper.join(5)

    assert time.monotonic() - started < 20
    dovecot.start()
    assert poll_after_outage(source) == []


def test_wrong_password_is_authentication_failed(dovecot: DovecotServer) -> None:
    source = dovecot.make_source(password=lambda: "not-the-password")

    with pytest.raises(AuthenticationFailed) as caught:
        source.poll()

    assert "[AUTHENTICATIONFAILED]" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_unreadable_password_is_authentication_failed(
    dovecot: DovecotServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    missing = tmp_path_factory.mktemp("secrets") / "imap-password"
    source = dovecot.make_source(password=missing.read_text)

    with pytest.raises(AuthenticationFailed, match="could not read the password"):
        source.poll()


def test_close_then_poll_again(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source()
    assert len(source.poll()) == 1

    source.close()
    source.close()

    assert len(source.poll()) == 1


# ----------------------------------------------------------------------- TLS


def test_implicit_tls_verified_with_ca(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source(port=dovecot.tls_port, tls="implicit", ca_file=dovecot.ca_file)

    assert len(source.poll()) == 1


def test_starttls_verified_with_ca(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    source = dovecot.make_source(tls="starttls", ca_file=dovecot.ca_file)

    assert len(source.poll()) == 1


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_untrusted_certificate_is_refused(
    dovecot: DovecotServer, tmp_path_factory: pytest.TempPathFactory, tls: str
) -> None:
    other_ca = tmp_path_factory.mktemp("ca") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    port = dovecot.tls_port if tls == "implicit" else dovecot.port
    source = dovecot.make_source(port=port, tls=tls, ca_file=other_ca)

    with pytest.raises(SourceUnavailable, match="certificate"):
        source.poll()


def test_starttls_not_offered_is_refused(dovecot: DovecotServer) -> None:
    dovecot.restart(extra_config=_NO_TLS)
    source = dovecot.make_source(tls="starttls", ca_file=dovecot.ca_file)

    with pytest.raises(SourceProtocolError, match="STARTTLS"):
        source.poll()


def test_plaintext_warns_once(dovecot: DovecotServer, caplog: pytest.LogCaptureFixture) -> None:
    source = dovecot.make_source()

    with caplog.at_level(logging.WARNING, logger="ingest.sources.imap"):
        source.poll()
        source.close()
        source.poll()

    assert sum("WITHOUT TLS" in r.getMessage() for r in caplog.records) == 1


# -------------------------------------------------------------------- logging


def test_logs_never_contain_message_content(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append_many("INBOX", [message(1), message(2)])
    source = dovecot.make_source()

    with caplog.at_level(logging.DEBUG, logger="ingest"):
        source.ack(source.poll(), "quarantined")

    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ingest"))
    for secret in ("Escalation 1", "referrer1@agency.example", "Body of escalation"):
        assert secret not in text


def test_ack_of_another_mailbox_is_a_programming_error(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", message(1))
    batch = dovecot.make_source(name="other-mailbox").poll()

    with pytest.raises(ValueError, match="other-mailbox"):
        dovecot.make_source().ack(batch, "processed")
    assert dovecot.list_uids("INBOX") == [1]


def test_interrupt_wakes_a_blocked_idle(dovecot: DovecotServer) -> None:
    source = dovecot.make_source()
    source.poll()
    errors: list[BaseException] = []

    def waiter() -> None:
        try:
            source.wait(120)
        except SourceError as exc:  # a shut-down socket may surface as a dropped connection
            errors.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    source.interrupt()
    thread.join(timeout=20)
    assert not thread.is_alive(), "wait() ignored interrupt()"
    source.wait(120)  # still interrupted: returns at once until close()
    source.close()


def test_mail_arriving_during_the_pre_idle_search_is_not_missed(
    dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message lands after the server evaluated SEARCH; IDLE would never announce it."""
    source = dovecot.make_source()
    source.poll()
    real_search = ImapSource._search_new
    appended: list[int] = []

    def search_then_deliver(self: ImapSource, client: object, last: int) -> list[int]:
        found = real_search(self, client, last)  # type: ignore[arg-type]
        if not appended:
            appended.append(dovecot.append("INBOX", message(7)))
            client.noop()  # type: ignore[attr-defined]  # the server announces it now
        return found

    monkeypatch.setattr(ImapSource, "_search_new", search_then_deliver)
    waiter = threading.Thread(target=source.wait, args=(60,))
    waiter.start()
    waiter.join(timeout=20)
    assert not waiter.is_alive(), "wait() idled past mail that had already arrived"
    monkeypatch.setattr(ImapSource, "_search_new", real_search)
    assert [uid_of(m.external_id) for m in source.poll()] == appended
    source.close()
