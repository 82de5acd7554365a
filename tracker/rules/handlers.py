"""What each kind of signal does to a case: one small named handler per kind, in a table.

A handler takes plain values (the :class:`Context` of the message, the case's
current state, one signal) and returns a :class:`Step`: the new state, the
timeline lines, the trigger for notifications, and what happens to the stage's
deadlines, said in words (``close``, ``restart``, ``override``) rather than
done. It mutates nothing and computes no deadline: :class:`~tracker.rules.engine.Engine`
folds the steps of a message in order and works out the deadlines once.

Who may change what is :mod:`tracker.rules.authority`'s table: each handler
asks :func:`~tracker.rules.authority.may` with the sender's standing before it
changes anything, and what is refused is one ``not-applied`` line that names
the command's kind and value only when the value is one the procedure knows
(free text from a message, such as ``Flag: <a child's name>``, never reaches
the append-only timeline).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final

from tracker.kinds import EventKind
from tracker.rules.authority import Action, Standing, may, who_may
from tracker.rules.case import CaseState, Line, Trigger
from tracker.rules.schema import KNOWN_FLAGS, TAXONOMY, RuleFile
from tracker.rules.signals import Signal

__all__ = [
    "HANDLERS",
    "ON_RESOLVED",
    "Context",
    "Handler",
    "Step",
    "handler_name",
    "not_allowed",
    "refused",
]


@dataclass(frozen=True)
class Context:
    """The message being applied: whose it is and when it arrived."""

    rule_file: RuleFile
    sender: str
    #: What the sender is to the case (staff only with authenticated origin).
    standing: Standing
    at: datetime
    #: The message opens the case (its signals apply even after a resolution in it).
    opening: bool = False

    @property
    def staff(self) -> bool:
        return self.standing is Standing.STAFF

    def may(self, action: Action) -> bool:
        return may(self.standing, action)

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


def refused(ctx: Context, sig: Signal, why: str, *, known: bool = True) -> Step:
    """A signal recorded on the timeline and not applied.

    ``known`` is False when the signal's value is not one the procedure knows:
    then the line says "unknown value" instead of quoting the message.
    """
    what = f'"{sig.words}"' if known else f"{sig.kind} command (unknown value)"
    line = f"{what} from {ctx.sender} not applied: {why}"
    return Step(events=((EventKind.NOT_APPLIED, line),))


def not_allowed(ctx: Context, sig: Signal, action: Action) -> Step:
    """Refused by the authority table."""
    return refused(ctx, sig, f"only {who_may(action)} can {action}")


def resolve(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if state.status == "resolved":
        return Step()
    if not ctx.may(Action.RESOLVE):
        return not_allowed(ctx, sig, Action.RESOLVE)
    return Step(
        state=replace(state, status="resolved"),
        events=((EventKind.RESOLVED, f"case resolved: {ctx.how(sig)}"),),
        trigger=("resolved", None),
        close=True,
    )


def reopen(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if state.status != "resolved":
        return Step()
    if not ctx.may(Action.REOPEN):
        return not_allowed(ctx, sig, Action.REOPEN)
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
        return refused(
            ctx, sig, f"track {state.track} has stages 1 to {len(track.stages)}", known=False
        )
    if number == state.stage:
        return Step()
    if number < state.stage and not (ctx.may(Action.MOVE_BACK) and sig.command):
        if sig.command:
            return not_allowed(ctx, sig, Action.MOVE_BACK)
        return Step()
    if number > state.stage and not ctx.may(Action.MOVE_FORWARD):
        return not_allowed(ctx, sig, Action.MOVE_FORWARD)
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
        return refused(ctx, sig, "no such flag in this procedure", known=False)
    if sig.value in state.flags:
        return Step()
    if not ctx.may(Action.SET_FLAG):
        return not_allowed(ctx, sig, Action.SET_FLAG)
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
    if not ctx.may(Action.CLEAR_FLAG):
        return not_allowed(ctx, sig, Action.CLEAR_FLAG)
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
        return refused(
            ctx, sig, "not a category of this procedure or of the shared taxonomy", known=False
        )
    if state.category == value:
        return Step()
    action = Action.SET_CATEGORY if state.category is None else Action.CHANGE_CATEGORY
    if not ctx.may(action):
        return not_allowed(ctx, sig, action) if sig.command else Step()
    return Step(
        state=replace(state, category=value),
        events=((EventKind.CATEGORY, f"category {value}: {ctx.how(sig)}"),),
    )


def change_track(ctx: Context, state: CaseState, sig: Signal) -> Step:
    if not ctx.may(Action.CHANGE_TRACK):
        return not_allowed(ctx, sig, Action.CHANGE_TRACK)
    if sig.value not in ctx.rule_file.tracks:
        return refused(ctx, sig, "no such track in this procedure", known=False)
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
