"""The contract every outgoing transport keeps, and the factory that picks one.

The outbox drives a sender like this::

    sender = make_sender(config.outgoing)
    for item in due_items:                      # hundreds in a row is normal
        try:
            sender.send(item.envelope_from, item.recipients, item.data, item.message_id)
        except TemporaryDeliveryError:          # network, 4xx: back off and retry
            ...
        except PermanentDeliveryError:          # 5xx, TLS not verifiable: give up, tell a human
            ...
        except DeliveryUncertain:               # lost after the data went: never resend
            ...
    sender.close()

A sender only moves bytes: rendering, threading headers and retry policy live
in the outbox. It must be safe to call ``send`` again for a message whose
previous attempt ended in an exception (the outbox retries after a crash), and
it must never log message content or subjects, only host, Message-ID and
outcome (DESIGN.md §5: no child identifiers in logs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tracker.config import OutgoingConfig
from tracker.errors import ConfigError


class Sender(Protocol):
    """An outgoing transport (SMTP relay, a directory of ``.eml`` files, ...)."""

    #: Short transport name for logs and the case timeline ("smtp", "file").
    name: str

    def send(
        self, envelope_from: str, recipients: Sequence[str], data: bytes, message_id: str
    ) -> None:
        """Hand one fully rendered message (RFC 5322 bytes) to the transport.

        ``envelope_from`` and ``recipients`` are the RFC 5321 envelope (they may
        differ from the header fields, e.g. Bcc); ``message_id`` is only used
        for logging and idempotency, the bytes already carry the header.

        Raises TemporaryDeliveryError (retry later), PermanentDeliveryError, or
        DeliveryUncertain when the relay may have taken the message (not to be resent).
        """
        ...

    def close(self) -> None:
        """Release connections; ``send`` may be called again afterwards."""
        ...


def make_sender(config: OutgoingConfig) -> Sender:
    """Build the transport the configuration names.

    The password is passed as the bound ``config.password`` method, so the
    secret is read when the relay asks for it and never kept on the sender.
    """
    # Imported here so that importing the protocol does not pull in smtplib/ssl.
    if config.transport == "file":
        from tracker.senders.file import FileSender

        return FileSender(config.directory)
    if config.transport == "smtp":
        from tracker.senders.smtp import SmtpSender

        if not config.host:  # the config validator already says so; keep mypy honest
            raise ConfigError("outgoing.host: transport 'smtp' needs 'host'")
        return SmtpSender(
            config.host,
            config.effective_port,
            config.tls,
            username=config.username,
            password=config.password,
            ca_file=config.ca_file,
            timeout=config.timeout,
        )
    raise ConfigError(f"outgoing.transport: unknown transport {config.transport!r}")
