from __future__ import annotations

import pytest

from tracker.refcode import find_references, format_reference, subject_tag


def test_format() -> None:
    assert format_reference("SSCP", 2026, 42) == "SSCP-2026-0042"
    assert format_reference("SSCP", 2026, 12345) == "SSCP-2026-12345"
    assert subject_tag("SSCP-2026-0042") == "[SSCP-2026-0042]"


@pytest.mark.parametrize(
    "text",
    [
        "[SSCP-2026-0042] Escalation received",
        "RE: FW: [EXTERNAL] [SSCP-2026-0042] Escalation received",
        "AW: SV: [sscp-2026-0042]",
        "RE: [SSCP\u20112026\u20110042] (Outlook non-breaking hyphens)",
        "RE: [SSCP \u2013 2026 \u2013 0042]",
        "Re: SSCP-2026-0042 lost its brackets",
        "see ref:SSCP-2026-0042.",
    ],
)
def test_finds_mangled_tags(text: str) -> None:
    assert find_references(text, {"SSCP", "MSCP"}) == ["SSCP-2026-0042"]


@pytest.mark.parametrize(
    "text",
    [
        "ISO-2026-0042 is not ours",
        "XSSCP-2026-0042",
        "SSCP-2026-00421234567",
        "SSCP-26-0042",
        "",
    ],
)
def test_ignores_what_is_not_ours(text: str) -> None:
    assert find_references(text, {"SSCP"}) == []


def test_order_and_repeats() -> None:
    text = "MSCP-2025-0007 then SSCP-2026-0001 then mscp-2025-0007 again"
    assert find_references(text, {"SSCP", "MSCP"}) == ["MSCP-2025-0007", "SSCP-2026-0001"]


def test_no_prefixes_no_match() -> None:
    assert find_references("SSCP-2026-0001", set()) == []
