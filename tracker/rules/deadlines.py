"""Stage deadlines: which timescale governs a stage, when it falls due, when to remind (pure).

A stage's own timescale runs from the stage being entered (or the case being
opened: Bedfordshire's cumulative hours); a flag with a ``deadline_override``
may impose a stricter one, running from the moment the flag is read. The
stricter of them governs. :class:`Deadlines` makes that choice as a
:class:`Timing` (cheap to compare) and turns the one that is kept into a
:class:`NewDeadline` (with its rule path, explanation and reminder time) only
once per message, at the end.

The calendar arithmetic behind a choice is done through a :class:`DueMemo`
made for one message, so a stage's timescale and each flag's override are
computed once however many signals the message carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.rules.calendar import Due, WorkingCalendar
from tracker.rules.case import CaseState
from tracker.rules.schema import LoadedRuleFile

__all__ = ["Deadlines", "DueMemo", "NewDeadline", "Timing"]


@dataclass(frozen=True)
class NewDeadline:
    """A deadline to create: what the intake stores, the chasers chase and the timeline shows."""

    track: str
    stage: int
    unit: str | None
    within: float | None
    basis: str
    start_event: str
    started_at: datetime
    due_at: datetime | None
    out_of_hours: bool
    rule: str
    explanation: str
    reminder_at: datetime | None


@dataclass(frozen=True)
class Timing:
    """The timescale that governs a stage (its own, or a flag's stricter override)."""

    stage: int
    due: Due | None
    unit: str | None
    within: float | None
    basis: str
    #: ``stage_entered``, ``case_opened`` or ``flag:<name>``.
    start_event: str
    started_at: datetime
    #: Where in the rule file the timescale is written.
    path: str
    explanation: str

    @property
    def due_at(self) -> datetime | None:
        return self.due.due_at if self.due else None

    @property
    def flag(self) -> str | None:
        """The flag whose override governs, or None when the stage's own timescale does."""
        prefix, _, name = self.start_event.partition(":")
        return name if prefix == "flag" else None


@dataclass
class DueMemo:
    """:meth:`WorkingCalendar.due` remembered for one message (the same start, the same answer)."""

    calendar: WorkingCalendar
    _seen: dict[tuple[datetime, float | None, str], Due] = field(default_factory=dict)

    def due(self, start: datetime, within: float | None, unit: str) -> Due:
        key = (start, within, unit)
        if key not in self._seen:
            self._seen[key] = self.calendar.due(start, within, unit)
        return self._seen[key]


class Deadlines:
    """One rule file's stage deadlines, on its working calendar."""

    def __init__(self, loaded: LoadedRuleFile, calendar: WorkingCalendar, zone: ZoneInfo) -> None:
        self.loaded = loaded
        self.rule_file = loaded.rule_file
        self.calendar = calendar
        self.zone = zone

    def timing(self, state: CaseState, at: datetime, dues: DueMemo | None = None) -> Timing | None:
        """The timescale of ``state``'s stage, with any stricter flag override read at ``at``.

        None when the track has no such stage. On equal due times the stage's
        own timescale wins, then the flag first in alphabetical order.
        """
        dues = dues or DueMemo(self.calendar)
        stage = self.rule_file.track(state.track).stage(state.stage)
        if stage is None:
            return None
        spec = stage.deadline
        start = state.opened_at if spec.start == "case_opened" else state.stage_entered_at
        due = dues.due(start, spec.within, spec.unit or "") if spec.computable else None
        best: tuple[Due | None, str | None, float | None, str, str, datetime] = (
            due,
            spec.unit,
            spec.within,
            spec.basis,
            spec.start,
            start,
        )
        path = f"tracks.{state.track}.stages.{stage.number - 1}.deadline"
        for name in sorted(state.flags):
            flag = self.rule_file.flags.get(name)
            if flag is None or flag.deadline_override is None:
                continue
            o = flag.deadline_override
            o_due = dues.due(at, o.within, o.unit)
            current = best[0]
            if o_due.due_at is not None and (
                current is None or current.due_at is None or o_due.due_at < current.due_at
            ):
                best = (o_due, o.unit, o.within, o.basis, f"flag:{name}", at)
                path = f"flags.{name}.deadline_override"
        due, unit, within, basis, start_event, started = best
        if due is None:
            what = "no timescale stated" if basis == "not_stated" else f"{spec.term or 'no fixed'}"
            explanation = f"Stage {stage.number}: {what}; no deadline is computed."
        else:
            explanation = f"Stage {stage.number}: {due.explanation}"
        return Timing(
            stage.number, due, unit, within, basis, start_event, started, path, explanation
        )

    def deadline(self, state: CaseState, timing: Timing) -> NewDeadline:
        """The deadline to create for ``state``'s stage under ``timing``."""
        return NewDeadline(
            track=state.track,
            stage=timing.stage,
            unit=timing.unit,
            within=timing.within,
            basis=timing.basis,
            start_event=timing.start_event,
            started_at=timing.started_at,
            due_at=timing.due_at,
            out_of_hours=timing.due.out_of_hours if timing.due else False,
            rule=f"{self.rule_file.id}@{self.loaded.version} {timing.path}",
            explanation=timing.explanation,
            reminder_at=self.reminder_time(timing.due_at, timing.started_at),
        )

    def stage_deadline(
        self, state: CaseState, at: datetime, dues: DueMemo | None = None
    ) -> NewDeadline | None:
        """The deadline of the case's current stage, with any flag override applied."""
        timing = self.timing(state, at, dues)
        return None if timing is None else self.deadline(state, timing)

    def reminder_time(self, due_at: datetime | None, started: datetime) -> datetime | None:
        """When to remind before ``due_at``; None when there is no room for a reminder."""
        reminder = self.rule_file.chasers.reminder
        if due_at is None or reminder is None:
            return None
        if reminder.when == "hours_before":
            at = due_at - timedelta(hours=reminder.hours or 0)
        else:
            at = self.calendar.business_open(self._local_date(due_at))
        if at <= started or at >= due_at:
            return None
        return at

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self.zone).date()
