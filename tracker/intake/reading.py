"""Reading one stored message, once: parse, classify, and (people's mail only) read its forms.

This is all the work on untrusted content the intake needs; it runs before
any database transaction (attachments are read in killable worker processes
under the configured limits), and everything after it reads the resulting
:class:`~tracker.intake.work.Work` instead of the bytes. Robots' mail is not
read for forms at all (a bounce carries the original as an attachment).
Attachments over the size limit are cut out before the MIME parse and
reported by size and hash only, so a large one never multiplies in memory.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from datetime import datetime

from ingest.classify import Policy, Verdict, classify
from ingest.errors import ParseError
from ingest.forms import FormLimits, extract
from ingest.parse import parse
from tracker.intake.work import Work

__all__ = ["read"]

log = logging.getLogger(__name__)


def read(
    raw_id: int,
    mailbox: str,
    received_at: datetime,
    data: bytes,
    policy: Policy,
    limits: FormLimits,
) -> Work:
    """What the intake needs from one message's bytes; never raises for bad input."""
    try:
        email = parse(data, max_attachment_bytes=limits.max_attachment_bytes)
    except ParseError as exc:
        return Work(raw_id, mailbox, received_at, None, parse_error=f"cannot parse: {exc}")
    except Exception as exc:  # a parser bug must not lose the message
        return _failed(raw_id, mailbox, received_at, "parser", exc)
    try:
        verdict = classify(email, policy)
    except Exception as exc:  # nor a classifier bug
        return _failed(raw_id, mailbox, received_at, "classifier", exc)
    forms = None
    if verdict.verdict is Verdict.PERSON:
        try:
            forms = extract(email, limits)
        except Exception as exc:  # extract promises not to raise; a bug must not lose mail
            log.error("reading forms of raw message %s failed (%s)", raw_id, type(exc).__name__)
    # The MIME tree was kept for the forms reader only; a batch need not hold it.
    return Work(raw_id, mailbox, received_at, replace(email, mime=None), verdict, forms)


def _failed(raw_id: int, mailbox: str, received_at: datetime, what: str, exc: Exception) -> Work:
    """A bug reading the message: quarantined with its traceback (which may quote the message,
    so it goes to ``raw_mail.error``, never to the log)."""
    log.error("%s failed on raw message %s (%s)", what, raw_id, type(exc).__name__)
    trace = "".join(traceback.format_exception(exc, limit=-4))[-4000:]
    reason = f"{what} failed: {type(exc).__name__}"
    return Work(raw_id, mailbox, received_at, None, parse_error=reason, parse_trace=trace)
