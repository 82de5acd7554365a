"""The engine's handlers, one per signal kind: plain values in, a Step out, nothing computed.

The engine's own tests (``test_engine.py``) pin what a whole message does; these
pin the table and what each handler says about the deadlines, which it
leaves to the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import get_args

import pytest

from tracker.rules.authority import Standing
from tracker.rules.case import CaseState
from tracker.rules.handlers import HANDLERS, ON_RESOLVED, Context, Step, handler_name
from tracker.rules.schema import RuleFile, load_rule_file
from tracker.rules.signals import Kind, Signal

RULES = Path(__file__).resolve().parents[3] / "rules"
AT = datetime(2026, 11, 12, 10, tzinfo=UTC)
OPENED = datetime(2026, 11, 10, 9, tzinfo=UTC)


@cache
def rule_file(name: str) -> RuleFile:
    return load_rule_file(RULES / f"{name}.yaml").rule_file


def ctx(name: str = "llr", *, staff: bool = False) -> Context:
    standing = Standing.STAFF if staff else Standing.RAISER
    return Context(rule_file(name), "sender@example.org", standing, AT)


def state(
    stage: int = 2, *, flags: frozenset[str] = frozenset(), status: str = "open"
) -> CaseState:
    return CaseState("X-2026-0001", "default", stage, flags, status, None, OPENED, OPENED, "r@x")


def step(sig: Signal, st: CaseState | None = None, *, staff: bool = False) -> Step:
    return HANDLERS[handler_name(sig)](ctx(staff=staff), st or state(), sig)


def test_every_signal_kind_has_a_handler() -> None:
    named = {handler_name(Signal(kind, "x", "x", True)) for kind in get_args(Kind)}
    assert named - {"status"} <= set(HANDLERS)
    assert handler_name(Signal("status", "resolved", "w", True)) == "resolve"
    assert handler_name(Signal("status", "open", "w", True)) == "reopen"
    assert {"resolve", "reopen"} <= ON_RESOLVED and "stage" not in ON_RESOLVED


def test_a_stage_move_closes_and_restarts_and_computes_nothing() -> None:
    before = state(2)
    s = step(Signal("stage", "3", "escalating to stage 3", False), before)
    assert s.state is not None and (s.state.stage, s.state.stage_entered_at) == (3, AT)
    assert (s.close, s.restart, s.override, s.trigger) == (
        True,
        True,
        None,
        ("stage_changed", None),
    )
    assert before.stage == 2  # the handler returned a new state, the old one is as it was


def test_a_flag_with_its_own_timescale_asks_for_an_override() -> None:
    s = step(Signal("flag", "significant_harm", "at risk of significant harm", False))
    assert s.state is not None and "significant_harm" in s.state.flags
    assert (s.close, s.restart, s.override) == (False, False, "significant_harm")
    assert s.trigger == ("flag_set", "significant_harm")


def test_resolution_closes_and_asks_for_no_new_deadline() -> None:
    s = step(Signal("status", "resolved", "Status: resolved", True))
    assert s.state is not None and s.state.status == "resolved"
    assert (s.close, s.restart) == (True, False)


def test_reopening_restarts_without_closing() -> None:
    s = step(Signal("status", "open", "Status: open", True), state(status="resolved"), staff=True)
    assert s.state is not None and (s.state.status, s.state.stage_entered_at) == ("open", AT)
    assert (s.close, s.restart) == (False, True)


@pytest.mark.parametrize(
    "sig",
    [
        Signal("stage", "1", "Stage: 1", True),
        Signal("unflag", "significant_harm", "Flag: -significant_harm", True),
        Signal("track", "default", "Track: default", True),
    ],
)
def test_a_refusal_is_one_timeline_line_and_nothing_else(sig: Signal) -> None:
    s = step(sig, state(2, flags=frozenset({"significant_harm"})))
    assert s.state is None and not (s.close or s.restart or s.override or s.trigger)
    [(kind, text)] = s.events
    assert kind == "not-applied" and text.startswith(f'"{sig.words}" from sender@example.org')


def test_nothing_to_do_is_an_empty_step() -> None:
    assert step(Signal("stage", "2", "stage 2", False), state(2)) == Step()
    assert step(Signal("status", "resolved", "w", True), state(status="resolved")) == Step()
