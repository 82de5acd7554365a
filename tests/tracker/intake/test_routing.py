"""The partnership of a new escalation in a mailbox serving several (issue 11, part 1)."""

from __future__ import annotations

from ingest.parse.types import Address
from tests.helpers import make_email
from tracker.intake.routing import partnership_for

MAILBOX = "sscp@solihull.gov.uk"
INTAKE = {
    "solihull": frozenset({"sscp@solihull.gov.uk", "cpru@solihull.gov.uk"}),
    "merton": frozenset({"escalations@merton.gov.uk"}),
    "llr": frozenset({"escalations@leics.gov.uk"}),
}


def _to(*addrs: str) -> tuple[Address, ...]:
    return tuple(Address("", a) for a in addrs)


def test_one_partnership_needs_no_evidence() -> None:
    email = make_email(to=_to("someone@elsewhere.example"))
    assert partnership_for({"merton": INTAKE["merton"]}, email, MAILBOX) == "merton"


def test_x_original_to_wins_over_the_mailbox_own_delivered_to() -> None:
    email = make_email(
        to=_to("escalations@merton.gov.uk"),
        envelope_recipients=("escalations@merton.gov.uk", MAILBOX),
    )
    assert partnership_for(INTAKE, email, MAILBOX) == "merton"


def test_envelope_decides_before_to_and_cc() -> None:
    # Bcc'd to LLR's alias; the visible To is Solihull's other address.
    email = make_email(
        to=_to("cpru@solihull.gov.uk"),
        envelope_recipients=(MAILBOX, "escalations@leics.gov.uk"),
    )
    assert partnership_for(INTAKE, email, MAILBOX) == "llr"


def test_first_envelope_address_that_matches_decides() -> None:
    # A Received hop further down names an older alias: the topmost evidence counts.
    email = make_email(envelope_recipients=("escalations@leics.gov.uk", "cpru@solihull.gov.uk"))
    assert partnership_for(INTAKE, email, MAILBOX) == "llr"


def test_to_and_cc_when_the_envelope_says_nothing_useful() -> None:
    email = make_email(
        to=_to("Escalations@Merton.gov.uk"),
        cc=_to("head@school.example"),
        envelope_recipients=(MAILBOX, "relay@isp.example"),
    )
    assert partnership_for(INTAKE, email, MAILBOX) == "merton"


def test_own_address_alone_decides_nothing() -> None:
    email = make_email(to=_to(MAILBOX), envelope_recipients=(MAILBOX,))
    assert partnership_for(INTAKE, email, MAILBOX) is None


def test_own_address_counts_when_the_mailbox_serves_one_partnership() -> None:
    email = make_email(to=_to(MAILBOX), envelope_recipients=(MAILBOX,))
    assert partnership_for({"solihull": INTAKE["solihull"]}, email, MAILBOX) == "solihull"


def test_several_in_to_and_cc_is_held_as_before() -> None:
    email = make_email(to=_to("escalations@merton.gov.uk"), cc=_to("escalations@leics.gov.uk"))
    assert partnership_for(INTAKE, email, MAILBOX) is None


def test_an_address_shared_by_two_partnerships_is_held() -> None:
    shared = {**INTAKE, "hull": frozenset({"escalations@merton.gov.uk"})}
    email = make_email(envelope_recipients=("escalations@merton.gov.uk",))
    assert partnership_for(shared, email, MAILBOX) is None


def test_nothing_matching_is_held() -> None:
    email = make_email(to=_to("someone@elsewhere.example"), envelope_recipients=(MAILBOX,))
    assert partnership_for(INTAKE, email, MAILBOX) is None
