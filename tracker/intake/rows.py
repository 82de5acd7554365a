"""The one mapper between a case's rule state and its ``cases`` row.

Loading (:mod:`tracker.intake.load`) and writing (:mod:`tracker.intake.writer`)
both go through here, so a column added to the state is added once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tracker.model import Case
from tracker.rules.engine import CaseState

__all__ = ["case_columns", "state_of"]


def state_of(row: Case, notified: Iterable[str] = ()) -> CaseState:
    """The rule state of a stored case; ``notified`` are its notification keys already queued."""
    return CaseState(
        reference=row.reference,
        track=row.track or "",
        stage=row.stage,
        flags=frozenset(row.flags or ()),
        status="resolved" if row.status == "resolved" else "open",
        category=row.category,
        opened_at=row.opened_at,
        stage_entered_at=row.stage_entered_at or row.opened_at,
        raised_by=row.raised_by,
        notified=frozenset(notified),
    )


def case_columns(state: CaseState, resolved_at: datetime | None) -> dict[str, Any]:
    """The columns of ``cases`` that the rules decide."""
    return {
        "stage": state.stage,
        "flags": sorted(state.flags),
        "status": state.status,
        "category": state.category,
        "track": state.track,
        "stage_entered_at": state.stage_entered_at,
        "resolved_at": resolved_at,
    }
