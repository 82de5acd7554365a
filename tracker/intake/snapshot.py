"""What the database knows that a batch may ask, loaded before anything is decided.

:func:`tracker.intake.load.load_snapshot` fills a :class:`Snapshot` in a few
queries; :func:`tracker.intake.triage.decide` only reads it. Between two
messages of one batch the driver calls :meth:`Snapshot.advance` with the
decision just made, so a reply right behind its escalation threads into the
case the escalation opened: that is the only place a snapshot changes.

It also implements :class:`tracker.threads.CaseLookup`, in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from tracker.intake.decision import Changes, Decision
from tracker.intake.work import Result
from tracker.rules.engine import CaseState, OpenDeadline

__all__ = ["OUTSIDER_KIND", "CaseView", "Snapshot"]

#: The kind of the business manager's notice about mail from outside a case.
OUTSIDER_KIND = "outsider"


@dataclass(frozen=True)
class CaseView:
    """One case as the batch sees it: enough to thread into it and apply its rules."""

    key: int
    reference: str
    partnership: str
    state: CaseState
    resolved_at: datetime | None = None
    #: Case fields recorded so far: name -> (value, source).
    fields: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: The child's identifiers (name, dob, local_ref), if a child row exists.
    child: Mapping[str, str | None] | None = None
    open_deadlines: tuple[OpenDeadline, ...] = ()
    #: Participants' addresses (lower case) -> role: raiser | addressed | copied | added.
    participants: Mapping[str, str] = field(default_factory=dict)
    #: The stored row's version: the writer refuses a change decided on an older one.
    version: int = 0
    #: Outsiders the business manager has been told about (keys of ``outsider:`` intents).
    outsiders_told: frozenset[str] = frozenset()


@dataclass
class Snapshot:
    """Read-only while deciding; advanced between messages (see the module docstring)."""

    #: Message-ID -> (direction "in" | "out", case key or None).
    by_mid: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    #: Content hash of stored mail without a Message-ID -> case key or None.
    by_hash: dict[str, int | None] = field(default_factory=dict)
    #: Reference -> case key, for every case the batch's mail names.
    by_ref: dict[str, int] = field(default_factory=dict)
    cases: dict[int, CaseView] = field(default_factory=dict)
    #: Automatic mails queued to each address in the last hour (rate limit).
    auto_counts: dict[str, int] = field(default_factory=dict)
    #: Last reference number issued, by (prefix, year).
    sequences: dict[tuple[str, int], int] = field(default_factory=dict)
    #: Raw rows already processed (by another daemon, or earlier in this batch).
    done: dict[int, Result] = field(default_factory=dict)
    next_case_key: int = -1
    next_deadline_key: int = -1

    # -- CaseLookup -----------------------------------------------------------

    def cases_for_message_ids(self, message_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for mid in message_ids:
            found = self.by_mid.get(mid)
            if found is not None and found[1] is not None:
                out[mid] = found[1]
        return out

    def case_for_reference(self, reference: str) -> int | None:
        return self.by_ref.get(reference)

    # -- between two messages -------------------------------------------------

    def advance(self, decision: Decision) -> None:
        """Make a decided message visible to the rest of the batch."""
        self.done[decision.raw_id] = decision.result
        if decision.already_done:
            return
        new = decision.new_case
        c = decision.changes
        if new is not None:
            assert c.case_change is not None
            self.cases[new.key] = CaseView(
                key=new.key,
                reference=new.reference,
                partnership=new.partnership,
                state=c.case_change.state,
            )
            self.by_ref[new.reference] = new.key
            self.sequences[(new.prefix, new.year)] = new.number
            self.next_case_key = min(self.next_case_key, new.key - 1)
        msg = decision.message
        if msg is not None:
            if msg.message_id:
                self.by_mid[msg.message_id] = ("in", msg.case)
            else:
                self.by_hash.setdefault(msg.content_hash, msg.case)
        for mail in c.mails:
            self.by_mid[mail.message_id] = ("out", mail.case)
            if mail.automatic:
                key = mail.to.lower()
                self.auto_counts[key] = self.auto_counts.get(key, 0) + 1
        told = {m.case for m in c.mails if m.kind == OUTSIDER_KIND}
        changed = {f.case for f in c.fields} | {p.case for p in c.participants} | told
        for case_key in changed | _case_of(c):
            self.cases[case_key] = _updated(self.cases[case_key], decision)
        if c.opened:
            self.next_deadline_key = min(self.next_deadline_key, *(d.key - 1 for d in c.opened))


def _case_of(c: Changes) -> set[int]:
    """Every case whose view ``c`` changes, besides through its fields."""
    keys = {d.case for d in c.opened}
    if c.case_change is not None:
        keys.add(c.case_change.case)
    if c.child is not None:
        keys.add(c.child.case)
    if c.child_update is not None:
        keys.add(c.child_update.case)
    return keys


def _updated(view: CaseView, decision: Decision) -> CaseView:
    """``view`` after ``decision``: new state, fields, child and open deadlines."""
    c = decision.changes
    fields = dict(view.fields)
    for f in c.fields:
        if f.case == view.key:
            fields.setdefault(f.name, (f.value, f.source))
    child = view.child
    if c.child is not None and c.child.case == view.key:
        child = c.child.identifiers
    if c.child_update is not None and c.child_update.case == view.key and child is not None:
        child = {**child, **dict(c.child_update.values)}
    closed = {d.key for d in c.closed}
    deadlines = [d for d in view.open_deadlines if d.key not in closed]
    deadlines += [
        OpenDeadline(d.key, d.spec.stage, d.spec.due_at)
        for d in c.opened
        if d.case == view.key and d.key not in closed
    ]
    participants = dict(view.participants)
    for p in c.participants:
        if p.case == view.key:
            participants.setdefault(p.address, p.role)
    told = {m.intent.rpartition(":")[2] for m in c.mails if m.kind == OUTSIDER_KIND}
    out = replace(
        view,
        outsiders_told=view.outsiders_told | told,
        fields=fields,
        child=child,
        open_deadlines=tuple(deadlines),
        participants=participants,
    )
    if c.case_change is not None and c.case_change.case == view.key:
        out = replace(out, state=c.case_change.state, resolved_at=c.case_change.resolved_at)
    return out
