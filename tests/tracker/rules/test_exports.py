"""``tracker.rules``: a curated list of public names, each resolving to its one definition."""

from __future__ import annotations

import importlib
import subprocess
import sys

import tracker.rules

EXPECTED = [
    "KNOWN_FLAGS",
    "TAXONOMY",
    "CalendarSettings",
    "CaseState",
    "Effects",
    "Engine",
    "LoadedRuleFile",
    "NewDeadline",
    "Notice",
    "OpenDeadline",
    "Partnership",
    "Partnerships",
    "RuleFile",
    "RuleFileError",
    "Signal",
    "Vocabulary",
    "WorkingCalendar",
    "engine_for",
    "load_rule_file",
    "read_signals",
    "rule_files",
    "rule_path",
]


def test_the_public_names_are_the_curated_list() -> None:
    assert tracker.rules.__all__ == EXPECTED


def test_every_public_name_is_the_object_its_module_defines() -> None:
    for name in EXPECTED:
        value = getattr(tracker.rules, name)
        home = importlib.import_module(tracker.rules._LAZY[name])
        assert value is getattr(home, name), name
        if hasattr(value, "__module__") and isinstance(value, type):
            assert value.__module__ == home.__name__, name


def test_importing_one_rules_module_loads_neither_the_schema_nor_the_engine() -> None:
    code = (
        "import sys, tracker.rules.calendar; "
        "print(sorted(m for m in ('tracker.rules.schema', 'tracker.rules.engine', 'yaml') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
