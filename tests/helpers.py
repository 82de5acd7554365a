"""Small builders shared by tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from ingest.parse.types import Address, ParsedEmail


def make_email(**overrides: Any) -> ParsedEmail:
    """A ParsedEmail built directly, for the pure stages' tests."""
    fields: dict[str, Any] = {
        "message_id": "m1@example.org",
        "in_reply_to": (),
        "references": (),
        "subject": "Escalation",
        "from_": Address("Priya Shah", "p.shah@school.example"),
        "reply_to": (),
        "to": (Address("", "sscp@solihull.gov.uk"),),
        "cc": (),
        "delivered_to": (),
        "return_path": "p.shah@school.example",
        "date": datetime(2026, 11, 16, 9, 0, tzinfo=UTC),
        "content_type": "text/plain",
        "headers": (),
        "text": "",
        "new_text": "",
        "attachments": (),
        "content_hash": "0" * 64,
        "defects": (),
    }
    fields.update(overrides)
    return ParsedEmail(**fields)


def rfc822(
    *,
    subject: str = "Escalation about a child",
    sender: str = "Priya Shah <p.shah@oakfield.example.sch.uk>",
    to: str = "sscp@solihull.gov.uk",
    message_id: str | None = "<msg-1@oakfield.example.sch.uk>",
    in_reply_to: str | None = None,
    references: str | None = None,
    body: str = "We disagree with the decision to close the case.\n",
    extra_headers: Sequence[tuple[str, str]] = (),
    date: datetime | None = None,
) -> bytes:
    """Bytes of a simple plain-text message, as a practitioner's mail client would send."""
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(date or datetime(2026, 11, 16, 9, 0, tzinfo=UTC))}",
    ]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    lines += [f"{k}: {v}" for k, v in extra_headers]
    lines += [
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 8bit",
        "",
        body,
    ]
    return "\r\n".join(lines).encode("utf-8")
