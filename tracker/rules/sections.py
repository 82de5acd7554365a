"""The sections of a rule file: partnership, provenance, calendar, roles, tracks and stages,
flags, notifications and chasers (pydantic models, pure).

Each is frozen and forbids keys it does not know (``extra="forbid"``), so a
misspelt key in ``rules/<partnership>.yaml`` is an error rather than a silently
ignored setting. The whole file, its shared category taxonomy and its loader
are in :mod:`tracker.rules.schema`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tracker.rules.calendar import CalendarSettings

Unit = Literal[
    "working_days", "same_working_day", "hours", "immediate", "calendar_days", "qualitative"
]
#: ``stated``: the procedure gives it; ``inferred``: read from its structure;
#: ``local_setting``: a prompt the partnership asked for, with no procedural basis;
#: ``not_stated``: the procedure gives no timescale and none is invented.
Basis = Literal["stated", "inferred", "local_setting", "not_stated"]
BaseEvent = Literal["case_opened", "stage_entered"]
Trigger = Literal["case_opened", "stage_changed", "flag_set", "resolved"]
Content = Literal["identifiers", "metadata"]

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Section(BaseModel):
    """A part of a rule file: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: str) -> time:
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValueError(f"{value!r} is not a time of day like '17:00'") from None


class Provenance(Section):
    """Where the rules come from, so a reviewer can check them against the document."""

    document: str
    seed: str | None = None
    version: str | None = None
    approved: date | None = None
    review_due: date | None = None
    status: Literal["current", "historical", "draft"]
    incomplete: bool = False
    notes: list[str] = Field(default_factory=list)


class PartnershipSection(Section):
    name: str
    short: str
    reference_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
    #: Addresses that receive this partnership's escalations: a shared intake
    #: mailbox tells partnerships apart by which of these a message was sent to.
    addresses: list[str] = Field(min_length=1)
    domains: list[str] = Field(default_factory=list)
    #: Staff who may steer a case by replying with command lines.
    staff: list[str] = Field(default_factory=list)

    @field_validator("addresses", "staff")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for v in values:
            if not _ADDRESS.match(v):
                raise ValueError(f"{v!r} is not an email address")
        return [v.lower() for v in values]


class BusinessHours(Section):
    start: str = "09:00"
    end: str = "17:00"
    friday_end: str | None = None

    @model_validator(mode="after")
    def _times(self) -> BusinessHours:
        start, end = _clock(self.start), _clock(self.end)
        if start >= end:
            raise ValueError("business hours must start before they end")
        if self.friday_end is not None and _clock(self.friday_end) <= start:
            raise ValueError("friday_end must be after start")
        return self


class Calendar(Section):
    #: python-holidays subdivision; always passed (without it English holidays
    #: such as Easter Monday are missing).
    nation: Literal["ENG", "WLS", "SCT", "NIR"]
    timezone: Literal["Europe/London"] = "Europe/London"
    business_hours: BusinessHours = BusinessHours()
    #: "same working day" after this local time means the next working day.
    same_day_cutoff: str | None = None
    hours_policy: Literal["clock", "working_day_equivalent"] = "clock"
    extra_closures: list[date] = Field(default_factory=list)

    @field_validator("same_day_cutoff")
    @classmethod
    def _cutoff(cls, value: str | None) -> str | None:
        if value is not None:
            _clock(value)
        return value

    def settings(self, extra_closures: Iterable[date] = ()) -> CalendarSettings:
        hours = self.business_hours
        return CalendarSettings(
            subdiv=self.nation,
            timezone=self.timezone,
            business_start=_clock(hours.start),
            business_end=_clock(hours.end),
            friday_end=_clock(hours.friday_end) if hours.friday_end else None,
            same_day_cutoff=_clock(self.same_day_cutoff) if self.same_day_cutoff else None,
            extra_closures=tuple(sorted({*self.extra_closures, *extra_closures})),
            hours_policy=self.hours_policy,
        )


class Role(Section):
    label: str
    #: A role mailbox (never a person's address); None when the procedure names none.
    mailbox: str | None = None
    #: Mail to this role may carry a child's identifiers (only over a secure route).
    secure: bool = False

    @field_validator("mailbox")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value.lower() if value else value


