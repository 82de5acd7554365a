"""Senders against real servers: aiosmtpd on loopback (tests/fixtures/smtp.py) and a tmp dir.

Each test states one behaviour the outbox relies on: what arrives, over which
protection, how failures are classified, that connections are reused, and
that the file transport is atomic and idempotent.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest

from tests.fixtures.smtp import SmtpSink, free_port
from tracker.config import OutgoingConfig
from tracker.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError
from tracker.senders.base import make_sender
from tracker.senders.file import FileSender, safe_message_id
from tracker.senders.smtp import SmtpSender

SUBJECT = "Escalation [SSCP-2026-0042] strategy meeting for Child A"
BODY_MARKER = "Child A attended the strategy meeting"
FROM = "sscp@solihull.gov.uk"


def render(
    n: int = 1, *, body: str = BODY_MARKER, to: str = "iro@partner.nhs.net"
) -> tuple[bytes, str]:
    """RFC 5322 bytes (CRLF line ends, as the outbox renders them) and the Message-ID."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = FROM
    msg["To"] = to
    msg["Subject"] = f"{SUBJECT} #{n}"
    msg["Message-ID"] = f"<ack-{n}.case42@tracker.test>"
    msg.set_content(f"{body}\n.\n.leading dot line\n")
    return msg.as_bytes(), msg["Message-ID"]


def smtp_sender(sink: SmtpSink, **kwargs: object) -> SmtpSender:
    tls = kwargs.pop("tls", sink.tls)
    kwargs.setdefault("ca_file", sink.ca_file)
    kwargs.setdefault("local_hostname", "tracker.test")
    kwargs.setdefault("timeout", 10.0)
    return SmtpSender(kwargs.pop("host", sink.host), sink.port, tls, **kwargs)  # type: ignore[arg-type]


Closing = Callable[[SmtpSender], SmtpSender]


@pytest.fixture
def closing() -> Iterator[Closing]:
    """Registers senders to be closed at teardown, even when the test fails."""
    senders: list[SmtpSender] = []

    def register(sender: SmtpSender) -> SmtpSender:
        senders.append(sender)
        return sender

    yield register
    for sender in senders:
        sender.close()


# -- plain SMTP ----------------------------------------------------------------------


def test_plain_send_arrives_with_exact_bytes_and_envelope(
    smtp_sink: SmtpSink, closing: Closing
) -> None:
    sender = closing(smtp_sender(smtp_sink))
    data, mid = render()
    # The envelope differs from the headers on purpose (a Bcc copy to the manager).
    sender.send(FROM, ["iro@partner.nhs.net", "manager@solihull.gov.uk"], data, mid)

    [got] = smtp_sink.wait_for(1)
    assert got.mail_from == FROM
    assert got.rcpt_tos == ("iro@partner.nhs.net", "manager@solihull.gov.uk")
    assert got.data == data
    assert got.parsed()["Message-ID"] == mid
    assert got.tls is False
    assert got.auth_user is None


def test_consecutive_sends_reuse_one_connection(smtp_sink: SmtpSink, closing: Closing) -> None:
    sender = closing(smtp_sender(smtp_sink))
    for n in range(20):
        data, mid = render(n)
        sender.send(FROM, ["iro@partner.nhs.net"], data, mid)

    got = smtp_sink.wait_for(20)
    assert len(got) == 20
    expected = [f"<ack-{n}.case42@tracker.test>" for n in range(20)]
    assert [r.parsed()["Message-ID"] for r in got] == expected
    assert smtp_sink.connections == 1
    assert [verb for _, verb in smtp_sink.commands].count("EHLO") == 1


def test_close_quits_and_a_later_send_reconnects(smtp_sink: SmtpSink, closing: Closing) -> None:
    sender = closing(smtp_sender(smtp_sink))
    sender.send(FROM, ["a@partner.nhs.net"], *render(1))
    sender.close()
    sender.close()  # idempotent
    assert (1, "QUIT") in smtp_sink.commands

    sender.send(FROM, ["a@partner.nhs.net"], *render(2))
    assert len(smtp_sink.wait_for(2)) == 2
    assert smtp_sink.connections == 2


def test_server_restart_between_sends_reconnects(smtp_sink: SmtpSink, closing: Closing) -> None:
    sender = closing(smtp_sender(smtp_sink))
    sender.send(FROM, ["a@partner.nhs.net"], *render(1))
    smtp_sink.restart()  # drops the kept connection, listens again on the same port

    sender.send(FROM, ["a@partner.nhs.net"], *render(2))

    got = smtp_sink.wait_for(2)
    assert [r.connection for r in got] == [1, 2]


