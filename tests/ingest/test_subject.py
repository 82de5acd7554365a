"""Subject decoding and prefix stripping."""

from __future__ import annotations

import pytest

from ingest.parse.subject import decode_subject, strip_prefixes


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: Escalation", "Escalation"),
        ("re: fw: Fwd: Escalation", "Escalation"),
        ("RE: FW: [EXTERNAL] Escalation about Child A", "Escalation about Child A"),
        ("AW: WG: Eskalation", "Eskalation"),
        ("SV: VS: TR: Antw: antw: Escalation", "Escalation"),
        ("Re[2]: Re (3): RE : Escalation", "Escalation"),
        ("RE:FW:Escalation", "Escalation"),
        ("[EXT] RE: [External Email] FW: Escalation", "Escalation"),
        ("*EXTERNAL* RE: Escalation", "Escalation"),
        ("EXTERNAL: RE: Escalation", "Escalation"),
        ("OFFICIAL-SENSITIVE: RE: Escalation", "Escalation"),
        ("[OFFICIAL] RE: Escalation", "Escalation"),
        ("RE: [SSCP-2026-0042] Escalation received", "[SSCP-2026-0042] Escalation received"),
        ("[SSCP-2026-0042] RE: Escalation received", "[SSCP-2026-0042] RE: Escalation received"),
        ("Reflections on the panel", "Reflections on the panel"),
        ("Fwd  :   Spaced   out", "Spaced out"),
        ("Transfer request", "Transfer request"),
        ("RE:", ""),
        ("", ""),
    ],
)
def test_strip_prefixes(subject: str, expected: str) -> None:
    assert strip_prefixes(subject) == expected


def test_decode_subject_joins_adjacent_encoded_words_and_unfolds() -> None:
    raw = "=?utf-8?q?RE=3A_Escalation_?=\t=?utf-8?q?=E2=80=93_Child_G?=  follows"
    assert decode_subject(raw) == "RE: Escalation – Child G follows"


def test_decode_subject_with_split_multibyte_character_and_unknown_charset() -> None:
    # "é" (C3 A9) split across two base64 words, as some mailers do.
    assert decode_subject("=?utf-8?B?Y2Fmww==?= =?utf-8?B?qQ==?=") == "café"
    assert decode_subject("=?x-unknown?q?caf=E9?=") == "café"
    assert decode_subject(None) == ""


def test_decode_subject_beside_backslashes_and_with_a_language_suffix() -> None:
    # decode_header hands back plain text as raw-unicode-escape bytes; a
    # Windows path in it must survive, and "utf-8*en" is read as utf-8.
    assert decode_subject(r"C:\users\new =?utf-8?q?caf=C3=A9?=") == r"C:\users\new café"
    assert decode_subject("=?utf-8*en?q?caf=C3=A9?= ő") == "café ő"
