"""Broken documents are reported without starting a worker (a repair attempt can take long)."""

from __future__ import annotations

import io
import zipfile

import pytest

from ingest.forms import extraction
from ingest.forms.registry import structural_problem
from tests.ingest.forms.generate import docx_form
from tests.ingest.forms.reading import extract_raw


def _never(*args: object, **kwargs: object) -> object:
    raise AssertionError("a worker was started for a file that cannot be a document")


def test_truncated_pdf_and_damaged_docx_are_unreadable_without_a_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extraction, "run_isolated", _never)
    pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"\x00" * 5000
    assert structural_problem("pdf", pdf) == "not a complete PDF file (no end-of-file marker)"
    docx = b"PK\x03\x04" + b"\x01" * 5000
    assert structural_problem("docx", docx) == "not a valid Word file (damaged zip archive)"
    raw = (
        b"From: A <a@school.example>\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="f.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + __import__("base64").encodebytes(pdf)
        + b"--b--\r\n"
    )
    [report] = extract_raw(raw).attachments
    assert (report.status, report.reason) == (
        "unreadable",
        "not a complete PDF file (no end-of-file marker)",
    )


def test_whole_documents_pass_the_check() -> None:
    good = docx_form([("Name of Child", "Test Person")])
    assert zipfile.is_zipfile(io.BytesIO(good))
    assert structural_problem("docx", good) is None
    assert structural_problem("pdf", b"%PDF-1.4\n...\ntrailer\n<<>>\nstartxref\n0\n%%EOF\n") is None
