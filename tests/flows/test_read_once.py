"""Each message is parsed once and classified once, however many stages look at it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tracker.intake.reading
from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822


def test_parse_and_classify_run_once_per_message(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()
    real_parse, real_classify = tracker.intake.reading.parse, tracker.intake.reading.classify

    def parse(data: bytes, *args: Any, **kw: Any) -> Any:
        calls["parse"] += 1
        return real_parse(data, *args, **kw)

    def classify(email: Any, policy: Any) -> Any:
        calls["classify"] += 1
        return real_classify(email, policy)

    monkeypatch.setattr(tracker.intake.reading, "parse", parse)
    monkeypatch.setattr(tracker.intake.reading, "classify", classify)
    h = Harness(flow_config(tmp_path, sqlite_url, smtp_sink.port))
    h.deliver(rfc822(message_id="<esc@school.example>"))
    h.deliver(
        rfc822(
            message_id="<re@school.example>",
            in_reply_to="<esc@school.example>",
            subject="RE: Escalation about a child",
            body="We are now escalating this to the next managerial level.\n",
        )
    )
    h.deliver(
        rfc822(
            message_id="<ooo@school.example>",
            subject="Automatic reply: out of office",
            extra_headers=[("Auto-Submitted", "auto-replied")],
        )
    )
    report = h.run()
    assert report.outcomes["case"] == 1 and report.outcomes["thread"] == 1
    assert report.outcomes["ignored"] == 1
    assert calls == Counter(parse=3, classify=3)
