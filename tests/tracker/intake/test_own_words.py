"""Only the message's own words trigger: an e-mail attached to a reply never does (issue 10).

The attached e-mail here has no file name, as Outlook's "forward as
attachment" of a message part often has none, so nothing in its name says
it is a message: the forms reader must say so itself.
"""

from __future__ import annotations

from ingest.forms import FormLimits, extract
from ingest.parse import parse
from tracker.intake.context import Context
from tracker.intake.following import own_source, signals_for

ATTACHED = (
    b"From: Team Manager <team.manager@oakfield.example.sch.uk>\r\n"
    b"To: sscp@solihull.gov.uk\r\n"
    b"Subject: Escalation form\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Summary of Concern(s): The matter has now been resolved.\r\n"
    b"Action requested: Status: resolved\r\n"
)

REPLY = (
    b"From: SSCP <sscp@solihull.gov.uk>\r\n"
    b"To: p.shah@oakfield.example.sch.uk\r\n"
    b"Subject: RE: [SSCP-2026-0007] Escalation received\r\n"
    b"Message-ID: <bm@solihull.gov.uk>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Please see the earlier form attached; this is still open.\r\n"
    b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + ATTACHED + b"\r\n--b1--\r\n"
)


def test_fields_from_an_unnamed_attached_email_are_not_the_senders_words(ctx: Context) -> None:
    limits = FormLimits()
    email = parse(REPLY, max_attachment_bytes=limits.max_attachment_bytes)
    forms = extract(email, limits)
    concern = forms.fields.get("concern")
    assert concern is not None and "resolved" in concern.value
    assert forms.attached_messages and not own_source(concern.source, forms.attached_messages)
    engine = ctx.partnerships["solihull"].engine
    signals = signals_for(email, forms, engine, "default")
    assert not [s for s in signals if s.kind == "status"]


def test_own_source_by_path() -> None:
    assert own_source("body") and own_source("attachment:form.docx")
    assert not own_source("forwarded:1") and not own_source("attachment:x.docx/forwarded:2")
    assert not own_source("attachment:(unnamed)/form.docx", ("attachment:(unnamed)",))
    assert own_source("attachment:(unnamed)2", ("attachment:(unnamed)",))


def test_a_quoted_command_line_is_no_command(ctx: Context) -> None:
    """Even if quoted lines reached the reader, "> Status: resolved" is someone else's."""
    from tracker.rules.signals import read_signals

    engine = ctx.partnerships["solihull"].engine
    text = "I agree with the plan.\n> Status: resolved\n>Flag: -cp_plan\n"
    assert read_signals(text, "RE: x", engine.vocabulary_for("default")) == []
