"""Escalation procedures as data: the schema of ``rules/<partnership>.yaml`` and its loader.

Each partnership's procedure (its ladder of stages and timescales, its flags,
who is told what and when, its calendar) is a YAML file that a business
manager can read and a reviewer can check against the source document. This
module describes the whole file (its sections are in :mod:`tracker.rules.sections`)
and loads it: pydantic, ``extra="forbid"`` so a misspelt key is an error, not a
silently ignored setting, and every name a rule uses checked to be defined. The
engine that acts on the files is :mod:`tracker.rules.engine`, the arithmetic
:mod:`tracker.rules.calendar`.

Errors name the file and the key path (``rules/hull.yaml: tracks.default.stages.2.deadline.unit:
Input should be ...``) so ``tracker rules check`` can list every one of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError

from tracker.errors import ConfigError
from tracker.rules.sections import (
    Calendar,
    Chasers,
    Flag,
    Notification,
    PartnershipSection,
    Provenance,
    Role,
    Section,
    Track,
)

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

_ID = r"^[a-z][a-z0-9_]*$"


class Category(Section):
    id: Annotated[str, Field(pattern=_ID)]
    label: str
    maps_to: Literal[TAXONOMY]  # type: ignore[valid-type]
    keywords: list[str] = Field(default_factory=list)


class RuleFile(Section):
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
