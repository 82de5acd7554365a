"""Every mail we send carries the same loop-prevention headers, whichever builder made it.

The plain-text builder (acknowledgements, notices, chasers) and the digest
builder both call :func:`tracker.notify.stamp_headers`; these tests parse
what each produces and check that the headers the classifier relies on to
recognise our own mail, and that keep responders quiet, agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message

from ingest.classify import OWN_MAIL_HEADER, Policy, Verdict, classify, own_header_signature
from ingest.parse import parse
from tracker.notify import build_message
from tracker.reports.digest_mail import build_digest_mail

DATE = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
FROM = "tracker@sscp.example.gov.uk"
KEY = b"a key of at least sixteen bytes"
#: The headers loop prevention relies on (RFC 3834, Exchange, our own header).
LOOP_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    OWN_MAIL_HEADER,
)


def _plain() -> bytes:
    return build_message(
        from_addr=FROM,
        to="p.shah@school.example",
        subject="[SOL-0001] Your escalation was received",
        text="Thank you.\n",
        message_id="a1.ack.SOL-0001@sscp.example.gov.uk",
        date=DATE,
        reply_to="bm@sscp.example.gov.uk",
        tracker_header="SOL-0001; kind=ack",
        own_key=KEY,
    )


def _digest() -> bytes:
    return build_digest_mail(
        from_addr=FROM,
        to="bm@sscp.example.gov.uk",
        subject="[SOL] Weekly digest",
        text="Nothing new.\n",
        html="<p>Nothing new.</p>",
        chart_png=b"\x89PNG\r\n\x1a\n",
        cid="chart.d1@sscp.example.gov.uk",
        message_id="d1.digest.SOL@sscp.example.gov.uk",
        date=DATE,
        reply_to="bm@sscp.example.gov.uk",
        tracker_header="SOL; kind=digest",
        own_key=KEY,
    )


def _top_headers(data: bytes) -> Message:
    return message_from_bytes(data)


def test_both_builders_stamp_the_same_header_set() -> None:
    plain, digest = _top_headers(_plain()), _top_headers(_digest())
    mime = {"Content-Type", "MIME-Version", "Content-Transfer-Encoding"}
    assert set(plain.keys()) - mime == set(digest.keys()) - mime == {*LOOP_HEADERS, "Reply-To"}
    for msg in (plain, digest):
        assert [k for k in msg if k in LOOP_HEADERS] == list(LOOP_HEADERS)
        assert msg["From"] == FROM
        assert msg["X-Auto-Response-Suppress"] == "All"
        assert msg["Date"] == "Mon, 16 Nov 2026 09:30:00 +0000"
        assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith(">")
    # A reply to a person's mail, and a periodic report (RFC 3834 §5).
    assert plain["Auto-Submitted"] == "auto-replied"
    assert digest["Auto-Submitted"] == "auto-generated"
    plain_sig = own_header_signature(KEY, "a1.ack.SOL-0001@sscp.example.gov.uk")
    digest_sig = own_header_signature(KEY, "d1.digest.SOL@sscp.example.gov.uk")
    assert plain[OWN_MAIL_HEADER] == f"SOL-0001; kind=ack; sig={plain_sig}"
    assert digest[OWN_MAIL_HEADER] == f"SOL; kind=digest; sig={digest_sig}"


def test_both_are_recognised_as_our_own_mail_when_they_come_back() -> None:
    policy = Policy(own_addresses=frozenset({FROM}), own_header_key=KEY)
    for data in (_plain(), _digest()):
        assert classify(parse(data), policy).verdict is Verdict.OWN
    # Signed with another install's key, the header proves nothing (RFC 3834 still does).
    stranger = Policy(own_addresses=frozenset({FROM}), own_header_key=b"another key, sixteen+")
    for data in (_plain(), _digest()):
        assert classify(parse(data), stranger).verdict is Verdict.AUTO_REPLY


def test_headers_are_on_the_wire_with_crlf_and_unfolded() -> None:
    for data in (_plain(), _digest()):
        head = data.split(b"\r\n\r\n", 1)[0]
        assert b"\n" not in head.replace(b"\r\n", b"")
        assert b"\r\nMessage-ID: <" in head
