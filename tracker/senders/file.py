"""The demo transport: outgoing mail written as ``.eml`` files to ``var/outbox/``.

Each message becomes ``<UTC YYYYmmddTHHMMSS>-<safe Message-ID>.eml`` holding
exactly the bytes the outbox rendered, so the demo (and tests) can open the
file and see what a relay would have received. Two properties matter:

* Atomic: the bytes go to a temporary file in the same directory, are
  fsynced, and only then renamed into place (``os.replace`` is atomic within
  a file system), so a reader never sees half a message and a crash leaves at
  most a hidden ``.tmp`` file that no ``*.eml`` glob picks up.
* Idempotent per Message-ID: the outbox re-sends whatever it did not record
  as sent before a crash. If a file for that Message-ID already exists we do
  nothing, so a re-send never yields two files (DESIGN.md §5, "no duplicate
  effects"). The name ends with a digest of the exact Message-ID, so two ids
  that differ only in characters we had to replace still get distinct files.

Only the envelope is lost (Bcc recipients are not in the bytes); that is
acceptable for a demo transport.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tracker.errors import PermanentDeliveryError, TemporaryDeliveryError

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")
_MAX_READABLE = 80  # keeps names well under the 255-byte limit of common file systems


def safe_message_id(message_id: str) -> str:
    """A file-name fragment that identifies ``message_id`` exactly.

    The readable part drops the angle brackets and replaces anything outside
    a conservative set (no ``/``, no glob characters, nothing a shell or
    Windows share would mind); the 12-hex-digit SHA-256 suffix keeps distinct
    ids distinct after that lossy replacement.
    """
    readable = _UNSAFE.sub("_", message_id.strip().strip("<>")).strip("._")[:_MAX_READABLE]
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{readable or 'message'}-{digest}"


class FileSender:
    """A :class:`~tracker.senders.base.Sender` that writes ``.eml`` files."""

    name = "file"

    def __init__(self, directory: Path, *, now: Callable[[], datetime] | None = None) -> None:
        """``now`` returns the current time (aware); tests pass a frozen clock's ``now``."""
        self.directory = Path(directory)
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        # Written files by their safe-id suffix, read from the directory once:
        # scanning the folder for every message made a backlog quadratic.
        self._index: dict[str, Path] | None = None

    def __repr__(self) -> str:
        return f"FileSender({str(self.directory)!r})"

    def path_for(self, message_id: str) -> Path | None:
        """The file already written for ``message_id``, if any."""
        if self._index is None:
            self._index = {}
            try:
                with os.scandir(self.directory) as entries:
                    for entry in entries:
                        name = entry.name
                        if name.endswith(".eml") and not name.startswith(".") and "-" in name:
                            self._index[name.split("-", 1)[1]] = Path(entry.path)
            except FileNotFoundError:
                pass
        return self._index.get(f"{safe_message_id(message_id)}.eml")

    def send(
        self, envelope_from: str, recipients: Sequence[str], data: bytes, message_id: str
    ) -> None:
        """Write ``data`` to a new ``.eml`` file unless one exists for ``message_id``.

        Disk trouble (full, permissions) is reported as temporary: the bytes
        are still in the outbox and will be written once an operator fixes it.
        """
        if not message_id.strip():
            raise PermanentDeliveryError("file transport needs a Message-ID to name the file")
        with self._lock:
            try:
                existing = self.path_for(message_id)
                if existing is not None:
                    log.info(
                        "file %s: %s already written as %s; not writing again",
                        self.directory,
                        message_id,
                        existing.name,
                    )
                    return
                path = self._write(data, message_id)
            except OSError as exc:
                log.warning(
                    "file %s: %s not written: %s", self.directory, message_id, exc.strerror or exc
                )
                raise TemporaryDeliveryError(
                    f"cannot write to {self.directory}: {exc.strerror or exc}"
                ) from exc
        log.debug("file %s: %s written as %s", self.directory, message_id, path.name)

    def close(self) -> None:
        """Nothing to release; present to keep the Sender protocol."""

    def _write(self, data: bytes, message_id: str) -> Path:
        # 0o700: the outbox holds safeguarding correspondence. Parents are
        # created with the default mode; only the outbox itself is ours.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = self._now().astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        final = self.directory / f"{stamp}-{safe_message_id(message_id)}.eml"
        # mkstemp creates the file with mode 0o600 and a name no one else uses.
        fd, tmp_name = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_directory(self.directory)  # make the rename itself survive a power cut
        if self._index is not None:
            self._index[final.name.split("-", 1)[1]] = final
        return final


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse; the data is synced
        pass
    finally:
        os.close(fd)