def test_idle_connection_is_probed_with_noop_before_reuse(
    smtp_sink: SmtpSink, closing: Closing
) -> None:
    sender = closing(smtp_sender(smtp_sink, noop_after_idle=0.0))  # always idle "long enough"
    sender.send(FROM, ["a@partner.nhs.net"], *render(1))
    sender.send(FROM, ["a@partner.nhs.net"], *render(2))

    verbs = [verb for _, verb in smtp_sink.commands]
    assert verbs.index("NOOP") > verbs.index("DATA")  # probed before the second message
    assert smtp_sink.connections == 1
    assert len(smtp_sink.wait_for(2)) == 2


def test_tls_none_warns_once_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # a relay this process has not warned about yet
    with caplog.at_level(logging.WARNING, logger="tracker.senders.smtp"):
        SmtpSender("127.0.0.1", port, "none")
        SmtpSender("127.0.0.1", port, "none")
    assert [r.getMessage() for r in caplog.records].count(
        f"smtp 127.0.0.1:{port}: tls = 'none': mail and credentials travel in clear text; "
        "use this only with a local test server"
    ) == 1


# -- failures and their classification ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"), [(451, TemporaryDeliveryError), (550, PermanentDeliveryError)]
)
def test_data_reply_code_decides_temporary_or_permanent(
    smtp_sink: SmtpSink, closing: Closing, code: int, error: type[Exception]
) -> None:
    sender = closing(smtp_sender(smtp_sink))
    smtp_sink.fail_next(code)
    with pytest.raises(error, match=str(code)):
        sender.send(FROM, ["a@partner.nhs.net"], *render(1))
    assert smtp_sink.messages == []

    # The failure was for that message only: the next one goes through.
    sender.send(FROM, ["a@partner.nhs.net"], *render(2))
    [got] = smtp_sink.wait_for(1)
    assert got.parsed()["Message-ID"] == "<ack-2.case42@tracker.test>"


def test_all_recipients_refused_with_5xx_is_permanent(
    smtp_sink: SmtpSink, closing: Closing
) -> None:
    smtp_sink.refuse_recipient("gone@partner.nhs.net", 550)
    smtp_sink.refuse_recipient("left@partner.nhs.net", 551)
    sender = closing(smtp_sender(smtp_sink))
    with pytest.raises(PermanentDeliveryError, match=re.escape("gone@partner.nhs.net")):
        sender.send(FROM, ["gone@partner.nhs.net", "left@partner.nhs.net"], *render())
    assert smtp_sink.messages == []


def test_recipients_refused_with_a_4xx_among_them_is_temporary(
    smtp_sink: SmtpSink, closing: Closing
) -> None:
    smtp_sink.refuse_recipient("gone@partner.nhs.net", 550)
    smtp_sink.refuse_recipient("full@partner.nhs.net", 452)
    sender = closing(smtp_sender(smtp_sink))
    with pytest.raises(TemporaryDeliveryError):
        sender.send(FROM, ["gone@partner.nhs.net", "full@partner.nhs.net"], *render())
    assert smtp_sink.messages == []


