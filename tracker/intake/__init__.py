"""The intake: what each incoming message means, decided purely, written in one place.

::

    Work (parsed, classified, forms read)
      └─ load_snapshot(session)  ─▶ Snapshot          (load.py: a few queries, up front)
           └─ decide(work, snapshot, context) ─▶ Decision   (decide.py: pure)
                └─ apply(session, decisions)               (apply.py: the only writer)

:class:`Intake` runs the three for a batch (:mod:`tracker.intake.run`).
"""

from tracker.intake.apply import apply
from tracker.intake.context import Context
from tracker.intake.decision import Changes, Decision
from tracker.intake.load import CHUNK, chunks, load_snapshot
from tracker.intake.run import Intake, decide_all
from tracker.intake.snapshot import CaseView, Snapshot
from tracker.intake.triage import decide
from tracker.intake.work import Result, Work

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
]
