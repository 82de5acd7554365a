"""classify() as an attacker tries it: spoofed staff, forged own mail, robots hiding people.

Staff commands count only when ``Classification.authenticated`` is True, so
every way of faking a staff From must leave it False; mail that may be an
escalation must never be ignored as a robot's.
"""

from __future__ import annotations

import pytest

from ingest.classify import (
    OWN_MAIL_HEADER,
    Classification,
    Policy,
    Verdict,
    classify,
    own_header_signature,
)
from ingest.parse import parse

GATEWAY = "mx1.solihull.gov.uk"
KEY = b"this install's own-header key"
POLICY = Policy(
    trusted_authserv_ids=frozenset({GATEWAY}),
    protected_domains=frozenset({"solihull.gov.uk", "nhs.net"}),
    own_addresses=frozenset({"sscp@solihull.gov.uk"}),
    own_header_key=KEY,
)
STAFF = "From: SSCP Business Manager <sscp@solihull.gov.uk>\n"
COMMAND = "To: sscp@solihull.gov.uk\nSubject: Re: [SSCP-2026-0001] Escalation\n"


def of(headers: str, body: str = "Status: resolved\n", policy: Policy = POLICY) -> Classification:
    return classify(parse((headers.strip("\n") + "\n\n" + body).encode()), policy)


def test_real_staff_mail_checked_by_the_gateway_is_authenticated() -> None:
    result = of(
        f"Authentication-Results: {GATEWAY}; spf=pass smtp.mailfrom=solihull.gov.uk;"
        " dkim=pass header.d=solihull.gov.uk; dmarc=pass (p=reject) header.from=solihull.gov.uk\n"
        + STAFF
        + COMMAND
    )
    assert result.verdict is Verdict.PERSON
    assert result.authenticated is True
    assert result.origin == f"dmarc=pass by {GATEWAY} for solihull.gov.uk"


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param("", id="no Authentication-Results at all"),
        pytest.param(
            f"Authentication-Results: {GATEWAY}; dmarc=none header.from=solihull.gov.uk\n",
            id="dmarc=none from the trusted gateway",
        ),
        pytest.param(
            "Authentication-Results: mx.evil.example; dmarc=pass header.from=solihull.gov.uk\n",
            id="dmarc=pass from an untrusted authserv-id",
        ),
        pytest.param(
            f"Authentication-Results: {GATEWAY}; dmarc=none header.from=solihull.gov.uk\n"
            f"Authentication-Results: {GATEWAY}; dmarc=pass header.from=solihull.gov.uk\n",
            id="a pass lower in the stack, below the gateway's own none",
        ),
        pytest.param(
            f"Authentication-Results: {GATEWAY}; dmarc=pass header.from=evil.example\n",
            id="dmarc=pass for another domain than From",
        ),
        pytest.param(
            f"Authentication-Results: {GATEWAY}; dmarc=pass\n",
            id="dmarc=pass without header.from",
        ),
        pytest.param(
            f"Authentication-Results: {GATEWAY}; dkim=pass header.d=solihull.gov.uk"
            " (dmarc=pass header.from=solihull.gov.uk)\n",
            id="dmarc=pass only inside a comment",
        ),
    ],
)
def test_spoofed_staff_is_not_authenticated(auth: str) -> None:
    result = of(auth + STAFF + COMMAND)
    assert result.authenticated is False
    assert result.origin == ""


def test_nothing_is_authenticated_without_trusted_ids() -> None:
    result = of(
        f"Authentication-Results: {GATEWAY}; dmarc=pass header.from=solihull.gov.uk\n"
        + STAFF
        + COMMAND,
        policy=Policy(protected_domains=POLICY.protected_domains),
    )
    assert result.authenticated is False


def test_a_subdomain_sender_aligns_with_its_organisational_domain() -> None:
    result = of(
        f"Authentication-Results: {GATEWAY}; dmarc=pass header.from=solihull.gov.uk\n"
        "From: Jo <jo@schools.solihull.gov.uk>\n" + COMMAND
    )
    assert result.authenticated is True


@pytest.mark.parametrize(
    "sender",
    [
        '"sscp@solihull.gov.uk" <attacker@evil.example>',
        "sscp@solihull.gov.uk <attacker@evil.example>",
        "=?utf-8?q?sscp=40solihull=2Egov=2Euk?= <attacker@evil.example>",
        '"SSCP (sscp@solihull.gov.uk)" <attacker@evil.example>',
    ],
)
def test_a_display_name_that_looks_like_an_address_is_held(sender: str) -> None:
    # The gateway judged the real sender's domain and said so.
    email = parse(
        (
            f"Authentication-Results: {GATEWAY}; dmarc=pass header.from=evil.example\n"
            f"From: {sender}\n{COMMAND}\nStatus: resolved\n"
        ).encode()
    )
    assert email.from_ is not None and email.from_.addr == "attacker@evil.example"
    result = classify(email, POLICY)
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.reason == (
        "display name shows an address at solihull.gov.uk but the mail is from evil.example"
    )
    assert "sscp" not in result.reason and "attacker" not in result.reason
    assert result.authenticated is False  # From is evil.example: nothing to do with staff