def test_some_recipients_refused_counts_as_sent_and_logs_them(
    smtp_sink: SmtpSink, closing: Closing, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_sink.refuse_recipient("gone@partner.nhs.net", 550)
    sender = closing(smtp_sender(smtp_sink))
    data, mid = render()
    with caplog.at_level(logging.INFO, logger="tracker.senders.smtp"):
        sender.send(FROM, ["iro@partner.nhs.net", "gone@partner.nhs.net"], data, mid)

    [got] = smtp_sink.wait_for(1)
    assert got.rcpt_tos == ("iro@partner.nhs.net",)
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "gone@partner.nhs.net (550)" in warnings[0].getMessage()
    assert mid in warnings[0].getMessage()


def test_connection_refused_is_temporary(closing: Closing) -> None:
    sender = closing(SmtpSender("127.0.0.1", free_port(), "none", timeout=5.0))
    with pytest.raises(TemporaryDeliveryError, match="refused"):
        sender.send(FROM, ["a@partner.nhs.net"], *render())


def test_empty_recipient_list_is_permanent(smtp_sink: SmtpSink, closing: Closing) -> None:
    sender = closing(smtp_sender(smtp_sink))
    with pytest.raises(PermanentDeliveryError, match="no recipients"):
        sender.send(FROM, [], *render())
    assert smtp_sink.commands == []


def test_logs_name_host_and_message_id_but_never_content(
    smtp_sink: SmtpSink, closing: Closing, caplog: pytest.LogCaptureFixture
) -> None:
    sender = closing(smtp_sender(smtp_sink))
    with caplog.at_level(logging.DEBUG, logger="tracker.senders"):
        data, mid = render(1)
        sender.send(FROM, ["a@partner.nhs.net"], data, mid)
        smtp_sink.fail_next(550)
        with pytest.raises(PermanentDeliveryError):
            sender.send(FROM, ["a@partner.nhs.net"], *render(2))

    assert mid in caplog.text
    assert f"{smtp_sink.host}:{smtp_sink.port}" in caplog.text
    assert "strategy meeting" not in caplog.text
    assert "Child A" not in caplog.text
    assert BODY_MARKER not in caplog.text


def test_bare_lf_line_ends_are_sent_as_crlf(smtp_sink: SmtpSink, closing: Closing) -> None:
    # email's default policy renders "\n"; SMTP needs CRLF (RFC 5321 §2.3.8), and a
    # relay would otherwise read one overlong line and answer 500.
    msg = EmailMessage()
    msg["From"] = FROM
    msg["Subject"] = "Acknowledgement"
    msg["Message-ID"] = "<lf.case42@tracker.test>"
    msg.set_content("line one\n" + ("x" * 70 + "\n") * 30)
    data = msg.as_bytes()
    assert b"\r\n" not in data and len(data) > 1000

    sender = closing(smtp_sender(smtp_sink))
    sender.send(FROM, ["a@partner.nhs.net"], data, msg["Message-ID"])

    [got] = smtp_sink.wait_for(1)
    assert got.data == data.replace(b"\n", b"\r\n")


def test_non_ascii_body_and_address_arrive_intact(smtp_sink: SmtpSink, closing: Closing) -> None:
    # RFC 6152 (8BITMIME) for the body, RFC 6531 (SMTPUTF8) for the address.
    msg = EmailMessage(policy=SMTP_POLICY.clone(utf8=True))
    msg["From"] = FROM
    msg["To"] = "siân@partner.cymru"
    msg["Subject"] = "Cydnabyddiaeth"
    msg["Message-ID"] = "<utf8.case42@tracker.test>"
    msg.set_content("Diolch — rydym wedi derbyn eich neges.\n", cte="8bit")
    data = msg.as_bytes()
    assert not data.isascii()

    sender = closing(smtp_sender(smtp_sink))
    sender.send(FROM, ["siân@partner.cymru"], data, msg["Message-ID"])

    [got] = smtp_sink.wait_for(1)
    assert got.data == data
    assert got.rcpt_tos == ("siân@partner.cymru",)


# -- STARTTLS (RFC 3207) -----------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_starttls_with_the_test_ca_trusted_works(
    smtp_tls_sink: SmtpSink, closing: Closing, host: str
) -> None:
    sender = closing(smtp_sender(smtp_tls_sink, host=host))
    data, mid = render()
    sender.send(FROM, ["iro@partner.nhs.net"], data, mid)

    [got] = smtp_tls_sink.wait_for(1)
    assert got.tls is True
    assert got.data == data
    # EHLO again after the handshake (RFC 3207 §4.2), on the same connection.
    assert [verb for _, verb in smtp_tls_sink.commands][:3] == ["EHLO", "EHLO", "MAIL"]


def test_starttls_reuses_the_protected_connection(
    smtp_tls_sink: SmtpSink, closing: Closing
) -> None:
    sender = closing(smtp_sender(smtp_tls_sink))
    for n in range(5):
        sender.send(FROM, ["iro@partner.nhs.net"], *render(n))
    got = smtp_tls_sink.wait_for(5)
    assert all(r.tls for r in got)
    assert smtp_tls_sink.connections == 1


def test_starttls_with_an_untrusted_self_signed_certificate_is_refused(
    make_smtp_sink: Callable[..., SmtpSink], closing: Closing
) -> None:
    sink = make_smtp_sink(tls="starttls", certificate="self-signed")
    sender = closing(smtp_sender(sink, ca_file=None))  # system trust store only
    with pytest.raises(PermanentDeliveryError) as info:
        sender.send(FROM, ["iro@partner.nhs.net"], *render())

    message = str(info.value)
    assert f"{sink.host}:{sink.port}" in message
    assert "self-signed" in message
    assert sink.messages == []
    assert [verb for _, verb in sink.commands] == ["EHLO"]  # no MAIL, no AUTH, nothing after


