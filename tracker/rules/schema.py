"""Escalation procedures as data: the schema of ``rules/<partnership>.yaml`` and its loader.

Each partnership's procedure (its ladder of stages and timescales, its flags,
who is told what and when, its calendar) is a YAML file that a business
manager can read and a reviewer can check against the source document. This
module only describes and validates those files (pydantic, ``extra="forbid"``
so a misspelt key is an error, not a silently ignored setting); the engine
that acts on them is :mod:`tracker.rules.engine`, the arithmetic
:mod:`tracker.rules.calendar`.

Errors name the file and the key path (``rules/hull.yaml: tracks.default.stages.2.deadline.unit:
Input should be ...``) so ``tracker rules check`` can list every one of them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracker.errors import ConfigError
from tracker.rules.calendar import CalendarSettings

SCHEMA = "escalation-tracker/rules/v1"

#: The shared category taxonomy (spec §1.7): every local category maps to one of these,
#: so themes can be compared across partnerships.
TAXONOMY = (
    "thresholds",
    "assessment_outcome",
    "plan_adequacy",
    "decision_making",
    "roles_responsibilities",
    "service_provision",
    "funding_commissioning",
    "information_sharing_communication",
    "action_or_inaction",
    "cp_process",
    "case_closure",
    "professional_philosophy",
    "post_meeting_dissent",
    "other",
)

#: Flags the tracker reads from mail text itself (see :mod:`tracker.rules.signals`).
KNOWN_FLAGS = (
    "significant_harm",
    "immediate_danger",
    "cp_plan",
    "looked_after",
    "csc_is_subject",
    "nai_infant",
    "intra_agency",
    "cp_conference_dissent",
    "professional_conduct",
    "policy_gap",
)

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

_ID = r"^[a-z][a-z0-9_]*$"
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: str) -> time:
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValueError(f"{value!r} is not a time of day like '17:00'") from None


class Provenance(_Strict):
    """Where the rules come from, so a reviewer can check them against the document."""

    document: str
    seed: str | None = None
    version: str | None = None
    approved: date | None = None
    review_due: date | None = None
    status: Literal["current", "historical", "draft"]
    incomplete: bool = False
    notes: list[str] = Field(default_factory=list)


class PartnershipSection(_Strict):
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


class BusinessHours(_Strict):
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


class Calendar(_Strict):
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


class Role(_Strict):
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


class Timescale(_Strict):
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


class Stage(_Strict):
    number: int = Field(ge=1)
    name: str
    actors: list[str] = Field(min_length=1)
    deadline: Timescale
    #: Phrases that, in a reply, mean the case has moved to this stage
    #: ("referring to the Head of Service"); "stage N" is always understood.
    phrases: list[str] = Field(default_factory=list)
    advice: str | None = None


class Track(_Strict):
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


class Override(_Strict):
    """A flag that shortens the current stage's timescale (e.g. LLR: same working day)."""

    within: float | None = None
    unit: Unit
    basis: Basis


class Flag(_Strict):
    label: str
    notify: list[str] = Field(default_factory=list)
    deadline_override: Override | None = None
    advice: str | None = None
    #: Extra phrases (beyond the built-in ones) that set this flag.
    phrases: list[str] = Field(default_factory=list)


class Notification(_Strict):
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


class Category(_Strict):
    id: Annotated[str, Field(pattern=_ID)]
    label: str
    maps_to: Literal[TAXONOMY]  # type: ignore[valid-type]
    keywords: list[str] = Field(default_factory=list)


class Reminder(_Strict):
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


class Chasers(_Strict):
    reminder: Reminder | None = Reminder()
    overdue_to: list[str] = Field(default_factory=lambda: ["raiser", "business_manager"])
    #: Daily overdue roll-up to these roles at the start of business.
    rollup_to: list[str] = Field(default_factory=lambda: ["business_manager"])


class RuleFile(_Strict):
    """One partnership's escalation procedure (one ``rules/<id>.yaml``)."""

    schema_: Literal["escalation-tracker/rules/v1"] = Field(alias="schema")
    id: Annotated[str, Field(pattern=_ID)]
    title: str
    partnership: PartnershipSection
    provenance: Provenance
    calendar: Calendar
    roles: dict[str, Role]
    tracks: dict[str, Track] = Field(min_length=1)
    default_track: str
    flags: dict[str, Flag] = Field(default_factory=dict)
    notifications: dict[Annotated[str, Field(pattern=_ID, max_length=24)], Notification] = Field(
        default_factory=dict
    )
    categories: list[Category] = Field(default_factory=list)
    chasers: Chasers = Chasers()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # -- convenience for the engine ------------------------------------------

    def track(self, name: str | None) -> Track:
        return self.tracks.get(name or self.default_track) or self.tracks[self.default_track]

    def category(self, value: str) -> Category | None:
        """A local id, a local label or a taxonomy id (the first local one mapping to it)."""
        v = value.strip().lower()
        for c in self.categories:
            if v in (c.id, c.label.lower()):
                return c
        for c in self.categories:
            if c.maps_to == v:
                return c
        return None

    def role_address(self, role: str) -> str | None:
        r = self.roles.get(role)
        return r.mailbox if r else None

    def templates(self) -> set[str]:
        return {n.template for n in self.notifications.values()}


