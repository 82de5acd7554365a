"""What each kind of signal does to a case: one small named handler per kind, in a table.

A handler takes plain values (the :class:`Context` of the message, the case's
current state, one signal) and returns a :class:`Step`: the new state, the
timeline lines, the trigger for notifications, and what happens to the stage's
deadlines, said in words (``close``, ``restart``, ``override``) rather than
done. It mutates nothing and computes no deadline: :class:`~tracker.rules.engine.Engine`
folds the steps of a message in order and works out the deadlines once.

Who may change what:

* anyone's mail may move a case *forward* (a higher stage, a newly set flag,
  a first category, a resolution): that is how practitioners escalate;
* only the partnership's staff may move a case back, clear a flag, reopen it,
  override a category or change its track, by command lines; the same
  commands from anyone else are recorded on the timeline and not applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final

from tracker.kinds import EventKind
from tracker.rules.case import CaseState, Line, Trigger
from tracker.rules.schema import KNOWN_FLAGS, TAXONOMY, RuleFile
from tracker.rules.signals import Signal

__all__ = ["HANDLERS", "ON_RESOLVED", "Context", "Handler", "Step", "handler_name"]


@dataclass(frozen=True)
class Context:
    """The message being applied: whose it is and when it arrived."""

    rule_file: RuleFile
    sender: str
    #: The sender is one of the partnership's staff: their commands are authoritative.
    staff: bool
    at: datetime
    #: The message opens the case (its signals apply even after a resolution in it).
    opening: bool = False

    def how(self, sig: Signal) -> str:
        """How the timeline credits a change: the words, and who wrote them."""
        who = f"staff: {self.sender}" if self.staff else self.sender
        return f'{"command" if sig.command else "read from mail"} "{sig.words}" ({who})'


@dataclass(frozen=True)
class Step:
    """What one signal does; an empty Step changes nothing."""

    #: The case's new state (None: unchanged).
    state: CaseState | None = None
    events: tuple[Line, ...] = ()
    trigger: Trigger | None = None
    #: The stage is over: its open deadlines are met, any made earlier in this message dropped.
    close: bool = False
    #: The stage's clock starts again: the stage needs a new deadline.
    restart: bool = False
    #: A newly set flag with its own timescale, which may supersede the current deadline.
    override: str | None = None


Handler = Callable[[Context, CaseState, Signal], Step]


def refused(ctx: Context, sig: Signal, why: str) -> Step:
    """A signal recorded on the timeline and not applied."""
    line = f'"{sig.words}" from {ctx.sender} not applied: {why}'
    return Step(events=((EventKind.NOT_APPLIED, line),))


def resolve(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if state.status == "resolved":
        return Step()
    return Step(
        state=replace(state, status="resolved"),
        events=((EventKind.RESOLVED, f"case resolved: {ctx.how(sig)}"),),
        trigger=("resolved", None),
        close=True,
    )


def reopen(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if state.status != "resolved":
        return Step()
    if not ctx.staff:
        return refused(ctx, sig, "only the partnership's staff can reopen a case")
    return Step(
        state=replace(state, status="open", stage_entered_at=ctx.at),
        events=((EventKind.REOPENED, f"case reopened: {ctx.how(sig)}"),),
        restart=True,
    )


def move_stage(ctx: Context, state: CaseState, sig: Signal) -> Step:
    number = int(sig.value)
    track = ctx.rule_file.track(state.track)
    stage = track.stage(number)
    if stage is None:
        return refused(ctx, sig, f"track {state.track} has stages 1 to {len(track.stages)}")
    if number == state.stage:
        return Step()
    if number < state.stage and not (ctx.staff and sig.command):
        if sig.command:
            return refused(ctx, sig, "only the partnership's staff can move a case back a stage")
        return Step()
    line = f"stage {state.stage} → {number} ({stage.name}): {ctx.how(sig)}"
    return Step(
        state=replace(state, stage=number, stage_entered_at=ctx.at),
        events=((EventKind.STAGE, line),),
        trigger=("stage_changed", None),
        close=True,
        restart=True,
    )


def set_flag(ctx: Context, state: CaseState, sig: Signal) -> Step:
    flag = ctx.rule_file.flags.get(sig.value)
    if flag is None and sig.value not in KNOWN_FLAGS:
        return refused(ctx, sig, f"no flag named {sig.value!r} in this procedure")
    if sig.value in state.flags:
        return Step()
    label = flag.label if flag is not None else sig.value
    events: tuple[Line, ...] = (
        (EventKind.FLAG_SET, f"flag {sig.value} ({label}) set: {ctx.how(sig)}"),
    )
    if flag is not None and flag.advice:
        events += ((EventKind.ADVICE, flag.advice),)
    return Step(
        state=replace(state, flags=state.flags | {sig.value}),
        events=events,
        trigger=("flag_set", sig.value),
        override=sig.value if flag is not None and flag.deadline_override is not None else None,
    )


def clear_flag(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if not ctx.staff:
        return refused(ctx, sig, "only the partnership's staff can clear a flag")
    if sig.value not in state.flags:
        return Step()
    return Step(
        state=replace(state, flags=state.flags - {sig.value}),
        events=((EventKind.FLAG_CLEARED, f"flag {sig.value} cleared: {ctx.how(sig)}"),),
    )


def set_category(ctx: Context, state: CaseState, sig: Signal) -> Step:
    local = ctx.rule_file.category(sig.value)
    value = local.maps_to if local else (sig.value if sig.value in TAXONOMY else None)
    if value is None:
        return refused(ctx, sig, "not a category of this procedure or of the shared taxonomy")
    if state.category == value:
        return Step()
    if state.category is not None and not ctx.staff:
        if sig.command:
            return refused(ctx, sig, "only the partnership's staff can change a category")
        return Step()
    return Step(
        state=replace(state, category=value),
        events=((EventKind.CATEGORY, f"category {value}: {ctx.how(sig)}"),),
    )


def change_track(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if not ctx.staff:
        return refused(ctx, sig, "only the partnership's staff can change the track")
    if sig.value not in ctx.rule_file.tracks:
        return refused(ctx, sig, f"no track {sig.value!r} in this procedure")
    if sig.value == state.track:
        return Step()
    return Step(
        state=replace(state, track=sig.value, stage=1, stage_entered_at=ctx.at),
        events=((EventKind.TRACK, f"track {sig.value}, stage 1: {ctx.how(sig)}"),),
        trigger=("stage_changed", None),
        close=True,
        restart=True,
    )


#: Handler name -> handler. A signal's handler is named by :func:`handler_name`.
HANDLERS: Final[Mapping[str, Handler]] = MappingProxyType(
    {
        "resolve": resolve,
        "reopen": reopen,
        "stage": move_stage,
        "flag": set_flag,
        "unflag": clear_flag,
        "category": set_category,
        "track": change_track,
    }
)

#: Handlers that act on a resolved case; any other signal there is refused (unless it
#: is in the message that opens the case). ``status`` with another value does nothing.
ON_RESOLVED: Final = frozenset({"resolve", "reopen", "status"})

_STATUS: Final = {"resolved": "resolve", "open": "reopen"}


def handler_name(sig: Signal) -> str:
    """The name of the handler for ``sig``: its kind, or for a status what it asks for."""
    return _STATUS.get(sig.value, "status") if sig.kind == "status" else sig.kind
