"""Errors raised by the tracker; the root is :class:`ingest.errors.EscalationTrackerError`.

::

    EscalationTrackerError (ingest.errors)
     └── TrackerError
          ├── ConfigError               the configuration file is missing or invalid
          ├── StoreError                the database cannot be used
          │    ├── AppendOnlyError      someone tried to edit a case's timeline
          │    └── ConflictError        another daemon changed what a batch was decided on
          ├── TemplateError (notify)    a mail template is missing or broken
          └── DeliveryError             outgoing mail could not be handed over
               ├── TemporaryDeliveryError   try again later (network, 4xx)
               ├── PermanentDeliveryError   will never work as is (5xx, TLS refused)
               └── DeliveryUncertain        lost after the data was sent: never resent
"""

from __future__ import annotations

from ingest.errors import EscalationTrackerError


class TrackerError(EscalationTrackerError):
    """Something went wrong inside the tracker."""


class ConfigError(TrackerError):
    """The configuration cannot be used; the message names the bad key."""


class StoreError(TrackerError):
    """The database cannot be reached or is not in the expected shape."""


class ConflictError(StoreError):
    """Another daemon wrote what a batch was decided on (a reference number); decide again."""


class DeliveryError(TrackerError):
    """An outgoing message could not be handed to the relay."""


class TemporaryDeliveryError(DeliveryError):
    """Delivery failed for now (connection refused, 4xx reply); retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """Delivery will not succeed as configured (5xx reply, TLS not verifiable)."""


class DeliveryUncertain(DeliveryError):
    """The connection was lost after the message data was sent, before the relay replied.

    The relay may have taken the message, so it is never resent automatically
    (that would deliver it twice); the outbox marks it ``uncertain`` for an operator.
    """
