"""Who may change what on a case: the one table, checked in one place.

The intake works out the sender's :class:`Standing` towards the case (from
the case's participants, the partnership's staff and whether the message's
origin was authenticated) and hands it to the engine; every handler in
:mod:`tracker.rules.handlers` asks :func:`may` before it changes anything.
README.md ("Who may change a case") shows the same table to operators.

=====================  =====  ======  ==========  ===========  ========
action                 staff  raiser  challenged  participant  outsider
=====================  =====  ======  ==========  ===========  ========
add information        yes    yes     yes         yes          no
move forward a stage   yes    yes     yes         yes          no
set a flag             yes    yes     yes         yes          no
set a first category   yes    yes     yes         yes          no
resolve                yes    yes     yes         no           no
clear a flag           yes    no      no          no           no
move back a stage      yes    no      no          no           no
reopen                 yes    no      no          no           no
change the track       yes    no      no          no           no
change the category    yes    no      no          no           no
=====================  =====  ======  ==========  ===========  ========

*Staff* means a partnership staff address whose mail came with authenticated
origin (a trusted gateway's ``dmarc=pass`` aligned with From); the same
address without it stands as whatever else it is on the case.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = ["AUTHORITY", "Action", "Standing", "may", "who_may"]


class Standing(StrEnum):
    """What the sender of a message is to the case, strongest first."""

    STAFF = "staff"
    RAISER = "raiser"
    CHALLENGED = "challenged"  # addressed by the escalation: the party it disagrees with
    PARTICIPANT = "participant"  # copied in, or copied in later by a participant
    OUTSIDER = "outsider"


class Action(StrEnum):
    INFORM = "add information"
    MOVE_FORWARD = "move a case forward a stage"
    SET_FLAG = "set a flag"
    SET_CATEGORY = "set a first category"
    RESOLVE = "resolve a case"
    CLEAR_FLAG = "clear a flag"
    MOVE_BACK = "move a case back a stage"
    REOPEN = "reopen a case"
    CHANGE_TRACK = "change the track"
    CHANGE_CATEGORY = "change a category"


_ANY_PARTICIPANT = frozenset(
    {Standing.STAFF, Standing.RAISER, Standing.CHALLENGED, Standing.PARTICIPANT}
)
_STAFF = frozenset({Standing.STAFF})

AUTHORITY: Final[Mapping[Action, frozenset[Standing]]] = MappingProxyType(
    {
        Action.INFORM: _ANY_PARTICIPANT,
        Action.MOVE_FORWARD: _ANY_PARTICIPANT,
        Action.SET_FLAG: _ANY_PARTICIPANT,
        Action.SET_CATEGORY: _ANY_PARTICIPANT,
        Action.RESOLVE: frozenset({Standing.STAFF, Standing.RAISER, Standing.CHALLENGED}),
        Action.CLEAR_FLAG: _STAFF,
        Action.MOVE_BACK: _STAFF,
        Action.REOPEN: _STAFF,
        Action.CHANGE_TRACK: _STAFF,
        Action.CHANGE_CATEGORY: _STAFF,
    }
)

_WHO = {
    _ANY_PARTICIPANT: "a participant of the case",
    _STAFF: "the partnership's staff",
    AUTHORITY[Action.RESOLVE]: "the raiser, the party challenged or the partnership's staff",
}


def may(standing: Standing, action: Action) -> bool:
    """Whether someone of ``standing`` may ``action``."""
    return standing in AUTHORITY[action]


def who_may(action: Action) -> str:
    """Who may ``action``, in words, for a refusal line: "only <who> can <action>"."""
    return _WHO[AUTHORITY[action]]