def test_a_display_name_repeating_the_senders_own_address_is_fine() -> None:
    result = of(f"From: p.shah@oakfield.sch.uk <P.Shah@oakfield.sch.uk>\n{COMMAND}")
    assert result.verdict is Verdict.PERSON


def test_exchange_auto_forwarded_escalation_is_a_person() -> None:
    result = of(
        "From: Priya Shah <p.shah@oakfield.sch.uk>\nTo: sscp@solihull.gov.uk\n"
        "Subject: FW: Escalation about a child\nAuto-Submitted: auto-forwarded\n"
        "X-MS-Exchange-Inbox-Rules-Loop: p.shah@oakfield.sch.uk\n",
        body="We disagree with the decision to close the case.\n",
    )
    assert result.verdict is Verdict.PERSON
    assert "Auto-Submitted: auto-forwarded" in result.signals
    assert result.automated is False


def test_auto_replied_is_still_an_auto_reply() -> None:
    result = of("From: a@b.example\nSubject: Away\nAuto-Submitted: auto-replied\n")
    assert result.verdict is Verdict.AUTO_REPLY


@pytest.mark.parametrize(
    "marker", ["Precedence: bulk", "Precedence: list", "List-Id: <sg.solihull.gov.uk>"]
)
def test_list_marked_mail_from_a_partnership_domain_is_held(marker: str) -> None:
    result = of(
        f"From: Safeguarding Team <team@solihull.gov.uk>\nSubject: Update\n{marker}\n",
        body="Please see the attached.\n",
    )
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.reason.startswith(
        "bulk or list markers on mail from a partnership or agency domain ("
    )
    assert result.automated is False


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Escalation about a child", "Hello.\n"),
        ("Re: our meeting", "We disagree with the decision to close the case.\n"),
        ("Child protection plan", "Hello.\n"),
    ],
)
def test_list_marked_mail_that_reads_as_an_escalation_is_held(subject: str, body: str) -> None:
    result = of(
        f"From: Priya Shah <p.shah@oakfield.sch.uk>\nSubject: {subject}\n"
        "List-Id: <staff.oakfield.sch.uk>\nPrecedence: list\n",
        body=body,
    )
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.reason == (
        "bulk or list markers on mail that reads as an escalation"
        " (Precedence: list; List-Id present)"
    )


def test_a_newsletter_is_still_bulk() -> None:
    result = of(
        "From: News <news@lists.example.org>\nSubject: March newsletter\nPrecedence: bulk\n"
        "List-Unsubscribe: <mailto:leave@lists.example.org>\n",
        body="Training dates and an updated escalation procedure.\n",
    )
    assert result.verdict is Verdict.BULK


def test_forged_own_header_is_not_own_mail() -> None:
    result = of(
        "From: Priya Shah <p.shah@oakfield.sch.uk>\nMessage-ID: <e1@oakfield.sch.uk>\n"
        f"Subject: Escalation\n{OWN_MAIL_HEADER}: SSCP-2026-0001; kind=ack\n",
        body="We disagree.\n",
    )
    assert result.verdict is Verdict.PERSON
    assert f"{OWN_MAIL_HEADER}: SSCP-2026-0001; kind=ack, not signed by us (forged or altered)" in (
        result.signals
    )


@pytest.mark.parametrize(
    "sig",
    [
        own_header_signature(b"some other install's key", "e1@oakfield.sch.uk"),
        own_header_signature(KEY, "another-message@solihull.gov.uk"),  # copied from a real ack
        "0" * 32,
        "",
    ],
)
def test_a_signature_for_anything_else_is_not_ours(sig: str) -> None:
    result = of(
        "From: Priya Shah <p.shah@oakfield.sch.uk>\nMessage-ID: <e1@oakfield.sch.uk>\n"
        f"Subject: Escalation\n{OWN_MAIL_HEADER}: SSCP-2026-0001; kind=ack; sig={sig}\n"
    )
    assert result.verdict is Verdict.PERSON


def test_our_signed_header_is_own_mail() -> None:
    sig = own_header_signature(KEY, "a1.ack.SSCP-2026-0001@solihull.gov.uk")
    result = of(
        "From: sscp@solihull.gov.uk\nMessage-ID: <a1.ack.SSCP-2026-0001@solihull.gov.uk>\n"
        "Subject: [SSCP-2026-0001] Received\n"
        f"{OWN_MAIL_HEADER}: SSCP-2026-0001; kind=ack; sig={sig}\n"
    )
    assert result.verdict is Verdict.OWN
    assert result.reason == f"own mail ({OWN_MAIL_HEADER}: SSCP-2026-0001; kind=ack)"
    assert sig not in result.reason


def test_a_safeguarding_bulletin_is_still_bulk() -> None:
    """A partnership's mailbox gets bulletins about safeguarding every month: not held."""
    result = of(
        "From: Safeguarding News <news@bulletin.example.org>\n"
        "Subject: November safeguarding bulletin\nPrecedence: bulk\n"
        "List-Id: Safeguarding bulletin <bulletin.example.org>\n",
        body="This month: new guidance on neglect.\n",
    )
    assert result.verdict is Verdict.BULK
