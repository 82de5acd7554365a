"""Hand outgoing mail to an SMTP relay over verified TLS.

Protocol choices, and why:

* TLS is verified on every connection (DESIGN.md §5). We always pass our own
  :class:`ssl.SSLContext` (system trust store, or ``ca_file`` alone when
  given; TLS 1.2 or newer; host name checked): ``smtplib.SMTP.starttls()``
  without a context does *not* verify the certificate.
* ``implicit`` is submission over TLS from the first byte (RFC 8314 §3.3,
  usually port 465), which RFC 8314 prefers; ``starttls`` upgrades a clear
  connection (RFC 3207, usually port 587). If the relay does not advertise
  STARTTLS we refuse to send instead of falling back to clear text, because a
  man in the middle can strip the advertisement (RFC 3207 §6). ``none`` is
  for local test servers only.
* After STARTTLS we discard what the server said before and EHLO again
  (RFC 3207 §4.2); AUTH (RFC 4954) is only attempted on the protected
  channel, or when TLS is off by explicit configuration.
* One connection is reused for consecutive messages (RFC 5321 §3.3 allows
  several transactions per session): the outbox may send hundreds in a row
  and a TLS handshake plus AUTH per message would dominate. Before reuse we
  check, without a round trip, whether the relay has closed the connection
  or sent anything unsolicited (it only does so to hang up, e.g. ``421``,
  RFC 5321 §3.8); after a longer idle period we also probe with ``NOOP``
  (RFC 5321 §4.1.1.9), because relays drop idle sessions (§4.5.3.2.7).
* Reply codes decide retry versus give-up (RFC 5321 §4.2.1): 4yz is
  transient, 5yz permanent. A connection lost after the end-of-data dot but
  before the reply is neither: the relay may have the message, so it is
  :class:`~tracker.errors.DeliveryUncertain` and never resent (§6.1). A
  certificate we cannot verify is permanent: it will not fix itself and
  must not be bypassed.

Only host, Message-ID and outcome are logged, never content or subjects.
"""

from __future__ import annotations

