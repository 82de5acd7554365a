"""The first value in the pipeline: bytes exactly as a mailbox handed them over."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property


@dataclass(frozen=True)
class RawMessage:
    """One message as fetched, before any interpretation.

    ``received_at`` is when the message reached the mailbox (IMAP INTERNALDATE,
    Maildir delivery time), timezone-aware, never the sender's ``Date:`` header:
    deadlines run from it. ``external_id`` identifies the message inside its
    source (``"<uidvalidity>:<uid>"`` for IMAP, the Maildir key) so the source
    can move or flag it once our store has committed the bytes.
    """

    mailbox: str
    external_id: str
    received_at: datetime
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("RawMessage.received_at must be timezone-aware")

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes, computed once (a backlog asks for it several times)."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)
