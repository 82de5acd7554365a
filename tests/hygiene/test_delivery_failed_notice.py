"""A notice to staff that the relay refuses for good is told to the business manager.

Solihull's procedure sends the Independent Reviewing Officer a secure notice
when the child is on a child protection plan. If the IRO's address is
refused (550), logging it is not enough: the business manager (and the
alerts address, when configured) gets a mail naming the reference, the kind
of mail and the recipient, nothing about the child, once per failed mail.
An acknowledgement refused at a practitioner's address is not escalated.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.kinds import EventKind

BM = "sscp@solihull.gov.uk"
IRO = "cpru@solihull.gov.uk"
ALERTS = "safeguarding-alerts@solihull.gov.uk"
PRACTITIONER = "alex.morgan@nhs.net"
CHILD = "Jamie Testchild"


def _escalation(message_id: str = "<esc-1@nhs.net>") -> bytes:
    return rfc822(
        sender=f"Alex Morgan <{PRACTITIONER}>",
        to=BM,
        subject="Escalation about a child on a plan",
        message_id=message_id,
        body=(
            f"Child's name: {CHILD}\nDate of birth: 12/03/2015\n\n"
            "I am a health visitor for this child, who is subject to a child protection "
            "plan. Children's social care have closed the referral and I disagree.\n"
        ),
    )


def _harness(tmp_path: Path, db_url: str, sink: SmtpSink, **outgoing: str) -> Harness:
    return Harness(
        flow_config(
            tmp_path,
            db_url,
            sink.port,
            outgoing=dict(outgoing),
            security={"secure_domains": ["solihull.gov.uk", "nhs.net"]},
        )
    )


def _alerts(sink: SmtpSink) -> list[tuple[tuple[str, ...], str, str]]:
    out = []
    for m in sink.messages:
        msg = message_from_bytes(m.data, policy=policy.default)
        if "kind=delivery-failed" in (msg["X-Escalation-Tracker"] or ""):
            body = msg.get_body(("plain",))
            assert body is not None
            out.append((m.rcpt_tos, str(msg["Subject"]), body.get_content()))
    return out


def test_a_refused_iro_notice_is_told_to_the_business_manager_and_the_alerts_address(
    tmp_path: Path, db_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse_recipient(IRO, 550)
    h = _harness(tmp_path, db_url, smtp_sink, alerts_address=ALERTS)
    h.deliver(_escalation())
    h.run()

    [failed] = [o for o in h.outbox() if IRO in o.recipients]
    assert failed.state == "failed"
    [case] = h.cases()
    told = _alerts(smtp_sink)
    assert sorted(rcpt for rcpt, _, _ in told) == sorted([(BM,), (ALERTS,)])
    for _, subject, text in told:
        assert case.reference in subject
        assert case.reference in text
        assert IRO in text
        assert failed.kind in text
        assert "Testchild" not in subject + text
        assert "2015" not in subject + text
    queued = [e for e in h.events(case.reference) if e.kind == "delivery-failed-queued"]
    assert len(queued) == 2

    # Later passes (and a restart) tell nobody again.
    h.clock.advance(seconds=7200)
    h.run()
    h.run()
    assert len(_alerts(smtp_sink)) == 2


def test_without_an_alerts_address_only_the_business_manager_is_told(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse_recipient(IRO, 550)
    h = _harness(tmp_path, sqlite_url, smtp_sink)
    h.deliver(_escalation())
    h.run()
    assert [rcpt for rcpt, _, _ in _alerts(smtp_sink)] == [(BM,)]


def test_a_refused_notice_to_a_refused_business_manager_does_not_loop(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse_recipient(IRO, 550)
    smtp_sink.refuse_recipient(BM, 550)
    h = _harness(tmp_path, sqlite_url, smtp_sink, alerts_address=ALERTS)
    h.deliver(_escalation())
    for _ in range(3):
        h.run()
        h.clock.advance(seconds=3600)
    notices = [o for o in h.outbox() if o.kind == "delivery-failed"]
    # One per failed staff notice to the business manager (which fails in turn,
    # and is not told about again) and one to the alerts address for each.
    failed_staff = [o for o in h.outbox() if o.state == "failed" and o.kind != "delivery-failed"]
    assert failed_staff
    assert len(notices) == 2 * len(failed_staff)
    assert {tuple(o.recipients) for o in notices} == {(BM,), (ALERTS,)}
    assert all(o.state == "sent" for o in notices if o.recipients == [ALERTS])


@pytest.mark.parametrize("code", [550, 553])
def test_a_refused_acknowledgement_to_a_practitioner_only_goes_on_the_timeline(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink, code: int
) -> None:
    smtp_sink.refuse_recipient(PRACTITIONER, code)
    h = _harness(tmp_path, sqlite_url, smtp_sink, alerts_address=ALERTS)
    h.deliver(_escalation())
    h.run()
    [ack] = [o for o in h.outbox() if o.kind == "ack"]
    assert ack.state == "failed"
    assert _alerts(smtp_sink) == []
    [case] = h.cases()
    assert any(e.kind == EventKind.DELIVERY_FAILED for e in h.events(case.reference))
