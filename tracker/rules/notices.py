"""Who is told: the notifications a message's changes set off under a rule file (pure).

A notification fires on one of its triggers (``case_opened``, ``stage_changed``,
``flag_set`` for a flag that lists it or one of its ``when_flags_any``,
``resolved``), at the stages it names, while one of its flags is set. Each is
sent once per stage (``<name>:s<stage>``, or ``<name>:resolved``): the keys
already used travel with the case, so a repeated flag or a second message at
the same stage tells nobody twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.rules.case import CaseState, Trigger
from tracker.rules.schema import RuleFile
from tracker.rules.sections import Notification

__all__ = ["Notice", "notices_for"]


@dataclass(frozen=True)
class Notice:
    """A notification the rules ask for; the intake resolves roles to addresses and renders it."""

    name: str
    key: str
    template: str
    roles: tuple[str, ...]
    content: str
    trigger: str


def _fired(
    rule_file: RuleFile, name: str, note: Notification, triggers: Sequence[Trigger]
) -> str | None:
    """The first of ``triggers`` that sets off notification ``name``, if any."""
    for trigger, flag in triggers:
        if trigger == "flag_set":
            flag_spec = rule_file.flags.get(flag or "")
            listed = flag_spec is not None and name in flag_spec.notify
            if listed or ("flag_set" in note.on and flag in note.when_flags_any):
                return trigger
        elif trigger in note.on:
            return trigger
    return None


def notices_for(
    rule_file: RuleFile, state: CaseState, triggers: Sequence[Trigger]
) -> tuple[list[Notice], frozenset[str]]:
    """The notices ``triggers`` set off for a case now in ``state``; its new ``notified`` keys."""
    seen = set(state.notified)
    notices: list[Notice] = []
    for name, note in rule_file.notifications.items():
        fired = _fired(rule_file, name, note, triggers)
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
        notices.append(Notice(name, key, note.template, tuple(note.to), note.content, fired))
    return notices, frozenset(seen)
