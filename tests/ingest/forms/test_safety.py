"""Files that are never opened: programs by name or content, Office files with macros."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from ingest.forms.safety import blocked_reason, extension, sha256_of_encoded
from tests.ingest.forms import generate as g


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("form.docm", b"PK\x03\x04", "macro-enabled Office file (.docm)"),
        ("Budget.XLSM", b"", "macro-enabled Office file (.xlsm)"),
        ("slides.pptm", b"", "macro-enabled Office file (.pptm)"),
        ("template.dotm", b"", "macro-enabled Office file (.dotm)"),
        ("setup.exe", b"", "executable or script file type (.exe)"),
        ("run.ps1", b"", "executable or script file type (.ps1)"),
        ("invoice.js", b"", "executable or script file type (.js)"),
        ("form.pdf", b"MZ\x90\x00\x03", "content is a Windows executable"),
        ("form.docx", b"\x7fELF\x02\x01", "content is a ELF executable"),
        ("notes.txt", b"#!/bin/sh\nrm -rf /", "content is a script"),
        ("notes.txt", b"\xef\xbb\xbf#!/usr/bin/env python", "content is a script"),
        ("form.docx", g.docx_form([("Name of Child", "A Testchild")], macros=True), "vbaProject"),
    ],
)
def test_blocked(name: str, data: bytes, words: str) -> None:
    reason = blocked_reason(name, data)
    assert reason is not None and words in reason


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("form.docx", g.docx_form([("Name of Child", "A Testchild")])),
        ("form.pdf", g.pdf_text(["DOB: 01/01/2015"])),
        (None, b"plain words"),
        ("MZ notes.txt", b"Mzungu is a word, not a program"),
    ],
)
def test_allowed(name: str | None, data: bytes) -> None:
    assert blocked_reason(name, data) is None


def test_extension() -> None:
    assert extension("Form.v2.DOCX ") == ".docx"
    assert extension("C:\\Users\\x\\evil.exe.") == ".exe"
    assert extension(".bashrc") == ""
    assert extension(None) == ""


def test_streamed_hash_matches_a_full_decode() -> None:
    data = os.urandom(300_001)
    encoded = base64.encodebytes(data).decode("ascii")
    assert sha256_of_encoded(encoded, "base64") == (len(data), hashlib.sha256(data).hexdigest())
    assert sha256_of_encoded("plain", "7bit") == (5, hashlib.sha256(b"plain").hexdigest())
