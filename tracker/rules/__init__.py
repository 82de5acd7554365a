"""Partnerships' escalation procedures: rule files, signal reading, calendar and engine.

Everything here is pure. :mod:`~tracker.rules.schema` describes and loads a
``rules/<partnership>.yaml`` (:class:`RuleFile`); :mod:`~tracker.rules.signals`
reads stage moves, flags and commands from mail; :mod:`~tracker.rules.engine`
applies them to a case (its handlers in :mod:`~tracker.rules.handlers`, its
deadlines in :mod:`~tracker.rules.deadlines` on the working calendar of
:mod:`~tracker.rules.calendar`, its notifications in :mod:`~tracker.rules.notices`);
:mod:`~tracker.rules.partnerships` holds the configured partnerships, each with
its engine; :mod:`~tracker.rules.explain` reads a rule file back in plain English.

The names below are what the rest of the tracker uses (``tests/tracker/rules/
test_exports.py`` keeps the list honest). As for :mod:`tracker`, they are
imported on first use, so importing one of the modules above does not load
the others (the YAML and pydantic behind the schema in particular).
``explain`` is left out: it is also the name of its module.
"""

import typing

from ingest.lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from tracker.rules.calendar import CalendarSettings, WorkingCalendar
    from tracker.rules.case import CaseState, OpenDeadline
    from tracker.rules.deadlines import NewDeadline
    from tracker.rules.engine import Effects, Engine
    from tracker.rules.notices import Notice
    from tracker.rules.partnerships import Partnership, Partnerships, engine_for, rule_path
    from tracker.rules.schema import (
        KNOWN_FLAGS,
        TAXONOMY,
        LoadedRuleFile,
        RuleFile,
        RuleFileError,
        load_rule_file,
        rule_files,
    )
    from tracker.rules.signals import Signal, Vocabulary, read_signals

__all__ = [
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

#: Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "KNOWN_FLAGS": "tracker.rules.schema",
    "TAXONOMY": "tracker.rules.schema",
    "CalendarSettings": "tracker.rules.calendar",
    "CaseState": "tracker.rules.case",
    "Effects": "tracker.rules.engine",
    "Engine": "tracker.rules.engine",
    "LoadedRuleFile": "tracker.rules.schema",
    "NewDeadline": "tracker.rules.deadlines",
    "Notice": "tracker.rules.notices",
    "OpenDeadline": "tracker.rules.case",
    "Partnership": "tracker.rules.partnerships",
    "Partnerships": "tracker.rules.partnerships",
    "RuleFile": "tracker.rules.schema",
    "RuleFileError": "tracker.rules.schema",
    "Signal": "tracker.rules.signals",
    "Vocabulary": "tracker.rules.signals",
    "WorkingCalendar": "tracker.rules.calendar",
    "engine_for": "tracker.rules.partnerships",
    "load_rule_file": "tracker.rules.schema",
    "read_signals": "tracker.rules.signals",
    "rule_files": "tracker.rules.schema",
    "rule_path": "tracker.rules.partnerships",
}

if not typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
