"""The intake: what each incoming message means, decided purely, written in one place.

::

    bytes ─ read() ─▶ Work (parsed, classified, forms read: once)      reading.py
      load_snapshot(session, batch, …) ─▶ Snapshot (a few queries)     load.py
      decide(work, snapshot, context) ─▶ Decision (pure)                 triage.py
      apply(session, decisions): the only writer                         apply.py

:class:`Intake` runs the last three for a batch (:mod:`tracker.intake.run`).
Names are imported on first use, so that importing a pure module of this
package (``triage``, ``decision``...) does not pull in the database code of
``load`` and ``apply`` through this ``__init__``.
"""

import typing

from ingest.lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from tracker.intake.context import Context
    from tracker.intake.decision import Changes, Decision
    from tracker.intake.load import CHUNK, chunks, load_snapshot
    from tracker.intake.reading import read
    from tracker.intake.run import Intake, decide_all
    from tracker.intake.snapshot import CaseView, Snapshot
    from tracker.intake.triage import decide
    from tracker.intake.work import Result, Work
    from tracker.intake.writer import apply

__all__ = [
    "CHUNK",
    "CaseView",
    "Changes",
    "Context",
    "Decision",
    "Intake",
    "Result",
    "Snapshot",
    "Work",
    "apply",
    "chunks",
    "decide",
    "decide_all",
    "load_snapshot",
    "read",
]

#: Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "CHUNK": "tracker.intake.load",
    "CaseView": "tracker.intake.snapshot",
    "Changes": "tracker.intake.decision",
    "Context": "tracker.intake.context",
    "Decision": "tracker.intake.decision",
    "Intake": "tracker.intake.run",
    "Result": "tracker.intake.work",
    "Snapshot": "tracker.intake.snapshot",
    "Work": "tracker.intake.work",
    "apply": "tracker.intake.writer",
    "chunks": "tracker.intake.load",
    "decide": "tracker.intake.triage",
    "decide_all": "tracker.intake.run",
    "load_snapshot": "tracker.intake.load",
    "read": "tracker.intake.reading",
}

if not typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