import logging
import re
import select
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from ingest.tls import verifying_context
from tracker.config import TlsMode
from tracker.errors import (
    ConfigError,
    DeliveryError,
    DeliveryUncertain,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from tracker.senders.smtp_session import SMTP, SMTP_SSL, data_was_sent

log = logging.getLogger(__name__)

_LINE_END: Final = re.compile(rb"\r\n|\r|\n")

_TLS_MODES: Final = ("implicit", "starttls", "none")

#: Exceptions raised inside one mail transaction after which smtplib has
#: already sent RSET, so the session is still usable (unless it closed on 421).
_TRANSACTION_ERRORS: Final = (
    smtplib.SMTPSenderRefused,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPDataError,
)


_clear_text_warned: set[str] = set()
_clear_text_lock = threading.Lock()


def _warn_clear_text_once(where: str) -> None:
    """Warn once per process and relay: the daemon may build a sender per tick."""
    with _clear_text_lock:
        if where in _clear_text_warned:
            return
        _clear_text_warned.add(where)
    log.warning(
        "smtp %s: tls = 'none': mail and credentials travel in clear text; "
        "use this only with a local test server",
        where,
    )


def make_tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """:func:`ingest.tls.verifying_context`, with a bad ``ca_file`` as a configuration error."""
    try:
        return verifying_context(ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"outgoing.ca_file {ca_file}: cannot load CA certificates: {exc}"
        ) from exc


class SmtpSender:
    """A :class:`~tracker.senders.base.Sender` talking SMTP to one relay.

    Thread-safe: calls are serialised, since one SMTP session carries one
    transaction at a time.
    """

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        tls: TlsMode,
        *,
        username: str | None = None,
        password: Callable[[], str | None] | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        noop_after_idle: float = 10.0,
    ) -> None:
        """``password`` is called only when the relay asks for AUTH, so the
        secret is read at the moment it is needed and never stored here.

        ``noop_after_idle`` is how long (seconds) a kept connection may sit
        unused before it is probed with NOOP ahead of the next message.
        """
        if tls not in _TLS_MODES:
            raise ConfigError(f"outgoing.tls: expected one of {_TLS_MODES}, got {tls!r}")
        self.host = host
        self.port = port
        self.tls: TlsMode = tls
        self.username = username
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.noop_after_idle = noop_after_idle
        self._password = password
        # Built eagerly: a missing or unreadable ca_file is a start-up error.
        self._context = make_tls_context(ca_file) if tls != "none" else None
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0
        self._lock = threading.Lock()
        if tls == "none":
            _warn_clear_text_once(self._where)

    def __repr__(self) -> str:
        return f"SmtpSender({self.host!r}, {self.port}, tls={self.tls!r})"

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    # -- public API ----------------------------------------------------------

    def send(
        self, envelope_from: str, recipients: Sequence[str], data: bytes, message_id: str
    ) -> None:
        """Send one message; see :meth:`tracker.senders.base.Sender.send`.

        If the relay accepts some recipients and refuses others, the message
        counts as sent (it cannot be half-retried without duplicating it for
        the accepted ones); the refused addresses are logged as a warning.
        """
        if isinstance(recipients, str):  # a bare string would be sent letter by letter
            recipients = [recipients]
        if not recipients:
            raise PermanentDeliveryError(f"{message_id}: no recipients")
        with self._lock:
            conn: smtplib.SMTP | None = None
            try:
                conn = self._connection()
                wire = to_crlf(data)
                options = self._mail_options(conn, envelope_from, recipients, wire)
                refused = conn.sendmail(envelope_from, list(recipients), wire, options)
            except DeliveryError as exc:
                self._drop()
                log.warning("smtp %s: %s not sent: %s", self._where, message_id, exc)
                raise
            except OSError as exc:  # smtplib.SMTPException and ssl.SSLError are OSErrors
                if data_was_sent(conn) and not isinstance(exc, smtplib.SMTPResponseException):
                    # The relay has the whole message and may have taken it: never resend.
                    self._drop()
                    uncertain = DeliveryUncertain(
                        f"{self._where}: connection lost after the message data was sent, "
                        f"before the relay replied ({type(exc).__name__})"
                    )
                    log.warning(
                        "smtp %s: %s may have been taken: %s", self._where, message_id, uncertain
                    )
                    raise uncertain from exc
                error = _delivery_error(exc, self._where, self.timeout)
                keep = (
                    isinstance(exc, _TRANSACTION_ERRORS)
                    and isinstance(error, PermanentDeliveryError)
                    and conn is not None
                    and conn.sock is not None
                )
                if not keep:
                    self._drop()
                log.warning("smtp %s: %s not sent: %s", self._where, message_id, error)
                raise error from exc
            self._last_used = time.monotonic()
        if refused:
            log.warning(
                "smtp %s: %s accepted for %d of %d recipient(s); refused: %s",
                self._where,
                message_id,
                len(recipients) - len(refused),
                len(recipients),
                ", ".join(f"{addr} ({code})" for addr, (code, _) in sorted(refused.items())),
            )
        else:
            log.debug(
                "smtp %s: %s accepted for %d recipient(s)",
                self._where,
                message_id,
                len(recipients),
            )

    def close(self) -> None:
        """End the session politely with QUIT (RFC 5321 §4.1.1.10); idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                conn.quit()
            except OSError:
                pass  # the relay went away first: nothing left to be polite to
            finally:
                conn.close()

    # -- connection handling -------------------------------------------------

    def _connection(self) -> smtplib.SMTP:
        """The kept session if it is still alive, otherwise a fresh one."""
        conn = self._conn
        if conn is not None:
            if self._still_usable(conn):
                return conn
            log.info("smtp %s: kept connection was closed by the relay; reconnecting", self._where)
            self._drop()
        conn = self._open()
        self._conn = conn
        self._last_used = time.monotonic()
        return conn

    def _still_usable(self, conn: smtplib.SMTP) -> bool:
        sock = conn.sock
        if sock is None:
            return False
        spoke = _has_pending_input(sock)
        idle = time.monotonic() - self._last_used
        if not spoke and idle < self.noop_after_idle:
            return True
        # Either the relay hung up / sent a 421, or we were idle long enough
        # for a silent drop: one NOOP tells (a closed socket fails at once).
        try:
            code, _ = conn.noop()
        except OSError:
            return False
        return code == 250

    def _open(self) -> smtplib.SMTP:
        """Connect, greet, secure and authenticate; never returns a half-set-up session."""
        # Passing host to the constructor (rather than calling connect() later)
        # is what makes smtplib use it as the TLS server_hostname to verify.
        # It raises SMTPConnectError unless the greeting is 220 (RFC 5321 §3.1).
        conn: smtplib.SMTP
        if self.tls == "implicit":
            conn = SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context,
            )
        else:
            conn = SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            conn.ehlo_or_helo_if_needed()
            if self.tls == "starttls":
                if not conn.has_extn("starttls"):
                    raise PermanentDeliveryError(
                        f"{self._where}: relay does not offer STARTTLS; "
                        "refusing to send in clear text"
                    )
                conn.starttls(context=self._context)
                # RFC 3207 §4.2: forget the pre-TLS capabilities, ask again.
                conn.ehlo_or_helo_if_needed()
            if self.username is not None:
                self._login(conn)
        except BaseException:
            conn.close()
            raise
        log.info(
            "smtp %s: connected (tls=%s%s)",
            self._where,
            self.tls,
            ", authenticated" if self.username is not None else "",
        )
        return conn

    def _login(self, conn: smtplib.SMTP) -> None:
        # Reached only after implicit TLS or STARTTLS succeeded, or with tls = "none".
        if not conn.has_extn("auth"):
            raise PermanentDeliveryError(
                f"{self._where}: relay does not offer AUTH (RFC 4954) "
                f"{'over TLS' if self.tls != 'none' else 'on this connection'}; "
                "cannot log in as configured"
            )
        secret = self._password() if self._password is not None else None
        if secret is None:
            raise ConfigError(
                f"outgoing: username {self.username!r} is set but no password is "
                "configured (password_env or password_file)"
            )
        assert self.username is not None
        conn.login(self.username, secret)

    def _drop(self) -> None:
        """Forget the kept session without QUIT: after an error it may hang."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _mail_options(
        self, conn: smtplib.SMTP, envelope_from: str, recipients: Sequence[str], data: bytes
    ) -> list[str]:
        """ESMTP MAIL parameters the message needs (RFC 6152, RFC 6531)."""
        options: list[str] = []
        if not data.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not envelope_from.isascii() or not all(r.isascii() for r in recipients):
            if not conn.has_extn("smtputf8"):
                raise PermanentDeliveryError(
                    f"{self._where}: relay does not support SMTPUTF8 (RFC 6531), "
                    "needed for a non-ASCII address"
                )
            options.append("SMTPUTF8")
        return options


