"""Reading one stored message, once: parse, classify, and (people's mail only) read its forms.

This is all the work on untrusted content the intake needs; it runs before
any database transaction (attachments are read in killable worker processes
under the configured limits), and everything after it reads the resulting
:class:`~tracker.intake.work.Work` instead of the bytes. Robots' mail is not
read for forms at all (a bounce carries the original as an attachment).
Attachments over the size limit are cut out before the MIME parse and
reported by size and hash only, so a large one never multiplies in memory.

A message whose reading takes longer than its budget
(``limits.processing_budget_seconds``) is quarantined with reason
:data:`BUDGET_EXCEEDED`. Pure-Python regular expressions cannot be interrupted
from a thread, so the budget is a check *between* the steps; what keeps each step
short is that every pattern over message text runs in linear time and every reader
has a size cap (see README, "Limits").
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import replace
from datetime import datetime

from ingest.classify import Policy, Verdict, classify
from ingest.errors import ParseError
from ingest.forms import FormLimits, extract
from ingest.parse import parse
from tracker.intake.work import Work

__all__ = ["BUDGET_EXCEEDED", "read"]

log = logging.getLogger(__name__)

#: The quarantine reason of a message that took longer than its budget to read.
BUDGET_EXCEEDED = "processing budget exceeded"


def read(
    raw_id: int,
    mailbox: str,
    received_at: datetime,
    data: bytes,
    policy: Policy,
    limits: FormLimits,
    budget_seconds: float | None = None,
) -> Work:
    """What the intake needs from one message's bytes; never raises for bad input.

    With ``budget_seconds``, a message still being read when the budget is spent is
    quarantined (:data:`BUDGET_EXCEEDED`) after the step that overran.
    """
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds

    def over(step: str) -> Work | None:
        if deadline is None or time.monotonic() <= deadline:
            return None
        log.warning("raw message %s: processing budget exceeded (%s)", raw_id, step)
        return Work(raw_id, mailbox, received_at, None, parse_error=BUDGET_EXCEEDED)

    try:
        email = parse(data, max_attachment_bytes=limits.max_attachment_bytes)
    except ParseError as exc:
        return Work(raw_id, mailbox, received_at, None, parse_error=f"cannot parse: {exc}")
    except Exception as exc:  # a parser bug must not lose the message
        return _failed(raw_id, mailbox, received_at, "parser", exc)
    if spent := over("parse"):
        return spent
    try:
        verdict = classify(email, policy)
    except Exception as exc:  # nor a classifier bug
        return _failed(raw_id, mailbox, received_at, "classifier", exc)
    if spent := over("classify"):
        return spent
    forms = None
    if verdict.verdict is Verdict.PERSON:
        try:
            forms = extract(email, limits)
        except Exception as exc:  # extract promises not to raise; a bug must not lose mail
            log.error("reading forms of raw message %s failed (%s)", raw_id, type(exc).__name__)
        if spent := over("forms"):
            return spent
    # The MIME tree was kept for the forms reader only; a batch need not hold it.
    return Work(raw_id, mailbox, received_at, replace(email, mime=None), verdict, forms)


def _failed(raw_id: int, mailbox: str, received_at: datetime, what: str, exc: Exception) -> Work:
    """A bug reading the message: quarantined with its traceback (which may quote the message,
    so it goes to ``raw_mail.error``, never to the log)."""
    log.error("%s failed on raw message %s (%s)", what, raw_id, type(exc).__name__)
    trace = "".join(traceback.format_exception(exc, limit=-4))[-4000:]
    reason = f"{what} failed: {type(exc).__name__}"
    return Work(raw_id, mailbox, received_at, None, parse_error=reason, parse_trace=trace)
