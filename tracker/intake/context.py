"""What deciding needs besides the message and the snapshot: settings, procedures, the time.

Passed in whole, so :func:`tracker.intake.triage.decide` reads no clock and no
configuration file of its own. The renderer reads template files, which are
fixed for the daemon's lifetime (checked at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from tracker.config import Config, MailboxConfig
from tracker.notify import Renderer
from tracker.rules.partnerships import Partnerships

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    config: Config
    partnerships: Partnerships
    renderer: Renderer
    #: Keys the pseudonymous child key (``children.child_key``).
    child_key_secret: bytes
    #: When the batch is decided: the time on every line and row it writes.
    now: datetime

    @cached_property
    def mailboxes(self) -> dict[str, MailboxConfig]:
        return {m.name: m for m in self.config.mailbox}

    @property
    def own_addresses(self) -> frozenset[str]:
        return self.config.own_addresses
