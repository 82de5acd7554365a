"""Attached text, HTML and RTF files: the same form rules as a message body."""

from __future__ import annotations

from ingest.forms.html_form import html_to_rows
from ingest.forms.rtf import rtf_to_text
from ingest.forms.text_form import Row, read_rows, rows_from_text
from ingest.forms.types import Blob, RawField, ReadResult
from ingest.parse.body import decode_bytes

__all__ = ["read_html_file", "read_rtf_file", "read_text_file"]

_MAX_BYTES = 2 * 1024 * 1024


def _result(rows: list[Row]) -> ReadResult:
    fields = tuple(RawField(f.name, f.value, f.confidence) for f in read_rows(rows))
    if not fields:
        return ReadResult("no-form", "no form fields found")
    return ReadResult("read", f"{len(fields)} field(s) read", fields)


def read_text_file(blob: Blob) -> ReadResult:
    """A plain-text attachment (UTF-8 or windows-1252)."""
    text, _ = decode_bytes(blob.data[:_MAX_BYTES], None)
    return _result(rows_from_text(text))


def read_html_file(blob: Blob) -> ReadResult:
    """An HTML attachment; tables keep their cells."""
    text, _ = decode_bytes(blob.data[:_MAX_BYTES], None)
    return _result(html_to_rows(text))


def read_rtf_file(blob: Blob) -> ReadResult:
    """An RTF attachment (WordPad, older form templates)."""
    return _result(rows_from_text(rtf_to_text(blob.data)))
