"""The closed vocabularies the tracker stores: message outcomes and timeline event kinds.

They are written to the database as plain strings (``raw_mail.outcome``,
``events.kind``) and read back by the CLI, the reports and the tests, so a
misspelt kind would silently make a line invisible to whatever looks for it.
As :class:`~enum.StrEnum` members they compare equal to those strings and
mypy catches the misspelling.

Mail kinds are open (a rule file names its own notifications), so the
timeline lines about one outgoing mail are made by :func:`mail_event`
(``<kind>-queued``, ``<kind>-sent``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventKind", "MailStage", "Outcome", "mail_event"]


class Outcome(StrEnum):
    """What became of one incoming message."""

    CASE = "case"  # opened a new case
    THREAD = "thread"  # joined an existing case
    IGNORED = "ignored"  # a duplicate, our own mail, or a robot's
    QUARANTINED = "quarantined"  # held for a person to review


class EventKind(StrEnum):
    """Kinds of timeline line with a fixed name."""

    # intake
    OPENED = "opened"
    MESSAGE_IN = "message-in"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    NOTED = "noted"
    RAISER = "raiser"
    ACK_SKIPPED = "ack-skipped"
    NOT_SENT = "not-sent"
    SECURE_ROUTE_MISSING = "secure-route-missing"
    ATTACHMENT = "attachment"
    FIELDS = "fields"
    FIELD_CONFLICT = "field-conflict"
    CHILD = "child"
    CHILD_CONFLICT = "child-conflict"
    PARTICIPANTS = "participants"
    UNVERIFIED = "unverified"
    # the rules
    LADDER = "ladder"
    STAGE = "stage"
    DEADLINE = "deadline"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    FLAG_SET = "flag-set"
    FLAG_CLEARED = "flag-cleared"
    ADVICE = "advice"
    CATEGORY = "category"
    TRACK = "track"
    NOT_APPLIED = "not-applied"
    # delivery
    DELIVERY_RETRY = "delivery-retry"
    DELIVERY_FAILED = "delivery-failed"
    DELIVERY_UNCERTAIN = "delivery-uncertain"
    DELIVERY_REQUEUED = "delivery-requeued"


class MailStage(StrEnum):
    """What happened to one outgoing mail, as the suffix of its timeline line."""

    QUEUED = "queued"
    SENT = "sent"


def mail_event(kind: str, stage: MailStage) -> str:
    """The timeline kind for ``stage`` of a mail of ``kind`` (``ack-queued``, ``digest-sent``)."""
    return f"{kind}-{stage.value}"
