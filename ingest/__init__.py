"""Ingest: mailbox sources, parsing, classification and forms.

Nothing in this package imports :mod:`tracker`; it hands plain frozen value
objects (:class:`RawMessage`, :class:`ParsedEmail`, :class:`Classification`,
:class:`Extraction`) to the tracker.

The names below are the public surface (``tests/test_exported_members.py``
keeps the list honest). The errors are imported at once; everything else is
imported on first use, so that ``import ingest.errors`` (which every tracker
module does) costs nothing and a pure module never pulls in the form readers
through this package. The two stages themselves are not re-exported: a name
here cannot be both the subpackage and its function, so they are
``ingest.parse.parse`` and ``ingest.classify.classify``.
"""

import typing

from ingest.errors import (
    AuthenticationFailed,
    EscalationTrackerError,
    IngestError,
    ParseError,
    SourceError,
    SourceProtocolError,
    SourceUnavailable,
)
from ingest.lazy import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from ingest.classify import Classification, Policy, Verdict
    from ingest.forms import Extraction, FormLimits, extract
    from ingest.parse import Address, AttachmentInfo, ParsedEmail
    from ingest.raw import RawMessage
    from ingest.sources.base import Source

__all__ = [
    "Address",
    "AttachmentInfo",
    "AuthenticationFailed",
    "Classification",
    "EscalationTrackerError",
    "Extraction",
    "FormLimits",
    "IngestError",
    "ParseError",
    "ParsedEmail",
    "Policy",
    "RawMessage",
    "Source",
    "SourceError",
    "SourceProtocolError",
    "SourceUnavailable",
    "Verdict",
    "extract",
]

#: Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "Address": "ingest.parse",
    "AttachmentInfo": "ingest.parse",
    "Classification": "ingest.classify",
    "Extraction": "ingest.forms",
    "FormLimits": "ingest.forms",
    "ParsedEmail": "ingest.parse",
    "Policy": "ingest.classify",
    "RawMessage": "ingest.raw",
    "Source": "ingest.sources.base",
    "Verdict": "ingest.classify",
    "extract": "ingest.forms",
}

if not typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