@dataclass(frozen=True)
class LoadedRuleFile:
    rule_file: RuleFile
    path: Path
    #: sha256 of the file's bytes (first 12 hex): stored with every deadline it produced.
    version: str


class RuleFileError(ConfigError):
    """One or more rule files are invalid; ``problems`` lists ``file: key.path: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _yaml_errors(exc: ValidationError, source: str) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{source}: {loc}: {msg}")
    return out


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only ``true``/``false``.

    PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes`` and ``no`` are
    booleans, so ``on: [stage_changed]`` would arrive as ``{True: [...]}``.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _get(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def reference_problems(data: Any) -> list[tuple[str, str]]:
    """Every name a rule uses must be defined: a typo would silently never fire.

    Checked on the raw mapping, so that these are reported together with any
    field errors in the same file (pydantic skips after-validators once a field
    fails).
    """
    problems: list[tuple[str, str]] = []
    roles = {*_get(data, "roles"), "raiser"}
    flags = _get(data, "flags")
    notes = _get(data, "notifications")
    tracks = _get(data, "tracks")
    default = data.get("default_track") if isinstance(data, dict) else None
    if tracks and isinstance(default, str) and default not in tracks:
        problems.append(("default_track", f"{default!r} is not one of the tracks"))
    top = max(
        (len(t.get("stages") or []) for t in tracks.values() if isinstance(t, dict)), default=0
    )
    for name, flag in flags.items():
        for n in _names(flag.get("notify") if isinstance(flag, dict) else None):
            if n not in notes:
                problems.append((f"flags.{name}.notify", f"no notification named {n!r}"))
    for name, note in notes.items():
        if not isinstance(note, dict):
            continue
        for r in _names(note.get("to")):
            if r not in roles:
                problems.append((f"notifications.{name}.to", f"no role named {r!r}"))
        for f in _names(note.get("when_flags_any")):
            if f not in flags:
                problems.append((f"notifications.{name}.when_flags_any", f"no flag named {f!r}"))
        stages = note.get("stages")
        for st in stages if isinstance(stages, list) else []:
            if isinstance(st, int) and top and not 1 <= st <= top:
                problems.append((f"notifications.{name}.stages", f"no stage {st}"))
    chasers = _get(data, "chasers")
    for key in ("overdue_to", "rollup_to"):
        for r in _names(chasers.get(key)):
            if r not in roles:
                problems.append((f"chasers.{key}", f"no role named {r!r}"))
    for r in _names(_get(chasers, "reminder").get("to")):
        if r not in roles:
            problems.append(("chasers.reminder.to", f"no role named {r!r}"))
    cats = data.get("categories") if isinstance(data, dict) else None
    ids = [c.get("id") for c in cats if isinstance(c, dict)] if isinstance(cats, list) else []
    if len(ids) != len(set(ids)):
        problems.append(("categories", "ids must be unique"))
    return problems


def parse_rule_file(data: Any, source: str) -> RuleFile:
    """Validate a rule file's mapping, reporting field errors and undefined names together."""
    errors = [f"{source}: {loc}: {msg}" for loc, msg in reference_problems(data)]
    try:
        rule_file = RuleFile.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(_yaml_errors(exc, source) + errors) from None
    if errors:
        raise RuleFileError(errors)
    return rule_file


def load_rule_file(path: Path) -> LoadedRuleFile:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleFileError([f"{path}: cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.load(raw, Loader=_Yaml12Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RuleFileError([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise RuleFileError([f"{path}: (top level): expected a mapping of keys"])
    rule_file = parse_rule_file(data, str(path))
    if rule_file.id != path.stem:
        raise RuleFileError([f"{path}: id: {rule_file.id!r} must match the file name"])
    return LoadedRuleFile(rule_file, path, hashlib.sha256(raw).hexdigest()[:12])


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(rules_dir.glob("*.yaml"))
