"""The contract every mailbox source keeps.

The daemon drives a source like this::

    batch = source.poll(limit)          # new messages not yet acknowledged
    store.commit_raw(batch)             # bytes are safe in our database
    ...process...
    source.ack(batch_processed, "processed")
    source.ack(batch_quarantined, "quarantined")
    source.wait(timeout)                # IDLE, inotify-free polling, ...

A source must never move, flag or delete a message before ``ack`` is called
for it, and ``ack`` is only called after our store committed the bytes. A
message handed out by ``poll`` but never acked (the daemon died) must be
handed out again by a later ``poll``: our store deduplicates, so re-delivery
is harmless while loss is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from ingest.raw import RawMessage

Disposition = Literal["processed", "quarantined"]


class SourceState(Protocol):
    """Durable per-mailbox bookkeeping (UIDVALIDITY and UID high-water mark).

    The tracker implements it with a database table; tests may use a dict.
    """

    def load(self, mailbox: str) -> tuple[int, int] | None:
        """Return ``(uidvalidity, last_acked_uid)`` or ``None`` if never seen."""
        ...

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Remember that every UID up to ``last_uid`` has been acked."""
        ...


class MemoryState:
    """A :class:`SourceState` kept in memory (tests, one-off runs)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[int, int]] = {}

    def load(self, mailbox: str) -> tuple[int, int] | None:
        return self._data.get(mailbox)

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        self._data[mailbox] = (uidvalidity, last_uid)


class Source(Protocol):
    """A watched mailbox."""

    name: str

    def poll(self, limit: int | None = None) -> list[RawMessage]:
        """Return up to ``limit`` messages that have not been acked yet, oldest first."""
        ...

    def ack(self, messages: Sequence[RawMessage], disposition: Disposition) -> None:
        """Move (or flag) messages whose bytes our store has committed."""
        ...

    def wait(self, timeout: float) -> None:
        """Block until new mail may have arrived or ``timeout`` seconds passed."""
        ...

    def interrupt(self) -> None:
        """Make a :meth:`wait` blocked in another thread return soon (shutdown)."""
        ...

    def close(self) -> None:
        """Release connections; the source may be polled again afterwards."""
        ...
