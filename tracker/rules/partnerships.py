"""The configured partnerships, each with its procedure loaded and ready to apply.

Built once at start-up from the configuration's ``[partnerships.*]`` tables
and the rule files they name; an invalid rule file stops the daemon here,
before any mail is read, with every problem listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracker.config import Config
from tracker.errors import ConfigError
from tracker.rules.engine import Engine
from tracker.rules.schema import LoadedRuleFile, RuleFileError, load_rule_file


@dataclass(frozen=True)
class Partnership:
    name: str
    prefix: str
    display_name: str
    domains: frozenset[str]
    #: Intake addresses (rule file and config, lower-cased): how a shared mailbox
    #: tells partnerships apart (:mod:`tracker.intake.routing`).
    addresses: frozenset[str]
    staff: frozenset[str]
    engine: Engine

    def role_address(self, role: str) -> str | None:
        return self.engine.rule_file.role_address(role)


class Partnerships:
    def __init__(self, partnerships: dict[str, Partnership]) -> None:
        self.by_name = partnerships
        self.by_prefix = {p.prefix: p for p in partnerships.values()}

    @classmethod
    def from_config(cls, config: Config) -> Partnerships:
        problems: list[str] = []
        loaded: dict[str, LoadedRuleFile] = {}
        for name in config.partnerships:
            path = rule_path(config, name)
            if not path.exists():
                problems.append(f"{path}: no rule file for partnership {name!r}")
                continue
            try:
                loaded[name] = load_rule_file(path)
            except RuleFileError as exc:
                problems.extend(exc.problems)
        if problems:
            raise RuleFileError(problems)
        out: dict[str, Partnership] = {}
        for name, lp in loaded.items():
            local = config.partnerships[name]
            proc = lp.rule_file
            engine = engine_for(config, name, lp)
            out[name] = Partnership(
                name=name,
                prefix=local.prefix or proc.partnership.reference_prefix,
                display_name=local.display_name or proc.partnership.name,
                domains=frozenset(d.lower() for d in (*proc.partnership.domains, *local.domains)),
                addresses=frozenset(
                    a.lower() for a in (*proc.partnership.addresses, *local.addresses)
                ),
                staff=engine.staff,
                engine=engine,
            )
        prefixes = [p.prefix for p in out.values()]
        if len(set(prefixes)) != len(prefixes):
            raise ConfigError("partnership reference prefixes must be unique")
        return cls(out)

    def __getitem__(self, name: str) -> Partnership:
        return self.by_name[name]

    @property
    def prefixes(self) -> frozenset[str]:
        return frozenset(self.by_prefix)


def rule_path(config: Config, name: str) -> Path:
    """The rule file of ``name``: its ``rules_file`` setting, else ``<rules_dir>/<name>.yaml``."""
    local = config.partnerships.get(name)
    if local is not None and local.rules_file is not None:
        return local.rules_file
    return config.paths.rules_dir / f"{name}.yaml"


def engine_for(config: Config, name: str, loaded: LoadedRuleFile) -> Engine:
    """A procedure with this installation's local settings: extra closure days, more staff."""
    local = config.partnerships.get(name)
    staff = {
        *loaded.rule_file.partnership.staff,
        *(s.lower() for s in (local.staff if local else ())),
    }
    return Engine(loaded, local.extra_closures if local else (), staff)
