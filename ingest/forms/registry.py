"""Which reader opens which attached file: one entry per format, chosen by content first.

A file is matched by its first bytes where the format has a signature (a
PDF named ".docx" is read as a PDF), then by extension, then by the
Content-Type the sender's client claimed. Readers are module-level
functions so that :mod:`ingest.forms.isolation` can send them to a worker
process by reference; importing this module preloads them all into the
fork server.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.forms.docx_form import read_docx
from ingest.forms.msg import read_msg
from ingest.forms.pdf_form import read_pdf
from ingest.forms.safety import extension
from ingest.forms.text_files import read_html_file, read_rtf_file, read_text_file
from ingest.forms.tnef import read_tnef
from ingest.forms.types import Blob, ReadResult

__all__ = ["READERS", "ReaderEntry", "find_reader", "is_message", "not_a_form"]


def _zip_with(part: bytes) -> Callable[[bytes], bool]:
    def sniff(data: bytes) -> bool:
        return data.startswith(b"PK\x03\x04") and part in data

    return sniff


def _ole_with(stream: bytes) -> Callable[[bytes], bool]:
    def sniff(data: bytes) -> bool:
        return data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and stream in data

    return sniff


@dataclass(frozen=True)
class ReaderEntry:
    """One format: how to recognise it and the function that reads it."""

    name: str
    read: Callable[[Blob], ReadResult]
    extensions: frozenset[str]
    content_types: frozenset[str]
    sniff: Callable[[bytes], bool] | None = field(default=None, compare=False)


READERS: list[ReaderEntry] = [
    ReaderEntry(
        "pdf",
        read_pdf,
        frozenset({".pdf"}),
        frozenset({"application/pdf", "application/x-pdf"}),
        lambda data: data[:1024].lstrip().startswith(b"%PDF-"),
    ),
    ReaderEntry(
        "docx",
        read_docx,
        frozenset({".docx", ".dotx"}),
        frozenset(
            {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
            }
        ),
        _zip_with(b"word/document.xml"),
    ),
    ReaderEntry(
        "tnef",
        read_tnef,
        frozenset({".dat"}),
        frozenset({"application/ms-tnef", "application/vnd.ms-tnef"}),
        lambda data: data.startswith(b"\x78\x9f\x3e\x22"),
    ),
    ReaderEntry(
        "msg",
        read_msg,
        frozenset({".msg"}),
        frozenset({"application/vnd.ms-outlook", "application/x-msg"}),
        _ole_with("__substg1.0_".encode("utf-16-le")),
    ),
    ReaderEntry(
        "rtf",
        read_rtf_file,
        frozenset({".rtf"}),
        frozenset({"application/rtf", "text/rtf"}),
        lambda data: data.startswith(b"{\\rtf"),
    ),
    ReaderEntry("html", read_html_file, frozenset({".htm", ".html"}), frozenset({"text/html"})),
    ReaderEntry("text", read_text_file, frozenset({".txt", ".text"}), frozenset({"text/plain"})),
]

_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_NOT_DOCUMENTS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".svg", ".emz",
     ".wmz", ".ics", ".vcf", ".p7s", ".p7m", ".asc", ".sig"}
)  # fmt: skip


def structural_problem(kind: str, data: bytes) -> str | None:
    """Why a file cannot be a whole document of its kind, found without parsing it; else None.

    A truncated or corrupt PDF (no ``%%EOF``) or a Word file that is not a zip
    archive can keep a reader busy for a long time trying to repair it; these
    cheap checks of the file's end record let them be reported as unreadable
    without starting a worker process.
    """
    if kind == "pdf" and data.rfind(b"%%EOF", max(0, len(data) - 65536)) == -1:
        return "not a complete PDF file (no end-of-file marker)"
    if kind == "docx" and not zipfile.is_zipfile(io.BytesIO(data)):
        return "not a valid Word file (damaged zip archive)"
    return None


def find_reader(blob: Blob) -> ReaderEntry | None:
    """The reader for ``blob``: by signature, then extension, then claimed type."""
    for entry in READERS:
        if entry.sniff is not None and entry.sniff(blob.data):
            return entry
    ext = extension(blob.filename)
    for entry in READERS:
        if ext and ext in entry.extensions:
            return entry
    for entry in READERS:
        if blob.content_type.lower() in entry.content_types:
            return entry
    return None


def is_message(filename: str | None, content_type: str) -> bool:
    """True for an attached e-mail (``message/rfc822`` or an ``.eml`` file)."""
    return content_type.lower() in _MESSAGE_TYPES or extension(filename) == ".eml"


def not_a_form(filename: str | None, content_type: str) -> bool:
    """True for pictures, calendar invites, signatures: files no form comes in."""
    return content_type.lower().startswith("image/") or extension(filename) in _NOT_DOCUMENTS
