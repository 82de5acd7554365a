"""The plain rows every report is computed from, and the stage history they imply.

Aggregations take these dataclasses rather than ORM objects so they can be
tested with hand-built rows and cannot lazy-load anything (or reach free
text) behind the caller's back. Only the columns a report may show are here:
no event details, no subjects, and the raiser's address and the form's
free-text agencies are reduced to agency types before a :class:`CaseRow` exists.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tracker.reports.agencies import NOT_RECORDED


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: int
    reference: str
    partnership: str
    #: Live status (``open`` | ``resolved``); history comes from the timestamps.
    status: str
    #: Current stage.
    stage: int
    #: Shared-taxonomy id, or None when nobody has categorised the case.
    category: str | None
    #: Raising agency *type* (:func:`tracker.reports.agencies.raising_agency_type`), never the
    #: address or the form's text.
    agency: str
    opened_at: datetime
    resolved_at: datetime | None
    track: str | None = None
    #: Agency challenged *type* (:func:`tracker.reports.agencies.agency_type_from_text` of the
    #: form's ``other_party``), ``not_recorded`` when the form did not say; never the text.
    challenged: str = NOT_RECORDED


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    case_id: int
    stage: int
    #: ``case_opened``, ``stage_entered`` or ``flag:<name>``.
    start_event: str
    started_at: datetime
    created_at: datetime
    due_at: datetime | None
    #: ``open`` | ``met`` | ``superseded``.
    state: str
    met_at: datetime | None
    id: int = 0

    @property
    def entered_at(self) -> datetime:
        """When the case entered this row's stage.

        ``started_at`` is when the *timescale* started: that is the stage entry
        only for ``stage_entered`` timescales. Cumulative ones (Bedfordshire's
        hours from the case opened) start at the opening, so for those the row's
        ``created_at`` (written when the stage was entered) is the better answer.
        """
        return self.started_at if self.start_event == "stage_entered" else self.created_at

    @property
    def timed(self) -> bool:
        """The procedure stated a timescale (``due_at`` was computed)."""
        return self.due_at is not None

    @property
    def in_time(self) -> bool | None:
        """Completed within its timescale (None: not completed or no timescale)."""
        if self.state != "met" or self.due_at is None or self.met_at is None:
            return None
        return self.met_at <= self.due_at


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """An outgoing notification (outbox row): only what it was and when."""

    case_id: int | None
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StageEntry:
    stage: int
    at: datetime


@dataclass(frozen=True)
class Dataset:
    cases: tuple[CaseRow, ...]
    deadlines: tuple[DeadlineRow, ...] = ()
    notices: tuple[NoticeRow, ...] = ()
    _by_case: dict[int, list[DeadlineRow]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def deadlines_of(self, case_id: int) -> list[DeadlineRow]:
        """A case's deadline rows in the order they were written (built once, then O(1))."""
        if not self._by_case and self.deadlines:
            for d in sorted(self.deadlines, key=lambda d: (d.created_at, d.id)):
                self._by_case.setdefault(d.case_id, []).append(d)
        return self._by_case.get(case_id, [])


def stage_history(case: CaseRow, deadlines: Sequence[DeadlineRow]) -> list[StageEntry]:
    """Every stage the case entered, in order, each with when.

    One deadline row is written per stage entered (a flag that shortens the
    timescale writes another row for the *same* stage: runs of one stage are
    one entry). The first entry is the opening. A case with no deadline rows
    (opened before deadlines were recorded) has one entry: its current stage.
    """
    rows = sorted(deadlines, key=lambda d: (d.entered_at, d.created_at, d.id))
    out: list[StageEntry] = []
    for d in rows:
        if out and out[-1].stage == d.stage:
            continue
        at = case.opened_at if not out else max(d.entered_at, out[-1].at)
        out.append(StageEntry(d.stage, at))
    if not out:
        out.append(StageEntry(case.stage, case.opened_at))
    return out


def stage_at(history: Sequence[StageEntry], t: datetime) -> int | None:
    """The stage the case was at, at ``t`` (None before it opened)."""
    i = bisect_right([e.at for e in history], t)
    return history[i - 1].stage if i else None


def highest_stage(history: Iterable[StageEntry], until: datetime | None = None) -> int | None:
    """The highest stage reached by ``until`` (all time when None)."""
    stages = [e.stage for e in history if until is None or e.at < until]
    return max(stages) if stages else None


def is_open_at(case: CaseRow, t: datetime) -> bool:
    """Open at ``t``: opened by then and not yet resolved."""
    return case.opened_at <= t and (case.resolved_at is None or case.resolved_at > t)
