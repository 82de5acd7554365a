"""A case as the rules engine sees it: plain frozen values, never database rows.

The intake loads these from the store (and writes the engine's answer back);
the engine and its handlers only read them and return new ones, which is
what lets every rule be tested with literal values and a frozen time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["CaseState", "Line", "OpenDeadline", "Trigger"]

#: One timeline line: (event kind, detail).
Line = tuple[str, str]
#: What may make a notification fire: (``case_opened`` | ``stage_changed`` |
#: ``flag_set`` | ``resolved``, the flag set for ``flag_set``).
Trigger = tuple[str, str | None]


@dataclass(frozen=True)
class CaseState:
    """Where a case stands: its track and stage, flags, status and category."""

    reference: str
    track: str
    stage: int
    flags: frozenset[str]
    status: str  # open | resolved
    category: str | None
    opened_at: datetime
    stage_entered_at: datetime
    raised_by: str
    #: Notification keys already queued for this case (``<name>:s<stage>``).
    notified: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OpenDeadline:
    """A deadline already in the store and still open: new mail may meet or supersede it."""

    key: int
    stage: int
    due_at: datetime | None
