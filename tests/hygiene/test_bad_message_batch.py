"""One message that cannot be written never fails its batch.

A From address longer than the column allows (an attacker's 400-character
local part) makes PostgreSQL refuse the write of the whole batch; the
service then writes the batch's messages one by one, so the two real
escalations beside it still open cases and only the bad one is quarantined,
its traceback kept for review in ``raw_mail.error``, not logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.kinds import Outcome

LONG_LOCAL = "jamie.testchild." + "x" * 400


@pytest.fixture
def h(tmp_path: Path, pg_url: str) -> Harness:
    return Harness(flow_config(tmp_path, pg_url, None))


def test_an_unwritable_message_is_quarantined_and_its_batch_is_written(
    h: Harness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    h.deliver(rfc822(message_id="<first@oakfield.example.sch.uk>"))
    h.deliver(
        rfc822(
            sender=f"Someone <{LONG_LOCAL}@example.org>",
            message_id="<long-from@example.org>",
            body="Child's name: Jamie Testchild\nWe disagree with the decision.\n",
        )
    )
    h.deliver(
        rfc822(
            sender="Dana Fictional <dana@northshire.example>",
            message_id="<third@northshire.example>",
        )
    )
    report = h.run()

    raws = h.raws()
    assert [r.outcome for r in raws] == [Outcome.CASE, Outcome.QUARANTINED, Outcome.CASE]
    assert len(h.cases()) == 2
    bad = raws[1]
    assert bad.state == "done"
    assert bad.reason is not None and bad.reason.startswith("processing failed")
    assert bad.error and "Traceback" in bad.error
    # The batch went through: every message was moved out of new/ (none left to retry).
    assert h.folder("sscp", None) == []
    assert report is not None
    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err):
        assert "testchild" not in text.lower()


def test_the_bad_message_is_not_tried_again_on_the_next_run(h: Harness) -> None:
    h.deliver(rfc822(sender=f"<{LONG_LOCAL}@example.org>", message_id="<again@example.org>"))
    h.run()
    h.run()
    [raw] = h.raws()
    assert raw.outcome == Outcome.QUARANTINED
    assert raw.attempts == 1
