"""Robots, honestly: people's mail dressed as a robot's still reaches a case or a person.

End to end through a Maildir, the service and a real SMTP server: an
Exchange forwarding rule's mail opens a case; a forged copy of our own
header does not make mail "own mail"; list-marked escalations are held for
review; and what is ignored stays listable with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.classify import OWN_MAIL_HEADER
from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker import queries


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink) -> Harness:
    return Harness(flow_config(tmp_path, sqlite_url, smtp_sink.port))


def test_exchange_auto_forwarded_escalation_opens_a_case(h: Harness, smtp_sink: SmtpSink) -> None:
    h.deliver(
        rfc822(
            subject="FW: Escalation about a child",
            extra_headers=[
                ("Auto-Submitted", "auto-forwarded"),
                ("X-MS-Exchange-Inbox-Rules-Loop", "p.shah@oakfield.example.sch.uk"),
            ],
        )
    )
    report = h.run()
    assert report.outcomes["case"] == 1
    assert [c.reference for c in h.cases()] == ["SSCP-2026-0001"]
    assert len(smtp_sink.messages) == 1  # the acknowledgement


def test_a_forged_own_header_does_not_make_mail_own_mail(h: Harness, smtp_sink: SmtpSink) -> None:
    h.deliver(rfc822(extra_headers=[(OWN_MAIL_HEADER, "SSCP-2026-0042; kind=ack")]))
    report = h.run()
    assert report.outcomes["case"] == 1 and len(h.cases()) == 1
    assert len(smtp_sink.messages) == 1


def test_our_real_acknowledgement_coming_back_is_own_mail(h: Harness, smtp_sink: SmtpSink) -> None:
    h.deliver(rfc822(message_id="<orig@school.example>"))
    h.run()
    [ack] = smtp_sink.messages
    assert b"; kind=ack; sig=" in ack.data.split(b"\r\n\r\n", 1)[0]
    # A watched mailbox is copied on our acknowledgement: it comes back, signed by us.
    h.deliver(ack.data)
    report = h.run()
    assert report.outcomes["ignored"] == 1 and len(h.cases()) == 1
    [raw] = [r for r in h.raws() if r.outcome == "ignored"]
    assert (raw.reason or "").startswith("own mail")


def test_a_list_marked_escalation_is_held_and_a_newsletter_is_listed(
    h: Harness, smtp_sink: SmtpSink
) -> None:
    h.deliver(rfc822(extra_headers=[("Precedence", "list"), ("List-Id", "<staff.example.org>")]))
    h.deliver(
        rfc822(
            subject="March newsletter",
            sender="News <news@lists.example.org>",
            message_id="<news-1@lists.example.org>",
            body="Training dates for the spring term.\n",
            extra_headers=[("Precedence", "bulk")],
        )
    )
    report = h.run()
    assert report.outcomes["quarantined"] == 1 and report.outcomes["ignored"] == 1
    assert h.cases() == [] and smtp_sink.messages == []
    [held] = queries.quarantined(h.store)
    assert held.reason == (
        "held for review: bulk or list markers on mail that reads as an escalation"
        " (Precedence: list; List-Id present)"
    )
    [ignored] = queries.ignored(h.store)
    assert ignored.reason == "bulk (Precedence: bulk)"
