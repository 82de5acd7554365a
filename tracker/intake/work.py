"""What the intake is handed for one message, and what it says back.

:class:`Work` is one stored message after the untrusted-content stages have
run on it once: parsed, classified and (for people's mail) its forms read.
Everything after this point reads these values and never the raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingest.classify import Classification
from ingest.forms import Extraction
from ingest.parse.types import ParsedEmail
from tracker.kinds import Outcome

__all__ = ["Result", "Work"]


@dataclass(frozen=True)
class Work:
    """One stored message to decide: its raw row and what reading it made of it."""

    raw_id: int
    mailbox: str
    received_at: datetime
    #: None when the bytes could not be parsed (``parse_error`` says why).
    email: ParsedEmail | None
    #: What the classifier made of ``email`` (None exactly when ``email`` is None).
    classification: Classification | None = None
    #: Forms and case fields read from the body and attachments (people's mail only).
    forms: Extraction | None = None
    parse_error: str | None = None
    #: Traceback summary of a parser crash, kept with the quarantined message.
    parse_trace: str | None = None


@dataclass(frozen=True)
class Result:
    """What became of one message: logged, counted and shown by the CLI."""

    raw_id: int
    outcome: Outcome
    reason: str
    reference: str | None = None
    acknowledged: bool = False