class Timescale(Section):
    """A stage's timescale. ``basis: not_stated`` carries no number: none is invented."""

    within: float | None = None
    unit: Unit | None = None
    #: What the time runs from: ``stage_entered`` chains stages (Solihull);
    #: ``case_opened`` makes them cumulative (Bedfordshire's 24/36/48 h).
    start: BaseEvent = Field(default="stage_entered", alias="from")
    basis: Basis
    term: str | None = None
    quote: str | None = None
    note: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _shape(self) -> Timescale:
        if self.basis == "not_stated":
            if self.within is not None or self.unit not in (None, "qualitative"):
                raise ValueError("basis 'not_stated' takes no timescale: invent none")
            return self
        if self.unit is None:
            raise ValueError("a deadline needs 'unit' (or basis: not_stated)")
        if self.unit == "qualitative":
            if self.within is not None:
                raise ValueError("a qualitative deadline has no 'within'; give 'term'")
            if not self.term:
                raise ValueError("a qualitative deadline needs 'term'")
        elif self.unit in ("same_working_day", "immediate"):
            if self.within not in (None, 0):
                raise ValueError(f"unit {self.unit!r} takes no 'within' (or 0)")
        elif self.within is None or self.within <= 0:
            raise ValueError(f"unit {self.unit!r} needs a positive 'within'")
        elif self.unit == "working_days" and self.within != int(self.within):
            raise ValueError("working_days must be a whole number")
        return self

    @property
    def computable(self) -> bool:
        return self.unit is not None and self.unit != "qualitative"


class Stage(Section):
    number: int = Field(ge=1)
    name: str
    actors: list[str] = Field(min_length=1)
    deadline: Timescale
    #: Phrases that, in a reply, mean the case has moved to this stage
    #: ("referring to the Head of Service"); "stage N" is always understood.
    phrases: list[str] = Field(default_factory=list)
    advice: str | None = None


class Track(Section):
    label: str
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbered(self) -> Track:
        numbers = [s.number for s in self.stages]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"stages must be numbered 1..{len(numbers)} in order, got {numbers}")
        return self

    def stage(self, number: int) -> Stage | None:
        return self.stages[number - 1] if 1 <= number <= len(self.stages) else None


class Override(Section):
    """A flag that shortens the current stage's timescale (e.g. LLR: same working day)."""

    within: float | None = None
    unit: Unit
    basis: Basis


class Flag(Section):
    label: str
    notify: list[str] = Field(default_factory=list)
    deadline_override: Override | None = None
    advice: str | None = None
    #: Extra phrases (beyond the built-in ones) that set this flag.
    phrases: list[str] = Field(default_factory=list)


class Notification(Section):
    """Who is told, on which events, with which template and content class."""

    to: list[str] = Field(min_length=1)
    on: list[Trigger] = Field(min_length=1)
    template: str
    #: ``identifiers``: may name the child, so only ever to a secure-domain
    #: address (others get the metadata version); ``metadata``: reference, stage, due.
    content: Content = "metadata"
    #: Only at these stage numbers (empty: any stage).
    stages: list[int] = Field(default_factory=list)
    #: Only while one of these flags is set (empty: always).
    when_flags_any: list[str] = Field(default_factory=list)
    basis: Basis = "stated"
    quote: str | None = None


class Reminder(Section):
    #: ``due_day``: at the start of business on the day a deadline falls due;
    #: ``hours_before``: that many hours before it.
    when: Literal["due_day", "hours_before"] = "due_day"
    hours: float | None = None
    to: list[str] = Field(default_factory=lambda: ["raiser"])

    @model_validator(mode="after")
    def _hours(self) -> Reminder:
        if self.when == "hours_before" and not (self.hours and self.hours > 0):
            raise ValueError("when: hours_before needs a positive 'hours'")
        return self


class Chasers(Section):
    reminder: Reminder | None = Reminder()
    overdue_to: list[str] = Field(default_factory=lambda: ["raiser", "business_manager"])
    #: Daily overdue roll-up to these roles at the start of business.
    rollup_to: list[str] = Field(default_factory=lambda: ["business_manager"])
