"""A local Maildir as a source: the embedded default, replays, and tests.

New messages are read from ``new/`` and ``cur/``; acking moves them into the
Maildir++ sub-folders ``.Processed`` or ``.Quarantine`` (created on demand),
the same shape an IMAP server such as Dovecot would show. The delivery time
is the timestamp a delivery agent puts at the start of the file name
(``1700000000.M1P2.host``), falling back to the file's modification time;
the ``Date:`` header is never used.
"""

from __future__ import annotations

import logging
import mailbox
import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import SourceUnavailable
from ingest.raw import RawMessage
from ingest.sources.base import Disposition

log = logging.getLogger(__name__)

_FOLDERS: dict[str, str] = {"processed": "Processed", "quarantined": "Quarantine"}


def _delivery_time(path: Path) -> datetime:
    head = path.name.split(".", 1)[0]
    if head.isdigit() and 9 <= len(head) <= 11:
        return datetime.fromtimestamp(int(head), UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class MaildirSource:
    """Reads ``path`` (created if missing) as a Maildir."""

    def __init__(self, name: str, path: Path, *, poll_interval: float = 0.25) -> None:
        self.name = name
        self.path = path
        self.poll_interval = poll_interval
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._md = mailbox.Maildir(path, create=True)
        except OSError as exc:
            raise SourceUnavailable(name, f"cannot open Maildir {path}: {exc}") from exc
        self._subfolders: dict[str, mailbox.Maildir] = {}
        self._interrupted = threading.Event()

    def _pending_files(self) -> list[Path]:
        """Files in delivery order: the name's time, then the file's own time, then the name.

        Names within one second are not ordered by anything meaningful
        (``M9`` sorts after ``M10``), and a reply handed out before its
        escalation would open a case of its own.
        """
        keyed: list[tuple[str, int, str, Path]] = []
        for sub in ("new", "cur"):
            try:
                with os.scandir(self.path / sub) as it:
                    for e in it:
                        if e.name.startswith(".") or not e.is_file():
                            continue
                        try:
                            mtime = e.stat().st_mtime_ns
                        except FileNotFoundError:
                            continue
                        keyed.append((e.name.split(".", 1)[0], mtime, e.name, Path(e.path)))
            except FileNotFoundError:
                continue
        keyed.sort(key=lambda k: k[:3])
        return [k[3] for k in keyed]

    def poll(self, limit: int | None = None) -> list[RawMessage]:
        out: list[RawMessage] = []
        for path in self._pending_files():
            if limit is not None and len(out) >= limit:
                break
            try:
                data = path.read_bytes()
                received = _delivery_time(path)
            except FileNotFoundError:
                continue  # moved by someone else meanwhile
            except OSError as exc:
                raise SourceUnavailable(self.name, f"cannot read {path.name}: {exc}") from exc
            out.append(RawMessage(self.name, f"{path.parent.name}/{path.name}", received, data))
        return out

    def _folder(self, disposition: Disposition) -> Path:
        folder = self.path / f".{_FOLDERS[disposition]}"
        if disposition not in self._subfolders:
            self._subfolders[disposition] = mailbox.Maildir(folder, create=True)
        return folder

    def ack(self, messages: Sequence[RawMessage], disposition: Disposition) -> None:
        if not messages:
            return
        target = self._folder(disposition) / "cur"
        for raw in messages:
            src = self.path / raw.external_id
            name = src.name if ":2," in src.name else f"{src.name}:2,"
            try:
                os.replace(src, target / name)
            except FileNotFoundError:
                log.info("mailbox %s: %s already moved", self.name, raw.external_id)
            except OSError as exc:
                raise SourceUnavailable(self.name, f"cannot move {src.name}: {exc}") from exc

    def _signature(self) -> tuple[int, ...]:
        sig: list[int] = []
        for sub in ("new", "cur"):
            try:
                st = os.stat(self.path / sub)
                sig.extend((st.st_mtime_ns, st.st_ino))
            except FileNotFoundError:
                sig.append(0)
        return tuple(sig)

    def wait(self, timeout: float) -> None:
        """Return when ``new/`` or ``cur/`` changes, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        before = self._signature()
        while time.monotonic() < deadline:
            if self._signature() != before or self._pending_files():
                return
            if self._interrupted.wait(min(self.poll_interval, max(deadline - time.monotonic(), 0))):
                return

    def interrupt(self) -> None:
        """Wake a :meth:`wait` from another thread (daemon shutdown)."""
        self._interrupted.set()

    def close(self) -> None:
        """Nothing to release (files are opened only while read); forget an interrupt."""
        self._interrupted.clear()
