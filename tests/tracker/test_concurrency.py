"""Two daemons on one PostgreSQL database, racing on the same escalations."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ingest.raw import RawMessage
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822


@pytest.mark.postgres
@pytest.mark.parametrize("with_message_id", [True, False], ids=["message-id", "content-hash"])
def test_same_message_in_two_mailboxes_at_once_is_one_case(
    tmp_path: Path, pg_url: str, with_message_id: bool
) -> None:
    config = flow_config(tmp_path, pg_url, None, limits={"auto_mail_per_sender_per_hour": 1000})
    a, b = Harness(config), Harness(config)  # two services, two engines: two daemons
    n = 25
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(h: Harness, mailbox: str) -> None:
        try:
            for i in range(n):
                data = rfc822(
                    message_id=f"<race{i}@school.example>" if with_message_id else None,
                    sender=f"P <p{i}@school.example>",
                )
                raw = RawMessage(
                    mailbox,
                    f"new/{i}",
                    h.clock.now(),
                    f"Delivered-To: {mailbox}@x\r\n".encode() + data,
                )
                barrier.wait(timeout=30)
                h.service.process_stored(h.service.commit_raw([raw]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(a, "sscp")),
        threading.Thread(target=run, args=(b, "cpru")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    cases = a.cases()
    assert len(cases) == n
    assert len({c.reference for c in cases}) == n
    assert len(a.outbox()) == n  # one acknowledgement each
    outcomes = sorted(r.outcome or "" for r in a.raws())
    assert outcomes == ["case"] * n + ["ignored"] * n
