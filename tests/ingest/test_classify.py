"""classify(): verdicts, reasons and signals, in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.classify import (
    OWN_MAIL_HEADER,
    Classification,
    Policy,
    Verdict,
    classify,
    domain_skeleton,
    own_header_signature,
)
from ingest.parse import parse

DATA = Path(__file__).parents[1] / "data" / "emails"
KEY = b"0123456789abcdef0123456789abcdef"
POLICY = Policy(
    trusted_authserv_ids=frozenset({"mx1.sscp.example.org.uk"}),
    protected_domains=frozenset({"solihull.gov.uk", "merton.gov.uk", "barnet.gov.uk"}),
    own_addresses=frozenset({"escalations@sscp.example.org.uk"}),
    own_header_key=KEY,
)


def of_file(name: str, policy: Policy = POLICY) -> Classification:
    return classify(parse((DATA / name).read_bytes()), policy)


def of_headers(headers: str, policy: Policy = POLICY, body: str = "Hello.\n") -> Classification:
    return classify(parse((headers.strip("\n") + "\n\n" + body).encode()), policy)


PERSON = "From: Priya Sharma <priya.sharma@solihull.gov.uk>\nSubject: Escalation\n"


def test_person() -> None:
    result = of_file("outlook_alternative_pdf.eml")
    assert (result.verdict, result.reason, result.signals) == (Verdict.PERSON, "person", ())
    assert result.automated is False
    # Its trusted gateway checked DMARC for the From domain.
    assert result.authenticated is True
    assert result.origin == "dmarc=pass by mx1.sscp.example.org.uk for solihull.gov.uk"


def _signed(data: bytes, message_id: str) -> bytes:
    """``data`` with our header signed for ``message_id``, as the tracker sends it."""
    sig = own_header_signature(KEY, message_id)
    return data.replace(b"kind=ack", b"kind=ack; sig=" + sig.encode(), 1)


def test_own_mail_by_header() -> None:
    data = (DATA / "own_ack_returned.eml").read_bytes()
    message_id = parse(data).message_id
    assert message_id
    result = classify(parse(_signed(data, message_id)), POLICY)
    assert result.verdict is Verdict.OWN
    assert result.reason == "own mail (X-Escalation-Tracker: SSCP-2026-0042; kind=ack)"
    assert result.signals == (
        "X-Escalation-Tracker: SSCP-2026-0042; kind=ack",
        "From is our own address escalations@sscp.example.org.uk",
    )
    assert result.automated is True


def test_own_address_without_header_is_a_colleague() -> None:
    result = of_headers("From: SSCP <Escalations@sscp.example.org.uk>\nSubject: Note")
    assert result.verdict is Verdict.PERSON
    assert result.signals == ("From is our own address escalations@sscp.example.org.uk",)


def test_own_header_wins_over_bounce() -> None:
    sig = own_header_signature(KEY, "ack-1@sscp.example.org.uk")
    result = of_headers(
        "From: postmaster@x.example\nMessage-ID: <ack-1@sscp.example.org.uk>\n"
        f"{OWN_MAIL_HEADER}: SSCP-2026-0001; kind=ack; sig={sig}"
    )
    assert result.verdict is Verdict.OWN
    assert "From: postmaster" in result.signals


def test_exchange_ndr() -> None:
    result = of_file("exchange_ndr.eml")
    assert result.verdict is Verdict.BOUNCE
    assert result.reason == (
        "bounce (Content-Type: multipart/report; report-type=delivery-status; "
        "From: postmaster; Subject: Undeliverable; Return-Path: <>)"
    )
    assert "Auto-Submitted: auto-replied" in result.signals
    assert result.automated is True


@pytest.mark.parametrize(
    ("headers", "signal"),
    [
        ("From: MAILER-DAEMON@mx.example.org\nSubject: x", "From: mailer-daemon"),
        ("From: Mail Delivery System <>\nSubject: x", "From: Mail Delivery System"),
        (
            "From: a@b.example\nSubject: Delivery Status Notification (Failure)",
            "Subject: Delivery Status Notification",
        ),
        (
            "From: a@b.example\nSubject: Mail delivery failed: returning message",
            "Subject: Mail delivery failed",
        ),
        ("From: a@b.example\nSubject: Returned mail: see transcript", "Subject: Returned mail"),
        ("Return-Path: <>\nFrom: a@b.example\nSubject: x", "Return-Path: <>"),
        (
            "From: a@b.example\n"
            'Content-Type: multipart/report; report-type=disposition-notification; boundary="q"',
            "Content-Type: multipart/report; report-type=disposition-notification",
        ),
    ],
)
def test_bounce_signals(headers: str, signal: str) -> None:
    result = of_headers(headers)
    assert result.verdict is Verdict.BOUNCE
    assert signal in result.signals


def test_forwarded_bounce_is_a_person() -> None:
    assert (
        of_headers(PERSON.replace("Escalation", "FW: Undeliverable: Escalation")).verdict
        is Verdict.PERSON
    )


def test_outlook_out_of_office_with_null_return_path_is_an_auto_reply() -> None:
    result = of_file("outlook_out_of_office.eml")
    assert result.verdict is Verdict.AUTO_REPLY
    assert result.reason == "auto-reply (X-Auto-Response-Suppress: All with an auto-reply subject)"
    assert result.signals == (
        "Return-Path: <>",
        "X-Auto-Response-Suppress: All with an auto-reply subject",
        "Subject: Automatic reply",
        "X-MS-Exchange-Inbox-Rules-Loop present",
    )


@pytest.mark.parametrize(
    ("extra", "signal"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: Auto-Generated (vacation)", "Auto-Submitted: auto-generated"),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: On", "X-Autorespond: on"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("X-Autogenerated: Reply", "X-Autogenerated: Reply"),
        ("X-Apple-Action: VACATION", "X-Apple-Action: VACATION"),
    ],
)
def test_auto_reply_signals(extra: str, signal: str) -> None:
    result = of_headers(PERSON + extra)
    assert result.verdict is Verdict.AUTO_REPLY
    assert result.reason == f"auto-reply ({signal})"


def test_auto_submitted_no_and_hints_alone_are_a_person() -> None:
    result = of_headers(
        "From: a@b.example\nSubject: Out of Office: back Monday\nAuto-Submitted: no\n"
        "X-Loop: a@b.example\nX-Mailer: vacation 1.2"
    )
    assert result.verdict is Verdict.PERSON
    assert result.signals == (
        "Subject: Out of Office",
        "X-Loop present",
        "X-Mailer: vacation",
    )


def test_suppress_header_without_auto_reply_subject_is_only_a_hint() -> None:
    result = of_headers(PERSON + "X-Auto-Response-Suppress: DR, RN, NRN, OOF")
    assert result.verdict is Verdict.PERSON
    assert result.signals == ("X-Auto-Response-Suppress: DR, RN, NRN, OOF",)


@pytest.mark.parametrize("subject", ["Autosvar: x", "Abwesenheitsnotiz: x", "Out of Office: x"])
def test_localised_out_of_office_subjects(subject: str) -> None:
    result = of_headers(f"From: a@b.example\nSubject: {subject}\nX-Auto-Response-Suppress: All")
    assert result.verdict is Verdict.AUTO_REPLY


def test_mailing_list() -> None:
    result = of_file("mailing_list.eml")
    assert result.verdict is Verdict.BULK
    assert (
        result.reason
        == "bulk (Precedence: list; List-Id present; List-Unsubscribe present; List-Post present)"
    )


@pytest.mark.parametrize(
    "extra", ["Precedence: bulk", "Precedence: junk", "List-Unsubscribe: <mailto:x@y>"]
)
def test_bulk_signals(extra: str) -> None:
    newsletter = "From: News <news@lists.example.org>\nSubject: March newsletter\n"
    assert of_headers(newsletter + extra).verdict is Verdict.BULK


def test_auto_reply_beats_bulk() -> None:
    result = of_headers(PERSON + "Auto-Submitted: auto-generated\nPrecedence: bulk")
    assert result.verdict is Verdict.AUTO_REPLY
    assert result.signals == ("Auto-Submitted: auto-generated", "Precedence: bulk")


@pytest.mark.parametrize(
    "sender", ["", "From: undisclosed-recipients:;", "From: nobody", "From: <>"]
)
def test_no_sender(sender: str) -> None:
    result = of_headers(sender + "\nSubject: x")
    assert result.verdict is Verdict.NO_SENDER
    assert result.reason == "no usable From address"
    assert result.automated is False


def test_trusted_dmarc_fail_above_forged_pass() -> None:
    result = of_file("forged_auth_results.eml")
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.reason == "dmarc=fail reported by mx1.sscp.example.org.uk"
    assert result.automated is False


def test_forged_fail_below_trusted_pass_is_ignored() -> None:
    result = of_headers(
        "Authentication-Results: mx1.sscp.example.org.uk; dmarc=pass header.from=solihull.gov.uk\n"
        "Authentication-Results: mx1.sscp.example.org.uk; dmarc=fail\n" + PERSON
    )
    assert result == Classification(
        Verdict.PERSON,
        "person",
        (),
        authenticated=True,
        origin="dmarc=pass by mx1.sscp.example.org.uk for solihull.gov.uk",
    )


def test_untrusted_dmarc_fail_is_no_signal() -> None:
    result = of_headers("Authentication-Results: evil.example; dmarc=fail\n" + PERSON)
    assert result.verdict is Verdict.PERSON
    untrusted = of_headers(
        "Authentication-Results: mx1.sscp.example.org.uk; dmarc=fail\n" + PERSON, Policy()
    )
    assert untrusted.verdict is Verdict.PERSON


def test_dmarc_fail_on_a_bounce_is_still_a_signal() -> None:
    result = of_headers(
        "Authentication-Results: mx1.sscp.example.org.uk; dmarc=fail\n"
        "From: MAILER-DAEMON@x.example\nSubject: Undeliverable: x"
    )
    assert result.verdict is Verdict.BOUNCE
    assert result.signals[-1] == "dmarc=fail reported by mx1.sscp.example.org.uk"


def test_cyrillic_lookalike_file() -> None:
    result = of_file("lookalike_cyrillic.eml")
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.reason == "sender domain s\u043elihull.gov.uk imitates solihull.gov.uk"


@pytest.mark.parametrize(
    ("domain", "imitated"),
    [
        ("so1ihull.gov.uk", "solihull.gov.uk"),
        ("solihu11.gov.uk", "solihull.gov.uk"),
        ("SoIihull.gov.uk", "solihull.gov.uk"),
        ("s0lihull.gov.uk", "solihull.gov.uk"),
        ("xn--slihull-9ig.gov.uk", "solihull.gov.uk"),
        ("rnerton.gov.uk", "merton.gov.uk"),
        ("bamet.gov.uk", "barnet.gov.uk"),
        ("mail.so1ihull.gov.uk", "solihull.gov.uk"),
    ],
)
def test_lookalike_domains(domain: str, imitated: str) -> None:
    result = of_headers(f"From: Someone <someone@{domain}>\nSubject: x")
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.reason.endswith(f" imitates {imitated}")


@pytest.mark.parametrize(
    "domain",
    [
        "solihull.gov.uk",
        "SOLIHULL.GOV.UK",
        "schools.solihull.gov.uk",
        "solihull.nhs.uk",
        "solihul.gov.uk",  # Near in edit distance, but does not look the same.
        "notsolihull.gov.uk",
        "solihull.gov.uk.example.net",
        "example.org.uk",
    ],
)
def test_not_lookalikes(domain: str) -> None:
    assert of_headers(f"From: someone@{domain}\nSubject: x").verdict is Verdict.PERSON


def test_domain_skeleton() -> None:
    assert domain_skeleton("xn--slihull-9ig.gov.uk") == "solihull.gov.uk"
    assert domain_skeleton("vvestminster.gov.uk") == "westminster.gov.uk"
    assert domain_skeleton("ｓolihull.gov.uk") == "solihull.gov.uk"
    assert domain_skeleton("5olihull.gov.uk") == "solihull.gov.uk"


def test_verdict_values() -> None:
    assert [v.value for v in Verdict] == [
        "person",
        "auto-reply",
        "bounce",
        "bulk",
        "own",
        "suspicious",
        "no-sender",
    ]


def test_header_text_outside_known_values_never_reaches_a_signal() -> None:
    """Signals go into reasons, the timeline and log lines: free text must not."""
    name = "Jamie Example"
    result = of_headers(
        f"From: a@b.example\nSubject: Automatic reply: {name}\n"
        f"X-Autoreply: {name}\nAuto-Submitted: {name}\nX-Auto-Response-Suppress: {name}, OOF\n"
        f"X-Loop: {name}\nX-Mailer: vacation for {name}"
    )
    assert result.verdict is Verdict.AUTO_REPLY
    for text in (result.reason, *result.signals):
        assert "Jamie" not in text
    assert "X-Autoreply: set" in result.signals
    assert "Auto-Submitted: other" in result.signals
    forged = of_headers(f"From: a@b.example\n{OWN_MAIL_HEADER}: {name}")
    assert forged.verdict is Verdict.PERSON
    assert forged.signals == (f"{OWN_MAIL_HEADER}: present, not signed by us (forged or altered)",)
