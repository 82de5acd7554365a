"""Who may change a case, through the whole daemon: as an outsider would try it (issue 10).

An escalation from a school, addressed to social care and copied to the
school's team manager, is steered by mail afterwards. Strangers, people a
stranger copies in, forged staff mail and quoted commands change nothing and
the business manager hears of each outsider once; the partnership's staff,
vouched for by its own gateway, and the raiser can act.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.clock import FrozenClock

MON = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
RAISER = "p.shah@oakfield.example.sch.uk"
CHALLENGED = "duty.manager@socialcare.example.gov.uk"
COPIED = "team.manager@oakfield.example.sch.uk"
BM = "sscp@solihull.gov.uk"  # staff in the rule file
GATEWAY = "mx.solihull.gov.uk"  # trusted in the flow configuration
PASS = f"{GATEWAY}; spf=pass smtp.mailfrom=solihull.gov.uk; dmarc=pass header.from=solihull.gov.uk"


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink) -> Harness:
    h = Harness(flow_config(tmp_path, sqlite_url, smtp_sink.port), clock=FrozenClock(MON))
    h.deliver(
        rfc822(
            message_id="<esc@oakfield.example.sch.uk>",
            to=f"SSCP <{BM}>, Duty Manager <{CHALLENGED}>",
            extra_headers=[("Cc", f"Team Manager <{COPIED}>")],
            body="We disagree with the decision to close the case.\n",
        )
    )
    h.run()
    return h


def _reply(n: int, sender: str, body: str, *headers: tuple[str, str], cc: str = "") -> bytes:
    extra = [*headers, *([("Cc", cc)] if cc else [])]
    return rfc822(
        sender=sender,
        message_id=f"<r{n}@mail.example>",
        subject="RE: [SSCP-2026-0001] Escalation received",
        body=body,
        extra_headers=extra,
    )


def _case(h: Harness) -> tuple[int, list[str], str]:
    [case] = h.cases()
    return case.stage, case.flags, case.status


def test_the_escalations_people_are_its_participants(h: Harness) -> None:
    from sqlalchemy import select

    from tracker.model import Participant

    with h.store.transaction() as s:
        rows = {(p.address, p.role) for p in s.scalars(select(Participant))}
    assert rows == {(RAISER, "raiser"), (CHALLENGED, "addressed"), (COPIED, "copied")}


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("Stranger <stranger@evil.example>", []),
        # Staff From with no Authentication-Results at all.
        (f"SSCP <{BM}>", []),
        # dmarc=none from the trusted gateway.
        (
            f"SSCP <{BM}>",
            [("Authentication-Results", f"{GATEWAY}; dmarc=none header.from=solihull.gov.uk")],
        ),
        # dmarc=pass, but from a gateway nobody trusts.
        (
            f"SSCP <{BM}>",
            [("Authentication-Results", "mx.evil.example; dmarc=pass header.from=solihull.gov.uk")],
        ),
    ],
    ids=["stranger", "staff-no-auth", "staff-dmarc-none", "staff-untrusted-gateway"],
)
def test_outsiders_and_forged_staff_change_nothing_and_the_bm_is_told_once(
    h: Harness, smtp_sink: SmtpSink, sender: str, headers: list[tuple[str, str]]
) -> None:
    before = _case(h)
    h.deliver(_reply(1, sender, "Status: resolved\nStage: 4\nFlag: looked_after\n", *headers))
    h.deliver(_reply(2, sender, "Good news: this has now been resolved.\n", *headers))
    h.run()
    assert _case(h) == before
    events = h.events("SSCP-2026-0001")
    assert [e.kind for e in events].count("unverified") == 2
    told = [o for o in h.outbox() if o.kind == "outsider"]
    assert len(told) == 1 and told[0].recipients == [BM]


def test_a_display_name_holding_a_staff_address_is_held(h: Harness) -> None:
    h.deliver(_reply(1, f'"{BM}" <attacker@evil.example>', "Status: resolved\n"))
    report = h.run()
    assert report.outcomes["quarantined"] == 1
    assert _case(h)[2] == "open"


def test_someone_a_stranger_copies_in_is_no_participant(h: Harness) -> None:
    h.deliver(
        _reply(
            1, "Stranger <stranger@evil.example>", "Adding my friend.\n", cc="friend@evil.example"
        )
    )
    h.deliver(_reply(2, "Friend <friend@evil.example>", "Status: resolved\n"))
    h.run()
    assert _case(h)[2] == "open"
    assert [e.kind for e in h.events("SSCP-2026-0001")].count("unverified") == 2


def test_a_quoted_command_does_not_act_with_the_repliers_authority(h: Harness) -> None:
    body = (
        "I disagree, this is still open.\n\n"
        "-----Original Message-----\n"
        f"From: Someone <{COPIED}>\n"
        "Sent: 09 November 2026 09:00\n"
        "Subject: RE: [SSCP-2026-0001]\n\n"
        "This has now been resolved.\nStatus: resolved\nFlag: -cp_plan\n"
    )
    h.deliver(_reply(1, f"SSCP <{BM}>", body, ("Authentication-Results", PASS)))
    h.run()
    assert _case(h)[2] == "open"


def test_staff_vouched_for_by_the_gateway_can_steer(h: Harness) -> None:
    h.deliver(
        _reply(1, f"SSCP <{BM}>", "Stage: 3\nFlag: cp_plan\n", ("Authentication-Results", PASS))
    )
    h.run()
    assert _case(h)[:2] == (3, ["cp_plan"])
    h.deliver(
        _reply(2, f"SSCP <{BM}>", "Stage: 2\nFlag: -cp_plan\n", ("Authentication-Results", PASS))
    )
    h.run()
    assert _case(h)[:2] == (2, [])
    assert not [o for o in h.outbox() if o.kind == "outsider"]


def test_the_raisers_resolution_works_and_is_told(h: Harness, smtp_sink: SmtpSink) -> None:
    h.deliver(_reply(1, f"Priya Shah <{RAISER}>", "Thank you: the matter has now been resolved.\n"))
    h.run()
    assert _case(h)[2] == "resolved"
    told = sorted(r for o in h.outbox() if o.kind == "resolved" for r in o.recipients)
    assert told == sorted([RAISER, BM])


def test_someone_copied_in_may_move_forward_but_not_resolve(h: Harness) -> None:
    h.deliver(
        _reply(1, f"Team Manager <{COPIED}>", "We are escalating to the next managerial level.\n")
    )
    h.deliver(_reply(2, f"Team Manager <{COPIED}>", "Status: resolved\n"))
    h.run()
    assert _case(h)[0] == 2 and _case(h)[2] == "open"
    refused = [e.detail for e in h.events("SSCP-2026-0001") if e.kind == "not-applied"]
    assert len(refused) == 1 and COPIED in refused[0]
