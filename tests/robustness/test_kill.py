"""No loss, no doubles: SIGKILL a real daemon process at 50+ points, restart, check.

A mailbox batch of new escalations, replies, auto-replies, cross-mailbox
duplicates and broken messages is processed by ``tracker run --once`` in a
child process that kills itself (SIGKILL, no clean-up) at a chosen crash
point: any SQL statement, just before or after an SMTP hand-over, just
before or after moving messages on the mailbox. It is restarted until a run
completes. Then every message must have ended as exactly one of
case / thread / ignored / quarantined, no case may exist twice, no
acknowledgement may reach the SMTP server twice, and nothing may be left in
the inbox.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822

ROOT = Path(__file__).parents[2]


def _run_once(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """``tracker run --once`` in a child process, under the crash-point hooks."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.robustness.crashpoint",
            "--config",
            str(tmp_path / "config.toml"),
            "run",
            "--once",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )


def _corpus(h: Harness) -> Counter[str]:
    """Deliver the batch; return the outcomes it must end with."""
    expected: Counter[str] = Counter()
    for i in range(12):
        h.deliver(
            rfc822(
                sender=f"Worker {i} <worker{i}@agency{i}.example>",
                subject=f"Escalation {i}",
                message_id=f"<esc{i}@agency{i}.example>",
            )
        )
        expected["case"] += 1
        if i % 3 == 0:  # the same escalation also reached the second mailbox
            h.deliver(
                b"Delivered-To: cpru@solihull.gov.uk\r\n"
                + rfc822(
                    sender=f"Worker {i} <worker{i}@agency{i}.example>",
                    subject=f"Escalation {i}",
                    message_id=f"<esc{i}@agency{i}.example>",
                ),
                "cpru",
            )
            expected["ignored"] += 1
        if i % 2 == 0:
            h.deliver(
                rfc822(
                    sender=f"Worker {i} <worker{i}@agency{i}.example>",
                    subject=f"RE: Escalation {i}",
                    message_id=f"<re{i}@agency{i}.example>",
                    in_reply_to=f"<esc{i}@agency{i}.example>",
                )
            )
            expected["thread"] += 1
        if i % 4 == 1:
            h.deliver(
                rfc822(
                    sender=f"Worker {i} <worker{i}@agency{i}.example>",
                    subject="Automatic reply: away",
                    message_id=f"<ooo{i}@x.example>",
                    extra_headers=[("Auto-Submitted", "auto-replied")],
                )
            )
            expected["ignored"] += 1
        if i % 5 == 2:
            h.deliver(b"\r\n\r\n" if i % 2 else rfc822(sender="nobody", message_id=f"<bad{i}@x>"))
            expected["quarantined"] += 1
    return expected


@pytest.mark.slow
def test_sigkill_at_fifty_points_loses_and_doubles_nothing(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    config = flow_config(
        tmp_path,
        sqlite_url,
        smtp_sink.port,
        batch_size=5,
        # Kills here are not the messages' fault: never treat one as poison.
        limits={"auto_mail_per_sender_per_hour": 100, "max_processing_attempts": 1000},
    )
    h = Harness(config)
    expected = _corpus(h)
    kill_log = str(tmp_path / "kills")
    rng = random.Random(20261122)
    batches = itertools.count()
    kills: list[int] = []
    for _ in range(300):
        kill_at = rng.randint(1, 90)
        proc = _run_once(tmp_path, TRACKER_KILL_LOG=kill_log, TRACKER_KILL_AT=str(kill_at))
        if proc.returncode == -9:
            kills.append(kill_at)
            continue
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        if len(kills) >= 50:
            break
        # The run finished before its kill point: start the batch again with more mail
        # only if we still need kill points.
        extra = _corpus_more(h, next(batches))
        expected += extra
    assert len(kills) >= 50, f"only {len(kills)} kills"
    points = (tmp_path / "kills").read_text().splitlines()
    assert len(set(points)) >= 20, points  # many different places, not one place 50 times
    labels = " ".join(points)
    for place in ("sql:insert", "sql:update", "SmtpSender.send", "MaildirSource.ack"):
        assert place in labels, f"no kill at {place}: {points}"

    # A last clean run finishes anything still pending.
    final = _run_once(tmp_path)
    assert final.returncode == 0, final.stderr.decode()[-3000:]

    raws = h.raws()
    # (acked_at is best effort: a kill between the move and its record leaves it empty;
    # the empty inboxes below are the real check.)
    assert all(r.state == "done" for r in raws)
    assert Counter(r.outcome for r in raws) == expected, "\n".join(
        f"{r.id} {r.mailbox} {r.outcome}: {r.reason} (attempts {r.attempts}, replays {r.replays})"
        for r in raws
    )
    for m in config.mailbox:
        assert h.folder(m.name, None) == [], f"{m.name}: messages left in the inbox"
    cases = h.cases()
    assert len(cases) == expected["case"]
    assert len({c.raised_by + str(c.opened_at) for c in cases}) == len(cases)
    # At most one acknowledgement per case reached the relay, ever.
    received = Counter(str(r.parsed()["Message-ID"]) for r in smtp_sink.messages)
    assert all(n == 1 for n in received.values()), received
    per_case = Counter(str(r.parsed()["Subject"]).split("]")[0] for r in smtp_sink.messages)
    assert all(n == 1 for n in per_case.values()), per_case
    outbox = h.outbox()
    assert len(outbox) == len(cases)
    sent_ids = {f"<{o.message_id}>" for o in outbox if o.state == "sent"}
    assert sent_ids <= set(received)
    # Anything not 'sent' died mid-hand-over and is held for an operator, never resent.
    assert {o.state for o in outbox} <= {"sent", "sending", "uncertain"}


def _corpus_more(h: Harness, salt: int) -> Counter[str]:
    expected: Counter[str] = Counter()
    for j in range(4):
        n = 1000 + salt * 10 + j
        h.deliver(
            rfc822(
                sender=f"Late {n} <late{n}@agency.example>",
                subject=f"Escalation {n}",
                message_id=f"<late{n}@agency.example>",
            )
        )
        expected["case"] += 1
    return expected


@pytest.mark.slow
def test_message_that_kills_the_daemon_is_quarantined_after_three_tries(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    config = flow_config(tmp_path, sqlite_url, smtp_sink.port, batch_size=10)
    h = Harness(config)
    h.deliver(rfc822(message_id="<good1@school.example>", subject="first"))
    h.deliver(rfc822(message_id="<poison@school.example>", subject="POISON"))
    h.deliver(rfc822(message_id="<good2@school.example>", subject="second"))
    codes = [_run_once(tmp_path, TRACKER_POISON="POISON").returncode for _ in range(5)]
    # Killed while the poison is in the batch, then while it is tried alone (twice more),
    # then it is quarantined without another try and the run completes.
    assert codes[:3] == [-9, -9, -9] and codes[3:] == [0, 0], codes
    outcomes = {r.external_id.split("/")[-1]: r.outcome for r in h.raws()}
    assert sorted(outcomes.values()) == ["case", "case", "quarantined"]
    [held] = [r for r in h.raws() if r.outcome == "quarantined"]
    assert "stopped the daemon 3 times" in (held.reason or "")
    assert len(h.cases()) == 2 and len(smtp_sink.wait_for(2)) == 2
