"""An IMAP mailbox as a :class:`~ingest.sources.base.Source`.

Why it is shaped like this:

* **Nothing changes on the server before** :meth:`ImapSource.ack`. Bodies are
  fetched with ``BODY.PEEK[]`` (RFC 3501 §6.4.5) so not even ``\\Seen`` is set;
  the daemon acks only after our store committed the bytes, so a crash at any
  point means re-delivery (harmless: the store deduplicates), never loss.
* **UIDs, not sequence numbers.** A UID is stable for as long as the mailbox's
  UIDVALIDITY stays the same (RFC 3501 §2.3.1.1). We remember
  ``(uidvalidity, highest acked uid)`` through the injected
  :class:`~ingest.sources.base.SourceState` and only ask for newer UIDs. When
  UIDVALIDITY changes every UID is meaningless, so the watermark restarts at
  0 and the whole folder is handed out again.
* **INTERNALDATE is the received time.** It is set by the server on delivery;
  the ``Date:`` header is whatever the sender's clock said, and deadlines must
  not depend on it.
* **Acking moves** the message to the processed/quarantine folder with ``MOVE``
  (RFC 6851) when offered, else the RFC 6851 §3.3 fallback ``COPY`` +
  ``STORE +FLAGS \\Deleted`` + ``UID EXPUNGE`` (RFC 4315). Without a folder the
  message gets the keyword ``$EscalationTracked`` (or ``\\Seen`` when the
  mailbox does not accept keywords) and stays where it is.
* **Waiting uses IDLE** (RFC 2177) so new mail is picked up within a second or
  two instead of a polling interval, and falls back to sleeping.
* **TLS is verified** (certificate chain and host name, TLS 1.2 or newer).
  STARTTLS that is not offered or fails is an error, never a silent downgrade
  to plaintext. ``tls="none"`` exists for local test servers only.
* **Errors are the project's**: network trouble becomes
  :class:`~ingest.errors.SourceUnavailable` (the connection is dropped and the
  next call reconnects; the daemon backs off with
  :class:`~ingest.sources.backoff.Backoff`), refused credentials become
  :class:`~ingest.errors.AuthenticationFailed`, nonsense from the server
  becomes :class:`~ingest.errors.SourceProtocolError`.

Logs name the mailbox, UIDs and counts, never subjects, bodies or addresses:
escalation emails carry children's details.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from ingest.errors import (
    AuthenticationFailed,
    SourceError,
    SourceProtocolError,
    SourceUnavailable,
)
from ingest.raw import RawMessage
from ingest.sources.base import Disposition, SourceState
from ingest.tls import verifying_context

log = logging.getLogger(__name__)

# imapclient routes imaplib's protocol trace to this logger at DEBUG: every line
# on the wire, including the LOGIN password and whole message bodies. Keep it
# quiet unless someone explicitly configured it (tests do, to count commands).
_wire_log = logging.getLogger("imapclient.imaplib")
if _wire_log.level == logging.NOTSET:
    _wire_log.setLevel(logging.INFO)

TlsMode = Literal["implicit", "starttls", "none"]

#: Keyword set on acked messages when no folder is configured for a disposition.
TRACKED_KEYWORD = "$EscalationTracked"

_FETCH_ITEMS = ("BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE")
# Longest UID set we put on one command line; Dovecot accepts 64 KiB lines and
# RFC 7162 §4 recommends clients stay below 8 KiB. Contiguous UIDs collapse to
# ranges, so a normal batch is far shorter than this.
_MAX_UID_SET_CHARS = 8000


@dataclass
class _Outstanding:
    """UIDs handed out by :meth:`ImapSource.poll` and acked, for one UIDVALIDITY.

    The watermark may only pass a UID once every lower UID that poll handed out
    has been acked: processed and quarantined messages are acked in separate
    calls, and a message left unacked must be handed out again.
    """

    uidvalidity: int
    handed_out: set[int] = field(default_factory=set)
    acked: set[int] = field(default_factory=set)


class ImapSource:
    """One IMAP folder watched for escalation emails.

    ``password`` is a callable so secrets are read (from a file or the
    environment) at login time and never stored on the object or logged.
    ``timeout`` bounds connects and every socket read outside IDLE, so a
    silent network partition surfaces as :class:`SourceUnavailable` instead of
    a hung daemon.
    """

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        tls: TlsMode,
        username: str,
        password: Callable[[], str],
        state: SourceState,
        folder: str = "INBOX",
        processed_folder: str | None = "Processed",
        quarantine_folder: str | None = "Quarantine",
        ca_file: Path | None = None,
        use_idle: bool = True,
        idle_timeout: float = 300.0,
        poll_interval: float = 60.0,
        timeout: float = 60.0,
        fetch_chunk: int = 100,
    ) -> None:
        if tls not in ("implicit", "starttls", "none"):
            raise ValueError(f"tls must be 'implicit', 'starttls' or 'none', not {tls!r}")
        if fetch_chunk < 1:
            raise ValueError("fetch_chunk must be at least 1")
        if idle_timeout <= 0 or poll_interval <= 0 or timeout <= 0:
            raise ValueError("idle_timeout, poll_interval and timeout must be positive")
        self.name = name
        self.host = host
        self.port = port
        self.tls: TlsMode = tls
        self.username = username
        self._password = password
        self._state = state
        self.folder = folder
        self.processed_folder = processed_folder
        self.quarantine_folder = quarantine_folder
        self.ca_file = ca_file
        self.use_idle = use_idle
        self.idle_timeout = idle_timeout
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.fetch_chunk = fetch_chunk

        self._client: IMAPClient | None = None
        self._capabilities: frozenset[str] | None = None  # survives reconnects
        self._folders_ready = False  # per connection
        self._selected_uidvalidity: int | None = None  # per connection
        self._keywords_allowed = True
        self._outstanding: _Outstanding | None = None
        self._warned_plaintext = False
        self._interrupted = threading.Event()  # set by interrupt(), cleared by close()

    def __repr__(self) -> str:
        return f"ImapSource({self.name!r}, {self.host}:{self.port}, tls={self.tls!r})"

    # ------------------------------------------------------------------ API

    @property
    def supports_idle(self) -> bool:
        """Whether :meth:`wait` will use IDLE (RFC 2177) rather than sleep.

        Answered from the capabilities of the last connection; connects first
        if there has never been one (and may then raise :class:`SourceError`).
        """
        if not self.use_idle:
            return False
        if self._capabilities is None:
            with self._guard("capability check"):
                self._connect()
        return self._capabilities is not None and "IDLE" in self._capabilities

    def poll(self, limit: int | None = None) -> list[RawMessage]:
        """Return up to ``limit`` unacked messages above the watermark, oldest (lowest UID) first.

        Nothing is changed on the server: ``BODY.PEEK[]`` leaves ``\\Seen``
        alone and nothing moves until :meth:`ack`. Calling poll again without
        acking returns the same messages again.
        """
        if limit is not None and limit <= 0:
            return []
        with self._guard("poll"):
            client = self._connect()
            uidvalidity = self._select(client, force=True)
            outstanding = self._outstanding_for(uidvalidity)
            last = self._watermark(uidvalidity)
            uids = self._search_new(client, last)
            # A UID handed out earlier that is no longer in the folder (moved
            # by a person, expunged) can never be acked: stop waiting for it.
            present = set(uids)
            outstanding.handed_out = {
                u for u in outstanding.handed_out if u in present or u in outstanding.acked
            }
            candidates = [u for u in uids if u not in outstanding.acked]
            messages = self._fetch(client, uidvalidity, candidates, limit)
            outstanding.handed_out.update(_uid_of(m) for m in messages)
        log.log(
            logging.INFO if messages else logging.DEBUG,
            "mailbox %s: %d new message(s) above uid %d (uidvalidity %d), handed out %d",
            self.name,
            len(candidates),
            last,
            uidvalidity,
            len(messages),
        )
        return messages

    def ack(self, messages: Sequence[RawMessage], disposition: Disposition) -> None:
        """Move (or flag) messages whose bytes our store has committed.

        All UIDs of one call go to the server as one command (MOVE, or the
        COPY/STORE/EXPUNGE fallback). Messages from an older UIDVALIDITY are
        skipped: their UIDs may now name other messages, and the current ones
        will be handed out again by poll and deduplicated by the store.
        """
        if disposition == "processed":
            target = self.processed_folder
        elif disposition == "quarantined":
            target = self.quarantine_folder
        else:
            raise ValueError(f"unknown disposition {disposition!r}")
        if not messages:
            return
        wanted: list[tuple[int, int]] = []
        for message in messages:
            if message.mailbox != self.name:
                raise ValueError(
                    f"message from mailbox {message.mailbox!r} acked on source {self.name!r}"
                )
            wanted.append(_parse_external_id(message.external_id))

        with self._guard("ack"):
            client = self._connect()
            uidvalidity = self._select(client)
            uids = sorted({uid for validity, uid in wanted if validity == uidvalidity})
            stale = len(wanted) - sum(1 for validity, _ in wanted if validity == uidvalidity)
            if stale:
                log.warning(
                    "mailbox %s: skipping ack of %d message(s) from an old uidvalidity; "
                    "current is %d, they will be fetched again",
                    self.name,
                    stale,
                    uidvalidity,
                )
            if not uids:
                return
            if target is not None:
                self._ensure_folders(client)
                self._move(client, uids, target)
            else:
                self._mark(client, uids)
            outstanding = self._outstanding_for(uidvalidity)
            outstanding.acked.update(uids)
            self._advance_watermark(outstanding)
        log.info(
            "mailbox %s: acked %d message(s) as %s (uids %s)",
            self.name,
            len(uids),
            disposition,
            _uid_set(uids),
        )

    def wait(self, timeout: float) -> None:
        """Block until new mail may have arrived or ``timeout`` seconds passed.

        With IDLE (RFC 2177) the server pushes ``EXISTS``/``RECENT`` and we
        return as soon as one arrives; IDLE is renewed at least every
        ``idle_timeout`` seconds because servers and NAT boxes drop idle
        connections (RFC 2177 asks for re-issuing within 29 minutes).
        Without IDLE we sleep ``min(timeout, poll_interval)``. Returning early
        is always allowed: the caller simply polls again.
        """
        if timeout <= 0 or self._interrupted.is_set():
            return
        if not self.use_idle:
            self._interrupted.wait(min(timeout, self.poll_interval))
            return
        with self._guard("wait"):
            client = self._connect()
            idle = self._capabilities is not None and "IDLE" in self._capabilities
            if idle and not self._unannounced_mail(client):
                self._idle(client, min(timeout, self.idle_timeout))
        if not idle:
            self._interrupted.wait(min(timeout, self.poll_interval))

    def interrupt(self) -> None:
        """Wake a :meth:`wait` blocked in IDLE, from another thread (daemon shutdown).

        Shutting the socket down makes the blocked read return at once; the
        waiting thread then sees a dropped connection, and its caller, which
        asked for the interruption, stops instead of reconnecting.
        """
        self._interrupted.set()
        client = self._client
        if client is not None:
            with suppress(OSError):
                client.socket().shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Log out and forget the connection; the next call reconnects."""
        self._interrupted.clear()
        client = self._client
        self._drop()
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing to save
            with suppress(Exception):
                client.shutdown()

    def __enter__(self) -> ImapSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- connection

    def _ssl_context(self) -> ssl.SSLContext:
        """A verifying context: chain and host name checked, TLS 1.2 minimum."""
        return verifying_context(self.ca_file)

    def _connect(self) -> IMAPClient:
        """Return the live connection, logging in first if there is none."""
        if self._client is not None:
            return self._client
        context = None if self.tls == "none" else self._ssl_context()
        if self.tls == "none" and not self._warned_plaintext:
            self._warned_plaintext = True
            log.warning(
                "mailbox %s: connecting to %s:%d WITHOUT TLS; only acceptable for a local "
                "test server",
                self.name,
                self.host,
                self.port,
            )
        client = IMAPClient(
            self.host,
            port=self.port,
            ssl=self.tls == "implicit",
            ssl_context=context,
            timeout=self.timeout,
        )
        try:
            if self.tls == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise SourceProtocolError(
                        self.name,
                        f"{self.host}:{self.port} does not offer STARTTLS; refusing to log in "
                        "over plaintext",
                    )
                try:
                    client.starttls(context)
                except (ssl.SSLError, imaplib.IMAP4.error) as exc:
                    if isinstance(exc, ssl.SSLCertVerificationError):
                        raise
                    raise SourceProtocolError(
                        self.name, f"STARTTLS with {self.host}:{self.port} failed: {exc}"
                    ) from exc
            # Aware datetimes straight from the server's INTERNALDATE.
            client.normalise_times = False
            try:
                password = self._password()
            except Exception as exc:  # a missing secret file is not a network problem
                raise AuthenticationFailed(
                    self.name, f"could not read the password: {type(exc).__name__}: {exc}"
                ) from exc
            try:
                client.login(self.username, password)
            except LoginError as exc:
                text = _server_text(exc)
                if "[UNAVAILABLE]" in text:  # RFC 5530: the auth backend is down
                    raise SourceUnavailable(
                        self.name, f"server could not check credentials now: {text}"
                    ) from exc
                raise AuthenticationFailed(
                    self.name, f"login as {self.username!r} refused: {text}"
                ) from exc
            self._capabilities = frozenset(_text(c).upper() for c in client.capabilities())
        except BaseException:
            with suppress(Exception):
                client.shutdown()
            raise
        self._client = client
        self._folders_ready = False
        self._selected_uidvalidity = None
        log.info(
            "mailbox %s: connected to %s:%d (%s)",
            self.name,
            self.host,
            self.port,
            "plaintext" if self.tls == "none" else f"TLS {self.tls}",
        )
        return client

    def _drop(self) -> None:
        """Forget the connection without talking to the server."""
        client = self._client
        self._client = None
        self._folders_ready = False
        self._selected_uidvalidity = None
        if client is not None:
            with suppress(Exception):
                client.shutdown()

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Translate socket, TLS and IMAP errors into the project's errors.

        Any failure drops the connection: after a NO/BAD or a timeout we cannot
        be sure of the session state (mid-IDLE, half-read literal), and
        reconnecting is cheap compared with acting on a confused session.
        """
        try:
            yield
        except SourceError:
            self._drop()
            raise
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise SourceUnavailable(
                self.name,
                f"TLS certificate of {self.host}:{self.port} was not accepted "
                f"({exc.verify_message}); check ca_file and the host name",
            ) from exc
        except imaplib.IMAP4.abort as exc:  # connection-level: BYE, EOF, socket error
            self._drop()
            raise SourceUnavailable(
                self.name, f"{action}: connection to {self.host}:{self.port} lost: {exc}"
            ) from exc
        except imaplib.IMAP4.error as exc:  # NO/BAD, parse errors, capability errors
            self._drop()
            raise SourceProtocolError(self.name, f"{action}: {exc}") from exc
        except (OSError, EOFError) as exc:  # refused, reset, timeout, TLS failure
            self._drop()
            raise SourceUnavailable(
                self.name, f"{action}: {self.host}:{self.port} unreachable: {exc!r}"
            ) from exc

    # ---------------------------------------------------------------- folders

    def _select(self, client: IMAPClient, *, force: bool = False) -> int:
        """SELECT the watched folder and reconcile its UIDVALIDITY with the stored one.

        Read-write, because ack stores flags and moves. RFC 3501 §2.3.1.1
        guarantees UIDVALIDITY does not change during a selection, so ack and
        wait reuse the current one unless ``force`` asks for a fresh SELECT.
        """
        if self._selected_uidvalidity is not None and not force:
            return self._selected_uidvalidity
        response = client.select_folder(self.folder)
        raw_validity = response.get(b"UIDVALIDITY")
        if not isinstance(raw_validity, int) or raw_validity <= 0:
            raise SourceProtocolError(
                self.name, f"SELECT {self.folder!r} did not report a UIDVALIDITY (RFC 3501)"
            )
        uidvalidity = raw_validity
        permanent = {_text(f) for f in response.get(b"PERMANENTFLAGS", ())}
        self._keywords_allowed = "\\*" in permanent or TRACKED_KEYWORD in permanent
        stored = self._state.load(self.name)
        if stored is not None and stored[0] != uidvalidity:
            log.warning(
                "mailbox %s: UIDVALIDITY of %s changed from %d to %d; restarting the "
                "watermark at 0 (was uid %d), messages will be fetched again",
                self.name,
                self.folder,
                stored[0],
                uidvalidity,
                stored[1],
            )
            self._state.save(self.name, uidvalidity, 0)
        self._selected_uidvalidity = uidvalidity
        return uidvalidity

    def _ensure_folders(self, client: IMAPClient) -> None:
        """Create the processed/quarantine folders once per connection if missing.

        Tolerates losing a creation race to another daemon or a person.
        """
        if self._folders_ready:
            return
        for folder in (self.processed_folder, self.quarantine_folder):
            if folder is None or client.folder_exists(folder):
                continue
            try:
                client.create_folder(folder)
            except imaplib.IMAP4.error:
                if not client.folder_exists(folder):
                    raise
            with suppress(imaplib.IMAP4.error):  # so people see it in their mail client
                client.subscribe_folder(folder)
            log.info("mailbox %s: created folder %s", self.name, folder)
        self._folders_ready = True

    # ------------------------------------------------------------------ fetch

    def _outstanding_for(self, uidvalidity: int) -> _Outstanding:
        if self._outstanding is None or self._outstanding.uidvalidity != uidvalidity:
            self._outstanding = _Outstanding(uidvalidity)
        return self._outstanding

    def _watermark(self, uidvalidity: int) -> int:
        stored = self._state.load(self.name)
        if stored is None or stored[0] != uidvalidity:
            return 0
        return stored[1]

    def _flag_only(self) -> bool:
        return self.processed_folder is None or self.quarantine_folder is None

    def _search_new(self, client: IMAPClient, last: int) -> list[int]:
        """UIDs above the watermark, ascending.

        ``UID n:*`` always matches the highest UID in the folder, even when it
        is below ``n`` (RFC 3501 §6.4.8: ``*`` is the largest UID in use and
        ``n:*`` equals ``*:n``), so we filter client-side. When some disposition
        only flags, messages already carrying our keyword are left out.
        """
        criteria: list[str] = ["UID", f"{last + 1}:*"]
        if self._flag_only() and self._keywords_allowed:
            criteria += ["NOT", "KEYWORD", TRACKED_KEYWORD]
        found = client.search(criteria)
        return sorted({int(u) for u in found if int(u) > last})

    def _fetch(
        self, client: IMAPClient, uidvalidity: int, uids: Sequence[int], limit: int | None
    ) -> list[RawMessage]:
        """Fetch bodies in chunks of ``fetch_chunk`` UIDs, one FETCH per chunk."""
        messages: list[RawMessage] = []
        position = 0
        while position < len(uids) and (limit is None or len(messages) < limit):
            size = self.fetch_chunk
            if limit is not None:
                size = min(size, limit - len(messages))
            chunk = list(uids[position : position + size])
            position += len(chunk)
            response = client.fetch(chunk, list(_FETCH_ITEMS))
            for uid in chunk:
                item = response.get(uid)
                message = self._to_raw(uidvalidity, uid, item)
                if message is not None:
                    messages.append(message)
        return messages

    def _to_raw(
        self, uidvalidity: int, uid: int, item: dict[bytes, Any] | None
    ) -> RawMessage | None:
        body = item.get(b"BODY[]") if item is not None else None
        if item is None or not isinstance(body, bytes):
            # Expunged between SEARCH and FETCH (RFC 3501 §6.4.8 lets the server
            # return nothing for it): whoever removed it owns it now.
            log.warning(
                "mailbox %s: uid %d vanished before its body could be fetched; skipped",
                self.name,
                uid,
            )
            return None
        internaldate = item.get(b"INTERNALDATE")
        if not isinstance(internaldate, datetime) or internaldate.tzinfo is None:
            raise SourceProtocolError(
                self.name, f"uid {uid}: INTERNALDATE missing or without a time zone"
            )
        size = item.get(b"RFC822.SIZE")
        if isinstance(size, int) and size != len(body):
            log.warning(
                "mailbox %s: uid %d: server said %d bytes, sent %d",
                self.name,
                uid,
                size,
                len(body),
            )
        return RawMessage(
            mailbox=self.name,
            external_id=f"{uidvalidity}:{uid}",
            received_at=internaldate.astimezone(UTC),
            data=body,
        )

    # -------------------------------------------------------------------- ack

    def _move(self, client: IMAPClient, uids: Sequence[int], target: str) -> None:
        """Move UIDs out of the watched folder.

        ``UID MOVE`` (RFC 6851) is atomic. Without it, RFC 6851 §3.3's
        equivalent: ``UID COPY``, ``UID STORE +FLAGS.SILENT (\\Deleted)``, then
        ``UID EXPUNGE`` (RFC 4315) which removes only our UIDs; a server with
        neither gets a plain ``EXPUNGE``, which also removes other messages
        someone flagged ``\\Deleted`` in this folder (RFC 3501 §6.4.3). A crash
        between COPY and EXPUNGE leaves a copy in both folders: the original is
        handed out again and deduplicated, nothing is lost.
        """
        caps = self._capabilities or frozenset()
        for uid_set in _uid_sets(uids):
            if "MOVE" in caps:
                self._tolerate_expunged(client, partial(client.move, uid_set, target))
            else:
                self._tolerate_expunged(client, partial(client.copy, uid_set, target))
                self._tolerate_expunged(
                    client, partial(client.add_flags, uid_set, [b"\\Deleted"], silent=True)
                )
                if "UIDPLUS" in caps:
                    self._tolerate_expunged(client, partial(client.uid_expunge, uid_set))
                else:
                    client.expunge()

    def _mark(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """Flag acked messages that stay in place: our keyword, or ``\\Seen``.

        Keywords need ``\\*`` in PERMANENTFLAGS (RFC 3501 §7.1); ``\\Seen`` is
        the fallback, though people reading the mailbox set it too, which is why
        the watermark (not the flag) decides what poll returns in that case.
        """
        flag = (TRACKED_KEYWORD if self._keywords_allowed else "\\Seen").encode("ascii")
        for uid_set in _uid_sets(uids):
            self._tolerate_expunged(client, partial(client.add_flags, uid_set, [flag], silent=True))

    def _tolerate_expunged(self, client: IMAPClient, command: Callable[[], object]) -> None:
        """Run a UID command; if another session expunged some UIDs, sync and run it again.

        Dovecot answers ``NO [EXPUNGEISSUED]`` (RFC 5530) when some UIDs were
        expunged by someone else and we have not been told yet, and then acts
        on none of them. A NOOP delivers the pending EXPUNGEs (RFC 3501
        §6.1.2); afterwards the vanished UIDs are silently ignored, as RFC 3501
        §6.4.8 prescribes for UID commands naming non-existent UIDs.
        """
        try:
            command()
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            if "EXPUNGEISSUED" not in str(exc):
                raise
            log.info(
                "mailbox %s: some acked messages were already expunged elsewhere; retrying",
                self.name,
            )
            client.noop()
            command()

    def _advance_watermark(self, outstanding: _Outstanding) -> None:
        """Save the highest acked UID below every handed-out-but-unacked UID."""
        pending = outstanding.handed_out - outstanding.acked
        floor = min(pending) if pending else None
        done = [u for u in outstanding.acked if floor is None or u < floor]
        if not done:
            return
        new_last = max(done)
        current = self._watermark(outstanding.uidvalidity)
        if new_last > current:
            self._state.save(self.name, outstanding.uidvalidity, new_last)
            log.debug("mailbox %s: watermark %d -> %d", self.name, current, new_last)
        outstanding.acked = {u for u in outstanding.acked if u > new_last}
        outstanding.handed_out = {u for u in outstanding.handed_out if u > new_last}

    # ------------------------------------------------------------------- IDLE

    def _unannounced_mail(self, client: IMAPClient) -> bool:
        """Whether poll would hand out something it has not handed out yet.

        IDLE only reports changes the server has not told us about, and
        servers piggyback ``EXISTS`` on other commands' responses (RFC 3501
        §7.3.1): mail that arrived while we were acking was announced in the
        MOVE response and would not be announced again, and mail left over by
        ``poll(limit)`` is not news at all. One SEARCH (the same one poll
        does) before idling closes both gaps.
        """
        uidvalidity = self._select(client)
        outstanding = self._outstanding_for(uidvalidity)
        # Mail that arrives while the SEARCH runs is announced in the SEARCH's
        # own response but missing from its result, and IDLE would not announce
        # it again. imaplib keeps untagged responses no command claimed; older
        # ones are covered by this SEARCH, newer ones mean "poll again".
        untagged = client._imap.untagged_responses
        for key in ("EXISTS", "RECENT"):
            untagged.pop(key, None)
        for uid in self._search_new(client, self._watermark(uidvalidity)):
            if uid not in outstanding.handed_out and uid not in outstanding.acked:
                log.debug("mailbox %s: uid %d waiting, not idling", self.name, uid)
                return True
        if untagged.pop("EXISTS", None) or untagged.pop("RECENT", None):
            log.debug("mailbox %s: mail arrived during SEARCH, not idling", self.name)
            return True
        return False

    def _idle(self, client: IMAPClient, seconds: float) -> None:
        """IDLE (RFC 2177) until EXISTS/RECENT arrives or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        client.idle()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            responses = client.idle_check(timeout=remaining)
            if any(_announces_mail(r) for r in responses):
                log.debug("mailbox %s: IDLE reported new mail", self.name)
                break
            if not responses and deadline - time.monotonic() > 0.05:
                # Readable but nothing parsed: the server closed the
                # connection. idle_done below will raise and we reconnect.
                break
        client.idle_done()