def test_starttls_with_a_certificate_for_another_host_is_refused(
    make_smtp_sink: Callable[..., SmtpSink], closing: Closing
) -> None:
    # Issued by the CA we trust, but for mail.example.invalid: the host name check must bite.
    sink = make_smtp_sink(tls="starttls", certificate="wrong-host")
    sender = closing(smtp_sender(sink, host="localhost"))
    with pytest.raises(PermanentDeliveryError, match="localhost"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert sink.messages == []


def test_relay_without_starttls_is_refused_and_nothing_goes_in_clear(
    smtp_sink: SmtpSink, closing: Closing, smtp_ca_file: Path
) -> None:
    sender = closing(
        smtp_sender(
            smtp_sink,
            tls="starttls",
            ca_file=smtp_ca_file,
            username="relay",
            password=lambda: "secret",
        )
    )
    with pytest.raises(PermanentDeliveryError, match="does not offer STARTTLS"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert smtp_sink.messages == []
    assert [verb for _, verb in smtp_sink.commands] == ["EHLO"]
    assert smtp_sink.auth_attempts == []


def test_auth_over_starttls_works_and_happens_after_the_handshake(
    smtp_tls_sink: SmtpSink, closing: Closing
) -> None:
    calls: list[int] = []

    def password() -> str:
        calls.append(1)
        return "secret"

    sender = closing(smtp_sender(smtp_tls_sink, username="relay", password=password))
    assert calls == []  # read when the relay asks, not when configured
    for n in range(3):
        sender.send(FROM, ["iro@partner.nhs.net"], *render(n))

    got = smtp_tls_sink.wait_for(3)
    assert {r.auth_user for r in got} == {"relay"}
    assert smtp_tls_sink.auth_attempts == [(1, True, True)]  # once, over TLS
    assert calls == [1]


def test_wrong_password_is_permanent(smtp_tls_sink: SmtpSink, closing: Closing) -> None:
    sender = closing(smtp_sender(smtp_tls_sink, username="relay", password=lambda: "wrong"))
    with pytest.raises(PermanentDeliveryError, match="535"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert smtp_tls_sink.messages == []


def test_relay_requiring_auth_refuses_anonymous_mail_permanently(
    make_smtp_sink: Callable[..., SmtpSink], closing: Closing
) -> None:
    sink = make_smtp_sink(tls="starttls", auth_required=True)
    sender = closing(smtp_sender(sink))
    with pytest.raises(PermanentDeliveryError, match="530"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert sink.messages == []


def test_username_without_a_password_is_a_configuration_error(
    smtp_tls_sink: SmtpSink, closing: Closing
) -> None:
    sender = closing(smtp_sender(smtp_tls_sink, username="relay", password=lambda: None))
    with pytest.raises(ConfigError, match="no password"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert smtp_tls_sink.messages == []


# -- implicit TLS (RFC 8314) --------------------------------------------------------


def test_implicit_tls_works(smtp_implicit_tls_sink: SmtpSink, closing: Closing) -> None:
    sink = smtp_implicit_tls_sink
    sender = closing(smtp_sender(sink, username="relay", password=lambda: "secret"))
    data, mid = render()
    sender.send(FROM, ["iro@partner.nhs.net"], data, mid)
    [got] = sink.wait_for(1)
    assert got.tls is True
    assert got.auth_user == "relay"
    assert got.data == data


def test_implicit_tls_with_an_untrusted_certificate_is_refused(
    make_smtp_sink: Callable[..., SmtpSink], closing: Closing
) -> None:
    sink = make_smtp_sink(tls="implicit", certificate="self-signed")
    sender = closing(smtp_sender(sink, ca_file=None))
    with pytest.raises(PermanentDeliveryError, match="self-signed"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert sink.messages == []
    assert sink.commands == []  # not even EHLO


def test_implicit_tls_against_a_plain_server_is_not_sent_in_clear(
    smtp_sink: SmtpSink, closing: Closing, smtp_ca_file: Path
) -> None:
    sender = closing(smtp_sender(smtp_sink, tls="implicit", ca_file=smtp_ca_file))
    with pytest.raises(PermanentDeliveryError, match="TLS"):
        sender.send(FROM, ["iro@partner.nhs.net"], *render())
    assert smtp_sink.messages == []
    assert smtp_sink.commands == []


# -- construction ---------------------------------------------------------------------


def test_missing_ca_file_is_a_configuration_error_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_file"):
        SmtpSender("relay.example", 587, "starttls", ca_file=tmp_path / "missing.pem")


def test_unknown_tls_mode_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="tls"):
        SmtpSender("relay.example", 587, "maybe")  # type: ignore[arg-type]


def test_make_sender_builds_the_file_transport(tmp_path: Path) -> None:
    sender = make_sender(OutgoingConfig(transport="file", directory=tmp_path / "outbox"))
    assert isinstance(sender, FileSender)
    assert sender.name == "file"
    assert sender.directory == tmp_path / "outbox"


def test_make_sender_builds_smtp_with_the_effective_port() -> None:
    sender = make_sender(OutgoingConfig(transport="smtp", host="relay.example", tls="implicit"))
    assert isinstance(sender, SmtpSender)
    assert sender.name == "smtp"
    assert (sender.host, sender.port, sender.tls) == ("relay.example", 465, "implicit")


def test_make_sender_smtp_reads_the_password_from_the_environment_and_delivers(
    smtp_tls_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_RELAY_PASSWORD", "secret")
    config = OutgoingConfig(
        transport="smtp",
        host="localhost",
        port=smtp_tls_sink.port,
        tls="starttls",
        ca_file=smtp_tls_sink.ca_file,
        username="relay",
        password_env="TEST_RELAY_PASSWORD",
        timeout=10.0,
    )
    sender = make_sender(config)
    try:
        data, mid = render()
        sender.send(config.from_address, ["iro@partner.nhs.net"], data, mid)
    finally:
        sender.close()
    [got] = smtp_tls_sink.wait_for(1)
    assert (got.tls, got.auth_user, got.data) == (True, "relay", data)


# -- file transport -------------------------------------------------------------------

NAME = re.compile(r"^\d{8}T\d{6}-[A-Za-z0-9._@+=-]+\.eml$")


def eml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))


def test_file_sender_writes_one_readable_file_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"
    when = datetime(2026, 3, 2, 9, 30, 5, tzinfo=UTC)
    sender = FileSender(outbox, now=lambda: when)
    sent = [render(n) for n in range(3)]
    for data, mid in sent:
        sender.send(FROM, ["iro@partner.nhs.net"], data, mid)

    files = eml_files(outbox)
    assert len(files) == 3
    assert all(NAME.match(f.name) for f in files)
    assert all(f.name.startswith("20260302T093005-ack-") for f in files)
    by_id = {mid: data for data, mid in sent}
    for f in files:
        data = f.read_bytes()
        mid = next(m for m in by_id if safe_message_id(m) in f.name)
        assert data == by_id[mid]
    assert [p.name for p in outbox.iterdir() if not p.name.endswith(".eml")] == []


def test_file_sender_creates_a_private_directory_and_files(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    FileSender(outbox).send(FROM, ["a@partner.nhs.net"], *render())
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    [f] = eml_files(outbox)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_file_sender_is_idempotent_per_message_id(tmp_path: Path) -> None:
    clock = iter([datetime(2026, 3, 2, 9, 0, s, tzinfo=UTC) for s in range(10)])
    sender = FileSender(tmp_path, now=lambda: next(clock))
    data, mid = render(7)
    sender.send(FROM, ["a@partner.nhs.net"], data, mid)
    # A re-send after a crash, a second later, even with re-rendered bytes:
    FileSender(tmp_path, now=lambda: next(clock)).send(
        FROM, ["a@partner.nhs.net"], data + b"re-rendered\r\n", mid
    )
    sender.send(FROM, ["a@partner.nhs.net"], data, mid)

    [f] = eml_files(tmp_path)
    assert f.read_bytes() == data
    assert sender.path_for(mid) == f


def test_file_sender_keeps_ids_apart_that_sanitise_alike(tmp_path: Path) -> None:
    sender = FileSender(tmp_path)
    sender.send(FROM, ["a@partner.nhs.net"], b"one\r\n", "<a/b@tracker.test>")
    sender.send(FROM, ["a@partner.nhs.net"], b"two\r\n", "<a_b@tracker.test>")
    sender.send(FROM, ["a@partner.nhs.net"], b"three\r\n", "<../../etc/passwd>")

    files = eml_files(tmp_path)
    assert len(files) == 3
    assert sorted(f.read_bytes() for f in files) == [b"one\r\n", b"three\r\n", b"two\r\n"]
    assert all(f.parent == tmp_path for f in files)


def test_file_sender_leaves_nothing_behind_when_a_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = FileSender(tmp_path)

    def disk_fails(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_fails)
    with pytest.raises(TemporaryDeliveryError, match="No space left"):
        sender.send(FROM, ["a@partner.nhs.net"], *render())
    assert list(tmp_path.iterdir()) == []

    monkeypatch.undo()
    data, mid = render()
    sender.send(FROM, ["a@partner.nhs.net"], data, mid)  # the retry succeeds, once
    [f] = eml_files(tmp_path)
    assert f.read_bytes() == data


def test_file_sender_unwritable_directory_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(TemporaryDeliveryError):
        FileSender(blocker).send(FROM, ["a@partner.nhs.net"], *render())
