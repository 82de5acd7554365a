"""The rules engine: what a case's new mail means under its partnership's procedure (pure).

:class:`Engine` wraps one loaded rule file with its calendar and vocabulary.
Given a case's state, its open deadlines and the :class:`~tracker.rules.signals.Signal`
values read from a message, it returns :class:`Effects`: the new state, the
timeline lines (each naming the words that triggered it), deadlines to close
and to create, and notifications to queue. It touches no database, mailbox or
clock, so every rule can be tested with plain values and a frozen time; the
intake and the chasers do the writing.

Who may change what:

* anyone's mail may move a case *forward* (a higher stage, a newly set flag,
  a first category, a resolution): that is how practitioners escalate;
* only the partnership's staff (``partnership.staff`` in the rule file) may
  move a case back, clear a flag, reopen it, override a category or change
  its track, by command lines; the same commands from anyone else are
  recorded on the timeline and not applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.rules.calendar import Due, WorkingCalendar
from tracker.rules.schema import KNOWN_FLAGS, TAXONOMY, LoadedRuleFile, RuleFile, Timescale
from tracker.rules.signals import Signal, Vocabulary


@dataclass(frozen=True)
class CaseState:
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
    key: int
    stage: int
    due_at: datetime | None


@dataclass(frozen=True)
class NewDeadline:
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
class Notice:
    """A notification the rules ask for; the intake resolves roles to addresses and renders it."""

    name: str
    key: str
    template: str
    roles: tuple[str, ...]
    content: str
    trigger: str


@dataclass
class Effects:
    state: CaseState
    #: When the message that caused these effects reached the mailbox.
    at: datetime
    events: list[tuple[str, str]] = field(default_factory=list)
    #: (deadline key, new state): ``met`` when the stage moved on or the case was
    #: resolved, ``superseded`` when a flag imposed a stricter timescale.
    closed: list[tuple[int, str]] = field(default_factory=list)
    deadlines: list[NewDeadline] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class Engine:
    """One partnership's procedure, ready to apply."""

    def __init__(
        self,
        loaded: LoadedRuleFile,
        extra_closures: Iterable[date] = (),
        staff: Iterable[str] | None = None,
    ) -> None:
        self.loaded = loaded
        self.rule_file: RuleFile = loaded.rule_file
        self.calendar = WorkingCalendar(self.rule_file.calendar.settings(extra_closures))
        p = self.rule_file
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
        self.zone = ZoneInfo(p.calendar.timezone)

    def vocabulary_for(self, track: str | None) -> Vocabulary:
        """The phrases of ``track`` (the default track's for a new or unknown one)."""
        return self.vocabularies.get(track or "", self.vocabulary)

    # -- deadlines -------------------------------------------------------------

    def _due(self, spec: Timescale, start: datetime) -> Due | None:
        if not spec.computable:
            return None
        return self.calendar.due(start, spec.within, spec.unit or "")

    def stage_deadline(
        self, state: CaseState, at: datetime, *, override_from: datetime | None = None
    ) -> NewDeadline | None:
        """The deadline of the case's current stage, with any flag override applied."""
        track = self.rule_file.track(state.track)
        stage = track.stage(state.stage)
        if stage is None:
            return None
        spec = stage.deadline
        start = state.opened_at if spec.start == "case_opened" else state.stage_entered_at
        path = f"tracks.{state.track}.stages.{stage.number - 1}.deadline"
        due = self._due(spec, start)
        best: tuple[Due | None, str | None, float | None, str, str, datetime, str] = (
            due,
            spec.unit,
            spec.within,
            spec.basis,
            spec.start,
            start,
            path,
        )
        for name in sorted(state.flags):
            flag = self.rule_file.flags.get(name)
            if flag is None or flag.deadline_override is None:
                continue
            o = flag.deadline_override
            o_start = override_from or at
            o_due = self.calendar.due(o_start, o.within, o.unit)
            current = best[0]
            if o_due.due_at is not None and (
                current is None or current.due_at is None or o_due.due_at < current.due_at
            ):
                best = (
                    o_due,
                    o.unit,
                    o.within,
                    o.basis,
                    f"flag:{name}",
                    o_start,
                    f"flags.{name}.deadline_override",
                )
        due, unit, within, basis, start_event, started, path = best
        if due is None:
            what = "no timescale stated" if basis == "not_stated" else f"{spec.term or 'no fixed'}"
            explanation = f"Stage {stage.number}: {what}; no deadline is computed."
        else:
            explanation = f"Stage {stage.number}: {due.explanation}"
        return NewDeadline(
            track=state.track,
            stage=stage.number,
            unit=unit,
            within=within,
            basis=basis,
            start_event=start_event,
            started_at=started,
            due_at=due.due_at if due else None,
            out_of_hours=due.out_of_hours if due else False,
            rule=f"{self.rule_file.id}@{self.loaded.version} {path}",
            explanation=explanation,
            reminder_at=self.reminder_time(due.due_at if due else None, started),
        )

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

    # -- applying mail -------------------------------------------------------

    def open(
        self, *, reference: str, opened_at: datetime, raised_by: str, signals: Sequence[Signal]
    ) -> Effects:
        """A new case: stage 1 (or the stage the first message names), flags, deadline, notices."""
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
        fx = Effects(state, opened_at)
        triggers: list[tuple[str, str | None]] = [("case_opened", None)]
        self._signals(fx, [], signals, raised_by, raised_by in self.staff, opened_at, triggers)
        # Whatever the opening message said (a later stage, a flag with a stricter
        # timescale), the new case has exactly one deadline: its current stage's.
        fx.deadlines.clear()
        if fx.state.status == "open":
            deadline = self.stage_deadline(fx.state, opened_at)
            if deadline is not None:
                fx.deadlines.append(deadline)
        fx.events.insert(0, ("ladder", self._position(fx.state)))
        # Opening at a later stage is not a stage change anyone needs telling
        # about twice: the acknowledgement and case_opened notices cover it.
        self._notify(fx, [t for t in triggers if t[0] != "stage_changed"])
        return fx

    def apply(
        self,
        state: CaseState,
        open_deadlines: Sequence[OpenDeadline],
        signals: Sequence[Signal],
        sender: str,
        at: datetime,
    ) -> Effects:
        fx = Effects(state, at)
        triggers: list[tuple[str, str | None]] = []
        self._signals(fx, open_deadlines, signals, sender, sender in self.staff, at, triggers)
        self._notify(fx, triggers)
        return fx

    def _position(self, state: CaseState) -> str:
        track = self.rule_file.track(state.track)
        stage = track.stage(state.stage)
        name = stage.name if stage else "?"
        return (
            f"{self.rule_file.partnership.short} procedure, track {state.track}: "
            f"stage {state.stage} of {len(track.stages)} ({name})"
        )

    def _signals(
        self,
        fx: Effects,
        open_deadlines: Sequence[OpenDeadline],
        signals: Sequence[Signal],
        sender: str,
        staff: bool,
        at: datetime,
        triggers: list[tuple[str, str | None]],
    ) -> None:
        who = f"staff: {sender}" if staff else sender
        opening = any(t == "case_opened" for t, _ in triggers)
        live = list(open_deadlines)

        def refuse(sig: Signal, why: str) -> None:
            fx.events.append(("not-applied", f'"{sig.words}" from {sender} not applied: {why}'))

        def how(sig: Signal) -> str:
            return f'{"command" if sig.command else "read from mail"} "{sig.words}" ({who})'

        for sig in signals:
            st = fx.state
            if sig.kind == "status":
                if sig.value == "resolved" and st.status != "resolved":
                    self._close_all(fx, live)
                    live = []
                    fx.state = replace(fx.state, status="resolved")
                    fx.events.append(("resolved", f"case resolved: {how(sig)}"))
                    triggers.append(("resolved", None))
                elif sig.value == "open" and st.status == "resolved":
                    if not staff:
                        refuse(sig, "only the partnership's staff can reopen a case")
                        continue
                    fx.state = replace(fx.state, status="open", stage_entered_at=at)
                    fx.events.append(("reopened", f"case reopened: {how(sig)}"))
                    d = self.stage_deadline(fx.state, at)
                    if d is not None:
                        fx.deadlines.append(d)
                continue
            if st.status == "resolved" and not opening:
                refuse(sig, "the case is resolved; staff can reopen it with 'Status: open'")
                continue
            if sig.kind == "stage":
                self._stage(fx, sig, live, staff, at, triggers, refuse, how)
                if any(t == "stage_changed" for t, _ in triggers):
                    live = []
            elif sig.kind == "flag":
                if sig.value not in self.rule_file.flags and sig.value not in KNOWN_FLAGS:
                    refuse(sig, f"no flag named {sig.value!r} in this procedure")
                elif sig.value not in st.flags:
                    fx.state = replace(st, flags=st.flags | {sig.value})
                    label = (
                        self.rule_file.flags[sig.value].label
                        if sig.value in self.rule_file.flags
                        else sig.value
                    )
                    fx.events.append(("flag-set", f"flag {sig.value} ({label}) set: {how(sig)}"))
                    advice = self.rule_file.flags.get(sig.value)
                    if advice is not None and advice.advice:
                        fx.events.append(("advice", advice.advice))
                    triggers.append(("flag_set", sig.value))
                    live = self._apply_override(fx, live, sig.value, at, opening)
            elif sig.kind == "unflag":
                if not staff:
                    refuse(sig, "only the partnership's staff can clear a flag")
                elif sig.value in st.flags:
                    fx.state = replace(st, flags=st.flags - {sig.value})
                    fx.events.append(("flag-cleared", f"flag {sig.value} cleared: {how(sig)}"))
            elif sig.kind == "category":
                cat = self.rule_file.category(sig.value)
                value = cat.maps_to if cat else (sig.value if sig.value in TAXONOMY else None)
                if value is None:
                    refuse(sig, "not a category of this procedure or of the shared taxonomy")
                elif st.category == value:
                    continue
                elif st.category is not None and not staff:
                    if sig.command:
                        refuse(sig, "only the partnership's staff can change a category")
                else:
                    fx.state = replace(st, category=value)
                    fx.events.append(("category", f"category {value}: {how(sig)}"))
            elif sig.kind == "track":
                if not staff:
                    refuse(sig, "only the partnership's staff can change the track")
                elif sig.value not in self.rule_file.tracks:
                    refuse(sig, f"no track {sig.value!r} in this procedure")
                elif sig.value != st.track:
                    self._close_all(fx, live)
                    live = []
                    fx.state = replace(st, track=sig.value, stage=1, stage_entered_at=at)
                    fx.events.append(("track", f"track {sig.value}, stage 1: {how(sig)}"))
                    triggers.append(("stage_changed", None))
                    d = self.stage_deadline(fx.state, at)
                    if d is not None:
                        fx.deadlines.append(d)

    def _stage(
        self,
        fx: Effects,
        sig: Signal,
        live: Sequence[OpenDeadline],
        staff: bool,
        at: datetime,
        triggers: list[tuple[str, str | None]],
        refuse: Callable[[Signal, str], None],
        how: Callable[[Signal], str],
    ) -> None:
        st = fx.state
        number = int(sig.value)
        track = self.rule_file.track(st.track)
        if track.stage(number) is None:
            refuse(sig, f"track {st.track} has stages 1 to {len(track.stages)}")
            return
        if number == st.stage:
            return
        if number < st.stage and not (staff and sig.command):
            if sig.command:
                refuse(sig, "only the partnership's staff can move a case back a stage")
            return
        self._close_all(fx, live)
        fx.state = replace(st, stage=number, stage_entered_at=at)
        fx.events.append(
            (
                "stage",
                f"stage {st.stage} → {number} ({track.stages[number - 1].name}): {how(sig)}",
            )
        )
        triggers.append(("stage_changed", None))
        d = self.stage_deadline(fx.state, at)
        if d is not None:
            fx.deadlines.append(d)

    def _close_all(self, fx: Effects, live: Sequence[OpenDeadline]) -> None:
        for d in live:
            fx.closed.append((d.key, "met"))
        # Deadlines created earlier in this same message are simply dropped.
        fx.deadlines.clear()

    def _apply_override(
        self,
        fx: Effects,
        live: list[OpenDeadline],
        flag: str,
        at: datetime,
        opening: bool,
    ) -> list[OpenDeadline]:
        """A newly set flag with a stricter timescale supersedes the current deadline."""
        spec = self.rule_file.flags.get(flag)
        if spec is None or spec.deadline_override is None:
            return live
        candidate = self.stage_deadline(fx.state, at, override_from=at)
        if candidate is None or not candidate.start_event.startswith("flag:"):
            return live
        override_due = candidate.due_at
        assert override_due is not None  # an override is only chosen with a due time
        current = [d.due_at for d in live] + [d.due_at for d in fx.deadlines]
        if current and all(c is not None and c <= override_due for c in current):
            return live  # the current deadline is already as strict
        for d in live:
            fx.closed.append((d.key, "superseded"))
        fx.deadlines.clear()
        if not opening:
            fx.deadlines.append(candidate)
            fx.events.append(
                ("deadline", f"stricter timescale for flag {flag}: {candidate.explanation}")
            )
        return []

    # -- notifications ---------------------------------------------------------

    def _notify(self, fx: Effects, triggers: Sequence[tuple[str, str | None]]) -> None:
        state = fx.state
        seen = set(state.notified)
        for name, note in self.rule_file.notifications.items():
            fired = None
            for trig, flag in triggers:
                if trig == "flag_set":
                    flag_spec = self.rule_file.flags.get(flag or "")
                    listed = flag_spec is not None and name in flag_spec.notify
                    if not (listed or ("flag_set" in note.on and flag in note.when_flags_any)):
                        continue
                elif trig not in note.on:
                    continue
                fired = trig
                break
            if fired is None:
                continue
            if note.stages and state.stage not in note.stages:
                continue
            if note.when_flags_any and not (state.flags & set(note.when_flags_any)):
                continue
            key = f"{name}:resolved" if fired == "resolved" else f"{name}:s{state.stage}"
            if key in seen:
                continue
            seen.add(key)
            fx.notices.append(Notice(name, key, note.template, tuple(note.to), note.content, fired))
        fx.state = replace(state, notified=frozenset(seen))
