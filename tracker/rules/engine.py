"""The rules engine: what a case's new mail means under its partnership's rule file (pure).

:class:`Engine` wraps one loaded rule file with its calendar and vocabulary.
Given a case's state, its open deadlines and the :class:`~tracker.rules.signals.Signal`
values read from a message, it returns :class:`Effects`: the new state, the
timeline lines (each naming the words that triggered it), deadlines to close
and to create, and notifications to queue. It touches no database, mailbox or
clock, so every rule can be tested with plain values and a frozen time; the
intake and the chasers do the writing.

Each signal is handed to its handler (:data:`~tracker.rules.handlers.HANDLERS`),
which returns a :class:`~tracker.rules.handlers.Step`; the engine folds the
steps in order into a :class:`_Fold`. Deadlines are decided in the fold, not
by the handlers: a stage move closes the open ones and asks for a new one, a
flag with a stricter timescale supersedes them, and the new deadline is built
once, from the case as the message leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tracker.kinds import EventKind
from tracker.rules.authority import Standing
from tracker.rules.calendar import WorkingCalendar
from tracker.rules.case import CaseState, Line, OpenDeadline, Trigger
from tracker.rules.deadlines import Deadlines, DueMemo, NewDeadline
from tracker.rules.handlers import HANDLERS, ON_RESOLVED, Context, Step, handler_name, refused
from tracker.rules.notices import Notice, notices_for
from tracker.rules.schema import LoadedRuleFile, RuleFile
from tracker.rules.signals import Signal, Vocabulary

#: The engine's vocabulary: what callers give it and what they get back.
__all__ = ["CaseState", "Effects", "Engine", "NewDeadline", "Notice", "OpenDeadline"]


@dataclass(frozen=True)
class Effects:
    """What one message does to a case, for the intake to write."""

    state: CaseState
    #: When the message that caused these effects reached the mailbox.
    at: datetime
    events: list[Line] = field(default_factory=list)
    #: (deadline key, new state): ``met`` when the stage moved on or the case was
    #: resolved, ``superseded`` when a flag imposed a stricter timescale.
    closed: list[tuple[int, str]] = field(default_factory=list)
    deadlines: list[NewDeadline] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class _Fold:
    """The steps of one message so far."""

    state: CaseState
    #: The case's open deadlines not yet met or superseded by this message.
    live: tuple[OpenDeadline, ...]
    events: tuple[Line, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    closed: tuple[tuple[int, str], ...] = ()
    #: The stage needs a new deadline, counting these flags' overrides (None: it does not).
    #: Only the flags: the track, stage and start times are the case's, as the message leaves it.
    pending: frozenset[str] | None = None


class Engine:
    """One partnership's rule file, ready to apply."""

    def __init__(
        self,
        loaded: LoadedRuleFile,
        extra_closures: Iterable[date] = (),
        staff: Iterable[str] | None = None,
    ) -> None:
        self.loaded = loaded
        self.rule_file: RuleFile = loaded.rule_file
        p = self.rule_file
        self.calendar = WorkingCalendar(p.calendar.settings(extra_closures))
        self.zone = ZoneInfo(p.calendar.timezone)
        self.deadlines = Deadlines(loaded, self.calendar, self.zone)
        flags = {name: f.phrases for name, f in p.flags.items()}
        categories = [(c.maps_to, c.keywords) for c in p.categories]
        # Stage phrases belong to a track: "Head of Service" is level 2 in one of
        # Bedfordshire's case contexts and level 3 in another.
        self.vocabularies = {
            name: Vocabulary.build(
                {st.number: st.phrases for st in track.stages}, flags, categories
            )
            for name, track in p.tracks.items()
        }
        self.vocabulary = self.vocabularies[p.default_track]
        self.staff = frozenset(p.partnership.staff if staff is None else staff)

    def vocabulary_for(self, track: str | None) -> Vocabulary:
        """The phrases of ``track`` (the default track's for a new or unknown one)."""
        return self.vocabularies.get(track or "", self.vocabulary)

    def stage_deadline(self, state: CaseState, at: datetime) -> NewDeadline | None:
        """The deadline of the case's current stage, with any flag override (read at ``at``)."""
        return self.deadlines.stage_deadline(state, at)

    # -- applying mail -------------------------------------------------------

    def open(
        self,
        *,
        reference: str,
        opened_at: datetime,
        raised_by: str,
        signals: Sequence[Signal],
        standing: Standing = Standing.RAISER,
    ) -> Effects:
        """A new case: stage 1 (or the stage the first message names), flags, deadline, notices.

        ``standing`` is the opener's: the raiser, or staff with authenticated origin.
        """
        state = CaseState(
            reference=reference,
            track=self.rule_file.default_track,
            stage=1,
            flags=frozenset(),
            status="open",
            category=None,
            opened_at=opened_at,
            stage_entered_at=opened_at,
            raised_by=raised_by,
        )
        ctx = Context(self.rule_file, raised_by, standing, opened_at, opening=True)
        fold = self._fold(_Fold(state, live=()), signals, ctx, DueMemo(self.calendar))
        state = fold.state
        # Whatever the opening message said (a later stage, a flag with a stricter
        # timescale), the new case has exactly one deadline: its current stage's.
        deadline = self.stage_deadline(state, opened_at) if state.status == "open" else None
        # Opening at a later stage is not a stage change anyone needs telling
        # about twice: the acknowledgement and case_opened notices cover it.
        triggers = [t for t in (("case_opened", None), *fold.triggers) if t[0] != "stage_changed"]
        notices, notified = notices_for(self.rule_file, state, triggers)
        return Effects(
            replace(state, notified=notified),
            opened_at,
            events=[(EventKind.LADDER, self._position(state)), *fold.events],
            deadlines=[deadline] if deadline is not None else [],
            notices=notices,
        )

    def apply(
        self,
        state: CaseState,
        open_deadlines: Sequence[OpenDeadline],
        signals: Sequence[Signal],
        sender: str,
        at: datetime,
        standing: Standing,
    ) -> Effects:
        """A follow-up to an existing case: its signals applied in order.

        ``standing`` is what the sender is to the case (:mod:`tracker.rules.authority`);
        the intake works it out, every handler checks it.
        """
        ctx = Context(self.rule_file, sender, standing, at)
        dues = DueMemo(self.calendar)
        fold = self._fold(_Fold(state, live=tuple(open_deadlines)), signals, ctx, dues)
        deadlines: list[NewDeadline] = []
        if fold.pending is not None:
            counted = replace(fold.state, flags=fold.pending)
            timing = self.deadlines.timing(counted, at, dues)
            if timing is not None:
                deadlines.append(self.deadlines.deadline(counted, timing))
        notices, notified = notices_for(self.rule_file, fold.state, fold.triggers)
        return Effects(
            replace(fold.state, notified=notified),
            at,
            events=list(fold.events),
            closed=list(fold.closed),
            deadlines=deadlines,
            notices=notices,
        )

    # -- the fold ------------------------------------------------------------

    def _fold(self, fold: _Fold, signals: Sequence[Signal], ctx: Context, dues: DueMemo) -> _Fold:
        for sig in signals:
            fold = self._then(fold, self._step(ctx, fold.state, sig), ctx, dues)
        return fold

    @staticmethod
    def _step(ctx: Context, state: CaseState, sig: Signal) -> Step:
        """What ``sig`` does, by its handler; a resolved case takes only status changes."""
        name = handler_name(sig)
        if name not in ON_RESOLVED and state.status == "resolved" and not ctx.opening:
            return refused(
                ctx, sig, "the case is resolved; staff can reopen it with 'Status: open'"
            )
        handler = HANDLERS.get(name)
        return handler(ctx, state, sig) if handler is not None else Step()

    def _then(self, fold: _Fold, step: Step, ctx: Context, dues: DueMemo) -> _Fold:
        """``fold`` followed by ``step``."""
        state = step.state or fold.state
        fold = replace(
            fold,
            state=state,
            events=fold.events + step.events,
            triggers=fold.triggers + ((step.trigger,) if step.trigger else ()),
        )
        if step.close:
            met = tuple((d.key, "met") for d in fold.live)
            fold = replace(fold, closed=fold.closed + met, live=(), pending=None)
        if step.restart:
            fold = replace(fold, pending=state.flags)
        # A new case gets its one deadline at the end, whatever its flags said.
        if step.override is not None and not ctx.opening:
            fold = self._override(fold, step.override, ctx.at, dues)
        return fold

    def _override(self, fold: _Fold, flag: str, at: datetime, dues: DueMemo) -> _Fold:
        """A newly set ``flag`` with a stricter timescale supersedes the current deadlines."""
        stricter = self.deadlines.timing(fold.state, at, dues)
        if stricter is None or stricter.flag is None or stricter.due_at is None:
            return fold
        current = [d.due_at for d in fold.live]
        if fold.pending is not None:
            held = self.deadlines.timing(replace(fold.state, flags=fold.pending), at, dues)
            current += [held.due_at] if held is not None else []
        if current and all(c is not None and c <= stricter.due_at for c in current):
            return fold  # the current deadline is already as strict
        line = f"stricter timescale for flag {flag}: {stricter.explanation}"
        return replace(
            fold,
            closed=fold.closed + tuple((d.key, "superseded") for d in fold.live),
            live=(),
            pending=fold.state.flags,
            events=(*fold.events, (EventKind.DEADLINE, line)),
        )

    def _position(self, state: CaseState) -> str:
        track = self.rule_file.track(state.track)
        stage = track.stage(state.stage)
        name = stage.name if stage else "?"
        return (
            f"{self.rule_file.partnership.short} procedure, track {state.track}: "
            f"stage {state.stage} of {len(track.stages)} ({name})"
        )
