"""Escalation forms and case fields from one message: bodies, attachments, forwards.

:func:`extract` takes a message as :func:`ingest.parse.parse` left it (its
MIME tree is read, not parsed again) and returns an :class:`Extraction`:
one chosen :class:`FieldValue` per canonical field, the :class:`Conflict` s
between sources, an :class:`AttachmentReport` (with SHA-256) for every
attached file, and for a forward the original practitioner and date.
:func:`child_key` turns a child's name and date of birth into a keyed
pseudonym for linking cases.

The readers (plain and HTML bodies, Word, PDF, TNEF, Outlook .msg, attached
e-mails, forwarded chains) live in small modules beside this one; each
attached file is read in a killable worker process under
:class:`FormLimits`. This package is pure: it reads a parsed message and
returns values, with no database, network or clock of its own.
"""

from __future__ import annotations

from ingest.forms.childkey import child_key
from ingest.forms.extraction import extract
from ingest.forms.types import (
    CANONICAL_FIELDS,
    CHILD_FIELDS,
    AttachmentReport,
    Conflict,
    Extraction,
    FieldValue,
    FormLimits,
)

__all__ = [
    "CANONICAL_FIELDS",
    "CHILD_FIELDS",
    "AttachmentReport",
    "Conflict",
    "Extraction",
    "FieldValue",
    "FormLimits",
    "child_key",
    "extract",
]
