"""The batch driver: load a snapshot, decide each message, write every decision at once.

A backlog of hundreds of messages must not cost a dozen round trips each,
so one batch is: :func:`~tracker.intake.load.load_snapshot` (a few queries,
one read transaction), :func:`~tracker.intake.triage.decide` per message in
memory with no transaction open (the snapshot advanced after each, so a
reply right behind its escalation threads into it), and
:func:`~tracker.intake.writer.apply` (a few multi-row statements, one write
transaction).
A message whose decision fails (a bug) is quarantined with its traceback and
leaves no trace in the others.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from datetime import datetime, timedelta

from tracker.config import Config
from tracker.intake.context import Context
from tracker.intake.decision import Decision
from tracker.intake.load import load_snapshot, named_references
from tracker.intake.outcomes import quarantine
from tracker.intake.snapshot import Snapshot
from tracker.intake.triage import decide
from tracker.intake.work import Result, Work
from tracker.intake.writer import apply
from tracker.notify import Renderer
from tracker.rules.partnerships import Partnerships
from tracker.store import Store

__all__ = ["Intake", "decide_all"]

log = logging.getLogger(__name__)

#: The window of the per-sender limit on automatic mail.
RATE_WINDOW = timedelta(hours=1)


def decide_all(work: Sequence[Work], snapshot: Snapshot, ctx: Context) -> list[Decision]:
    """Decide each message in order, advancing ``snapshot`` after each one. Pure but for logging."""
    decisions = []
    for w in work:
        try:
            d = decide(w, snapshot, ctx)
        except Exception as exc:  # a bug deciding one message must not stop the batch
            # The exception's text may quote the message, so it goes to the
            # database (raw_mail.error) for review, never to the log.
            log.error(
                "deciding raw message %s failed (%s); quarantined", w.raw_id, type(exc).__name__
            )
            summary = "".join(traceback.format_exception(exc, limit=-4))[-4000:]
            d = quarantine(w, f"processing failed: {type(exc).__name__}", summary)
        snapshot.advance(d)
        decisions.append(d)
    return decisions


class Intake:
    """Decides and writes one batch (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        renderer: Renderer,
        partnerships: Partnerships,
        child_key_secret: bytes,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.partnerships = partnerships
        self.child_key_secret = child_key_secret

    def run(self, store: Store, work: Sequence[Work], now: datetime) -> list[Result]:
        """Load, decide with no transaction open, write; a conflict raises for a retry.

        Deciding reads message text (signals), so it runs between the two
        transactions: a slow message never holds the database. The writer
        refuses what changed meanwhile (a case's version, a reference number,
        a raw row another daemon finished) with
        :class:`~tracker.errors.ConflictError`, and the caller decides again.
        """
        prefixes = self.partnerships.prefixes
        named = named_references(work, prefixes)  # message text: before the transaction
        with store.transaction() as s:
            snapshot = load_snapshot(s, work, now - RATE_WINDOW, prefixes, named)
        ctx = Context(self.config, self.partnerships, self.renderer, self.child_key_secret, now)
        decisions = decide_all(work, snapshot, ctx)
        with store.transaction() as s:
            apply(s, decisions, now)
        return [d.result for d in decisions]