def to_crlf(data: bytes) -> bytes:
    """Make every line end CRLF, as SMTP requires on the wire (RFC 5321 §2.3.8).

    Python's ``email`` renders ``\\n`` unless given ``policy.SMTP``; smtplib only
    fixes line ends of ``str`` messages, and a relay reads a message without
    CRLF as one overlong line (``500 Line too long``, RFC 5321 §4.5.3.1.6).
    Bytes that already use CRLF pass through unchanged.
    """
    return _LINE_END.sub(b"\r\n", data)


def _has_pending_input(sock: socket.socket) -> bool:
    """True if the relay sent something (EOF, ``421``) while we were not asking.

    An SMTP server never speaks unprompted except to hang up, so a readable
    idle socket means the session is over or about to be.
    """
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed or invalid descriptor
        return True
    return bool(readable)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _by_code(code: int, message: str) -> DeliveryError:
    """RFC 5321 §4.2.1: 5yz is permanent; anything else unexpected may pass."""
    if 500 <= code <= 599:
        return PermanentDeliveryError(message)
    return TemporaryDeliveryError(message)


def _delivery_error(exc: OSError, where: str, timeout: float) -> DeliveryError:
    """Translate smtplib/ssl/socket failures into the tracker's two outcomes."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{addr}: {code} {_reply_text(reply)}"
            for addr, (code, reply) in sorted(exc.recipients.items())
        )
        if codes and all(500 <= code <= 599 for code in codes):
            return PermanentDeliveryError(f"{where}: all recipients refused: {detail}")
        return TemporaryDeliveryError(f"{where}: recipients refused for now: {detail}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _by_code(
            exc.smtp_code,
            f"{where}: authentication refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(f"{where}: relay closed the connection ({exc})")
    if isinstance(exc, smtplib.SMTPResponseException):
        # SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPHeloError, STARTTLS refusal.
        return _by_code(
            exc.smtp_code, f"{where}: relay replied {exc.smtp_code} {_reply_text(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPException):
        # SMTPNotSupportedError, "No suitable authentication method found", ...
        return PermanentDeliveryError(f"{where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
        return PermanentDeliveryError(
            f"{where}: the relay's TLS certificate cannot be verified: {reason}; "
            "fix the relay's certificate or set outgoing.ca_file to the CA that issued it"
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
        return TemporaryDeliveryError(f"{where}: TLS connection cut short ({exc})")
    if isinstance(exc, ssl.SSLError):
        # Protocol version or cipher mismatch, plain text on a TLS port, ...
        return PermanentDeliveryError(f"{where}: TLS handshake failed: {exc.reason or exc}")
    if isinstance(exc, TimeoutError):
        return TemporaryDeliveryError(f"{where}: no answer within {timeout:g} s")
    if isinstance(exc, ConnectionRefusedError):
        return TemporaryDeliveryError(f"{where}: connection refused")
    if isinstance(exc, socket.gaierror):
        return TemporaryDeliveryError(f"{where}: cannot resolve host name ({exc.strerror})")
    return TemporaryDeliveryError(f"{where}: {exc.strerror or exc}")