def _announces_mail(response: object) -> bool:
    """True for ``* n EXISTS`` / ``* n RECENT`` as parsed by imapclient."""
    return (
        isinstance(response, tuple)
        and len(response) >= 2
        and isinstance(response[1], bytes)
        and response[1].upper() in (b"EXISTS", b"RECENT")
    )


def _parse_external_id(external_id: str) -> tuple[int, int]:
    validity, sep, uid = external_id.partition(":")
    if not sep or not validity.isdigit() or not uid.isdigit():
        raise ValueError(f"not an IMAP external_id (uidvalidity:uid): {external_id!r}")
    return int(validity), int(uid)


def _uid_of(message: RawMessage) -> int:
    return _parse_external_id(message.external_id)[1]


def _server_text(exc: BaseException) -> str:
    """The server's words from an imaplib error, without a ``b'...'`` wrapper."""
    text = str(exc)
    if len(text) >= 3 and text[:2] in ("b'", 'b"') and text[-1] == text[1]:
        return text[2:-1]
    return text


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def _uid_set(uids: Iterable[int]) -> str:
    """Compress UIDs to an RFC 3501 sequence set: ``1:3,7,9:10``."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = None
    for uid in ordered:
        if prev is not None and uid == prev + 1:
            prev = uid
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


def _uid_sets(uids: Iterable[int]) -> list[str]:
    """Sequence sets short enough for one command line each (normally just one)."""
    ranges = _uid_set(uids).split(",")
    sets: list[str] = []
    current: list[str] = []
    length = 0
    for part in ranges:
        if current and length + len(part) + 1 > _MAX_UID_SET_CHARS:
            sets.append(",".join(current))
            current, length = [], 0
        current.append(part)
        length += len(part) + 1
    if current and current != [""]:
        sets.append(",".join(current))
    return sets
