"""The project's one exception hierarchy starts here.

``ingest`` must not import ``tracker``, so the root lives in ``ingest`` and
``tracker.errors`` extends it::

    EscalationTrackerError
     ├── IngestError
     │    ├── SourceError                 a mailbox could not be read or updated
     │    │    ├── SourceUnavailable      network/server trouble: retry with backoff
     │    │    ├── AuthenticationFailed   credentials refused: retrying will not help
     │    │    └── SourceProtocolError    the server answered something we cannot use
     │    └── ParseError                  the bytes are not a usable message
     └── TrackerError (tracker.errors)    configuration, storage, delivery, ...

Expected outcomes ("this is an auto-reply", "no case matched") are return
values, not exceptions.
"""

from __future__ import annotations


class EscalationTrackerError(Exception):
    """Root of every error this project raises on purpose."""


class IngestError(EscalationTrackerError):
    """Something went wrong while reading or understanding incoming mail."""


class SourceError(IngestError):
    """A mailbox source could not be read or updated."""

    def __init__(self, mailbox: str, message: str) -> None:
        super().__init__(f"mailbox {mailbox!r}: {message}")
        self.mailbox = mailbox


class SourceUnavailable(SourceError):
    """The server could not be reached or dropped the connection; try again later."""


class AuthenticationFailed(SourceError):
    """The server refused the configured credentials; retrying will not help."""


class SourceProtocolError(SourceError):
    """The server's answer was not what the protocol promises."""


class ParseError(IngestError):
    """The bytes cannot be turned into a message we can process (kept in quarantine)."""
