"""Who is part of a case, and what the sender of a message is to it. Pure.

The participants of a case are the people its escalation was sent from, to
and copied to (never the tracker's own mailboxes), and whoever a participant
copies in later. A message's sender then stands as staff (a staff address
with authenticated origin), the raiser, the party challenged (addressed by
the escalation), a participant, or an outsider; what each may do is the
table in :mod:`tracker.rules.authority`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ingest.parse.types import ParsedEmail
from tracker.intake.decision import ParticipantRecord
from tracker.intake.snapshot import CaseView
from tracker.rules.authority import Standing

__all__ = ["copied_in", "escalation_participants", "standing_of"]

#: A case's participants by role, in the order a first mention wins.
_ROLE_STANDING = {
    "raiser": Standing.RAISER,
    "addressed": Standing.CHALLENGED,
    "copied": Standing.PARTICIPANT,
    "added": Standing.PARTICIPANT,
}


def _records(
    case: int, raw_id: int, pairs: Iterable[tuple[str, str]], skip: Collection[str]
) -> tuple[ParticipantRecord, ...]:
    seen: dict[str, str] = {}
    for address, role in pairs:
        address = address.lower()
        if "@" in address and address not in skip and address not in seen:
            seen[address] = role
    return tuple(ParticipantRecord(case, a, r, raw_id) for a, r in seen.items())


def escalation_participants(
    email: ParsedEmail, raised_by: str, *, case: int, raw_id: int, own: Collection[str]
) -> tuple[ParticipantRecord, ...]:
    """The raiser, the sender of a forward, and who the escalation was addressed and copied to."""
    assert email.from_ is not None
    pairs = [(raised_by, "raiser"), (email.from_.addr, "copied")]
    pairs += [(a.addr, "addressed") for a in email.to]
    pairs += [(a.addr, "copied") for a in email.cc]
    return _records(case, raw_id, pairs, own)


def copied_in(
    email: ParsedEmail, view: CaseView, *, raw_id: int, own: Collection[str]
) -> tuple[ParticipantRecord, ...]:
    """People a participant's message adds: its To and Cc who are not participants yet."""
    pairs = [(a.addr, "added") for a in (*email.to, *email.cc)]
    return _records(view.key, raw_id, pairs, {*own, *view.participants})


def standing_of(
    sender: str, view: CaseView, *, staff: Collection[str], authenticated: bool
) -> Standing:
    """What ``sender`` is to the case; staff only when the message's origin was authenticated."""
    sender = sender.lower()
    if authenticated and sender in staff:
        return Standing.STAFF
    if sender == view.state.raised_by.lower():
        return Standing.RAISER
    role = view.participants.get(sender)
    return _ROLE_STANDING.get(role, Standing.PARTICIPANT) if role else Standing.OUTSIDER
