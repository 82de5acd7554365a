"""Envelope recipients read from the trace of a message delivered behind an MX."""

from __future__ import annotations

import time

from ingest.parse import parse
from ingest.parse.envelope import MAX_RECEIVED, envelope_recipients, received_for
from tests.helpers import rfc822

HOP = (
    "from mail.school.example (mail.school.example [198.51.100.7]) by mx1.solihull.gov.uk "
    "(Postfix) with ESMTPS id 9BC for <{}>; Mon, 16 Nov 2026 09:00:01 +0000 (GMT)"
)


def test_order_is_x_original_to_then_delivered_to_then_received_topmost_first() -> None:
    data = rfc822(
        to="escalations@merton.gov.uk",
        extra_headers=[
            ("X-Original-To", "Escalations@Merton.gov.uk"),
            ("Delivered-To", "sscp@solihull.gov.uk"),
            ("Received", HOP.format("sscp@solihull.gov.uk")),
            ("Received", HOP.format("escalations@merton.gov.uk")),
            ("Received", HOP.format("list@relay.example")),
        ],
    )
    assert parse(data).envelope_recipients == (
        "escalations@merton.gov.uk",
        "sscp@solihull.gov.uk",
        "list@relay.example",
    )


def test_received_without_for_or_unreadable_adds_nothing() -> None:
    assert received_for("by mx1.example.org with LMTP; Mon, 16 Nov 2026 09:00:01 +0000") is None
    assert received_for("((((((") is None
    assert envelope_recipients([("received", "from x by y for not-an-address; date")]) == ()


def test_received_for_forms_seen_in_real_mail() -> None:
    assert received_for(HOP.format("a@b.example")) == "<a@b.example>"
    got = envelope_recipients(
        [("received", "from a by b with SMTP id 1 for a@b.example; Mon, 16 Nov 2026 09:00 +0000")]
    )
    assert got == ("a@b.example",)


def test_only_the_first_hops_are_read() -> None:
    headers = [("received", HOP.format(f"r{i}@relay.example")) for i in range(MAX_RECEIVED + 5)]
    got = envelope_recipients(headers)
    assert len(got) == MAX_RECEIVED and got[0] == "r0@relay.example"


def test_a_mail_loop_of_500_received_headers_is_still_fast() -> None:
    hostile = [("Received", HOP.format(f"loop{i}@relay.example")) for i in range(500)]
    hostile += [("Received", "from " + "(" * 5000 + " for <" * 2000)] * 20
    data = rfc822(extra_headers=hostile)
    start = time.perf_counter()
    email = parse(data)
    elapsed = time.perf_counter() - start
    assert len(email.envelope_recipients) == MAX_RECEIVED
    assert elapsed < 2.0, elapsed
