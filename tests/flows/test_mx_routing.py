"""One mailbox behind an MX serving all five partnerships (issue 11, part 1).

Each escalation arrives as a Postfix MX hands it over: ``Delivered-To`` the
watched mailbox (also one of Solihull's intake addresses), ``X-Original-To``
the alias the sender used, and ``Received: ... for <alias>`` hops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822

MAILBOX = "sscp@solihull.gov.uk"
#: The alias each partnership's practitioners write to. Hull's comes from the config only.
ALIASES = {
    "solihull": "cpru@solihull.gov.uk",
    "merton": "escalations@merton.gov.uk",
    "bedfordshire": "lscb@centralbedfordshire.gov.uk",
    "hull": "safeguarding.disputes@hullcc.gov.uk",
    "llr": "escalations@leics.gov.uk",
}
PREFIXES = {"solihull": "SSCP", "merton": "MSCP", "bedfordshire": "BED", "hull": "HSCB"}


def _via_mx(alias: str, n: int, **fields: Any) -> bytes:
    """A message as the MX delivers it into the shared mailbox."""
    trace = [
        ("Return-Path", "<sender@school.example>"),
        ("X-Original-To", alias),
        ("Delivered-To", MAILBOX),
        (
            "Received",
            f"from mx1.solihull.gov.uk (mx1.solihull.gov.uk [192.0.2.10]) by "
            f"imap.solihull.gov.uk (Postfix) with ESMTPS id 4F{n}A for <{MAILBOX}>; "
            "Mon, 16 Nov 2026 09:00:02 +0000 (GMT)",
        ),
        (
            "Received",
            f"from mail.school.example (mail.school.example [198.51.100.7]) by "
            f"mx1.solihull.gov.uk (Postfix) with ESMTPS id 9B{n}C for <{alias}>; "
            "Mon, 16 Nov 2026 09:00:01 +0000 (GMT)",
        ),
    ]
    return rfc822(extra_headers=trace, **fields)


def test_one_mailbox_behind_an_mx_routes_all_five_partnerships(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    config = flow_config(
        tmp_path,
        sqlite_url,
        smtp_sink.port,
        partnerships={
            "bedfordshire": {"prefix": "BED"},
            "hull": {"prefix": "HSCB", "addresses": [ALIASES["hull"]]},
            "llr": {},
        },
    )
    shared = config.mailbox[0].model_copy(update={"partnership": list(ALIASES)})
    config = config.model_copy(update={"mailbox": [shared, *config.mailbox[1:]]})
    h = Harness(config)
    for n, (name, alias) in enumerate(ALIASES.items()):
        # LLR's sender wrote to a colleague and Bcc'd the alias: only the envelope knows.
        to = "colleague@leicester.gov.uk" if name == "llr" else alias
        h.deliver(_via_mx(alias, n, message_id=f"<esc-{name}@school.example>", to=to))
    report = h.run()
    assert report.outcomes["case"] == 5 and report.outcomes.get("quarantined", 0) == 0
    cases = {c.partnership: c for c in h.cases()}
    assert set(cases) == set(ALIASES)
    for name, prefix in PREFIXES.items():
        assert cases[name].reference.startswith(prefix + "-"), cases[name].reference

    for n, (name, alias) in enumerate(ALIASES.items()):
        h.deliver(
            _via_mx(
                alias,
                10 + n,
                message_id=f"<reply-{name}@school.example>",
                subject=f"RE: Escalation about a child [{cases[name].reference}]",
                in_reply_to=f"<esc-{name}@school.example>",
                to=alias,
                body="An update: the strategy meeting is now booked.\n",
            )
        )
    report = h.run()
    assert report.outcomes["thread"] == 5 and report.outcomes.get("case", 0) == 0
    by_id = {c.id: c.partnership for c in h.cases()}
    replies = {
        m.message_id: by_id[m.case_id]
        for m in h.messages()
        if m.direction == "in"
        and m.message_id
        and m.message_id.startswith("reply-")
        and m.case_id is not None
    }
    assert replies == {f"reply-{name}@school.example": name for name in ALIASES}


def test_own_address_alone_decides_nothing_in_a_shared_mailbox(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    config = flow_config(tmp_path, sqlite_url, smtp_sink.port, partnerships={"llr": {}})
    shared = config.mailbox[0].model_copy(update={"partnership": ["solihull", "llr"]})
    config = config.model_copy(update={"mailbox": [shared, *config.mailbox[1:]]})
    h = Harness(config)
    h.deliver(_via_mx(MAILBOX, 1, message_id="<own@school.example>", to=MAILBOX))
    report = h.run()
    assert report.outcomes["quarantined"] == 1 and not h.cases()
    [held] = h.raws()
    assert "cannot tell which partnership" in (held.reason or "")
