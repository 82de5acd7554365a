"""Mailbox → service → outbox → real SMTP server, end to end."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822

CHILD_NAME = "Jamie Example"
CHILD_DOB = "03/04/2016"


@pytest.fixture
def h(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> Harness:
    return Harness(flow_config(tmp_path, db_url, smtp_sink.port))


@pytest.fixture
def h_sqlite(tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink) -> Harness:
    return Harness(flow_config(tmp_path, sqlite_url, smtp_sink.port))


def _open_case(h: Harness) -> str:
    """Open SSCP-2026-0001 from <orig@school.example>; return our acknowledgement's Message-ID."""
    h.deliver(rfc822(message_id="<orig@school.example>"))
    h.run()
    [ack] = [m for m in h.messages() if m.direction == "out"]
    assert ack.message_id is not None
    return ack.message_id


def test_new_escalation_opens_case_and_acknowledges(h: Harness, smtp_sink: SmtpSink) -> None:
    h.deliver(
        rfc822(
            subject=f"Escalation re {CHILD_NAME} DOB {CHILD_DOB}",
            message_id="<first@oakfield.example.sch.uk>",
        )
    )
    report = h.run()
    assert report.outcomes["case"] == 1 and report.sent == 1
    [case] = h.cases()
    assert case.reference == "SSCP-2026-0001"
    assert (case.partnership, case.status, case.stage) == ("solihull", "open", 1)
    assert case.raised_by == "p.shah@oakfield.example.sch.uk"
    [got] = smtp_sink.wait_for(1)
    ack = got.parsed()
    assert got.rcpt_tos == ("p.shah@oakfield.example.sch.uk",)
    assert ack["Subject"] == "[SSCP-2026-0001] Escalation received"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<first@oakfield.example.sch.uk>"
    assert ack["Reply-To"] == "sscp@solihull.gov.uk"
    body = ack.get_content()
    assert "SSCP-2026-0001" in body
    assert CHILD_NAME not in got.data.decode("utf-8", "replace")
    assert CHILD_DOB not in got.data.decode("utf-8", "replace")
    # The message left the inbox only after it was stored, into Processed.
    assert h.folder("sscp", None) == [] and len(h.folder("sscp", "Processed")) == 1
    kinds = [e.kind for e in h.events("SSCP-2026-0001")]
    assert kinds == [
        "opened",
        "fields",
        "ladder",
        "category",
        "deadline",
        "ack-queued",
        "ack-sent",
    ]
    # Our own Message-ID is stored so that replies thread.
    out = [m for m in h.messages() if m.direction == "out"]
    assert out and f"<{out[0].message_id}>" == ack["Message-ID"]


def test_replies_thread_by_header_subject_and_body(h_sqlite: Harness, smtp_sink: SmtpSink) -> None:
    h = h_sqlite
    ack_id = _open_case(h)
    h.deliver(
        rfc822(
            subject="RE: [SSCP-2026-0001] Escalation received",
            message_id="<r1@school.example>",
            in_reply_to=f"<{ack_id}>",
        )
    )
    h.deliver(
        rfc822(subject="FW: AW: [SSCP\u20112026\u20110001] update", message_id="<r2@x.example>")
    )
    h.deliver(
        rfc822(
            subject="Another update",
            message_id="<r3@x.example>",
            body="> recorded under the reference SSCP-2026-0001\nMore news.\n",
        )
    )
    h.deliver(
        rfc822(
            subject="Following up",
            message_id="<r4@x.example>",
            references="<unknown@x> <orig@school.example>",
        )
    )
    report = h.run()
    assert report.outcomes["thread"] == 4 and report.outcomes["case"] == 0
    vias = {m.message_id: m.threaded_via for m in h.messages() if m.direction == "in"}
    assert vias == {
        "orig@school.example": None,
        "r1@school.example": "in-reply-to",
        "r2@x.example": "subject",
        "r3@x.example": "body",
        "r4@x.example": "references",
    }
    assert len(smtp_sink.wait_for(1)) == 1  # follow-ups are not acknowledged again
    details = [e.detail for e in h.events("SSCP-2026-0001") if e.kind == "message-in"]
    assert any("threaded via In-Reply-To" in d for d in details)
    assert any("threaded via subject reference SSCP-2026-0001" in d for d in details)


def test_auto_reply_to_our_ack_sends_nothing(h_sqlite: Harness, smtp_sink: SmtpSink) -> None:
    h = h_sqlite
    ack_id = _open_case(h)
    h.deliver(
        rfc822(
            subject="Automatic reply: [SSCP-2026-0001] Escalation received",
            message_id="<ooo@school.example>",
            in_reply_to=f"<{ack_id}>",
            extra_headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
        )
    )
    report = h.run()
    assert report.outcomes["ignored"] == 1 and report.sent == 0
    assert len(smtp_sink.messages) == 1
    [ignored] = [e for e in h.events("SSCP-2026-0001") if e.kind == "ignored"]
    assert "auto-reply" in ignored.detail and "Auto-Submitted" in ignored.detail


@pytest.mark.parametrize(
    ("headers", "word"),
    [
        ([("Precedence", "bulk"), ("List-Id", "<news.example.org>")], "bulk"),
        ([("Content-Type", "multipart/report; report-type=delivery-status")], "bounce"),
        ([("X-Autoreply", "yes")], "auto-reply"),
    ],
)
def test_robots_open_no_case(
    h_sqlite: Harness, smtp_sink: SmtpSink, headers: list[tuple[str, str]], word: str
) -> None:
    # Not an escalation's words: list markers on one are held instead (test_robots_flow.py).
    h_sqlite.deliver(rfc822(subject="Notes", body="Nothing new.\n", extra_headers=headers))
    report = h_sqlite.run()
    assert report.outcomes["ignored"] == 1 and h_sqlite.cases() == []
    assert smtp_sink.messages == []
    [raw] = h_sqlite.raws()
    assert raw.outcome == "ignored" and word in (raw.reason or "")


def test_same_escalation_to_two_mailboxes_is_one_case(h: Harness, smtp_sink: SmtpSink) -> None:
    data = rfc822(
        message_id="<both@school.example>", to="sscp@solihull.gov.uk, cpru@solihull.gov.uk"
    )
    h.deliver(b"Delivered-To: sscp@solihull.gov.uk\r\n" + data, "sscp")
    h.deliver(b"Delivered-To: cpru@solihull.gov.uk\r\n" + data, "cpru")
    report = h.run()
    assert report.outcomes["case"] == 1 and report.outcomes["ignored"] == 1
    assert len(h.cases()) == 1 and len(smtp_sink.wait_for(1)) == 1
    assert any(e.kind == "ignored" and "duplicate" in e.detail for e in h.events())
    assert len(h.folder("cpru", "Processed")) == 1


def test_duplicate_without_message_id_by_content(h_sqlite: Harness) -> None:
    data = rfc822(message_id=None)
    h_sqlite.deliver(b"Received: from a by b; Mon, 16 Nov 2026 09:00:01 +0000\r\n" + data, "sscp")
    h_sqlite.deliver(b"Received: from c by d; Mon, 16 Nov 2026 09:00:05 +0000\r\n" + data, "cpru")
    report = h_sqlite.run()
    assert report.outcomes["case"] == 1 and report.outcomes["ignored"] == 1


def test_own_ack_coming_back_is_recognised(h_sqlite: Harness, smtp_sink: SmtpSink) -> None:
    h = h_sqlite
    h.deliver(rfc822())
    h.run()
    [sent] = smtp_sink.wait_for(1)
    h.deliver(sent.data, "cpru")  # e.g. a copy to a watched address
    report = h.run()
    assert report.outcomes["ignored"] == 1 and report.outcomes["case"] == 0
    assert len(smtp_sink.messages) == 1
    [raw] = [r for r in h.raws() if r.mailbox == "cpru"]
    assert (raw.reason or "").startswith("own mail")


def test_rate_limit_per_sender(h_sqlite: Harness, smtp_sink: SmtpSink) -> None:
    for i in range(7):
        h_sqlite.deliver(rfc822(subject=f"Escalation {i}", message_id=f"<m{i}@school.example>"))
    report = h_sqlite.run()
    assert report.outcomes["case"] == 7 and report.sent == 5
    assert len(smtp_sink.wait_for(5)) == 5
    skipped = [e for e in h_sqlite.events() if e.kind == "ack-skipped"]
    assert len(skipped) == 2 and all("rate limit" in e.detail for e in skipped)


@pytest.mark.parametrize(
    ("sender", "headers", "why"),
    [
        ("Manager <manager@so1ihull.gov.uk>", [], "imitates solihull.gov.uk"),
        ("Manager <manager@s\u043elihull.gov.uk>", [], "imitates solihull.gov.uk"),
        (
            "Nurse <nurse@school.example>",
            [
                (
                    "Authentication-Results",
                    "mx.solihull.gov.uk; dmarc=fail header.from=school.example",
                ),
                ("Authentication-Results", "evil.example; dmarc=pass"),
            ],
            "dmarc=fail",
        ),
    ],
)
def test_suspicious_senders_are_held(
    h_sqlite: Harness, smtp_sink: SmtpSink, sender: str, headers: list[tuple[str, str]], why: str
) -> None:
    h = h_sqlite
    h.deliver(rfc822(sender=sender, extra_headers=headers))
    report = h.run()
    assert report.outcomes["quarantined"] == 1 and h.cases() == [] and smtp_sink.messages == []
    [raw] = h.raws()
    assert why in (raw.reason or "")
    assert len(h.folder("sscp", "Quarantine")) == 1


def test_forged_dmarc_pass_below_trusted_fail_is_ignored(h_sqlite: Harness) -> None:
    # Only the topmost header from our own gateway counts; a forged pass further down does not.
    h_sqlite.deliver(
        rfc822(
            extra_headers=[
                (
                    "Authentication-Results",
                    "mx.solihull.gov.uk; dmarc=pass header.from=school.example",
                ),
                ("Authentication-Results", "mx.solihull.gov.uk; dmarc=fail"),
            ]
        )
    )
    assert h_sqlite.run().outcomes["case"] == 1


def test_suspicious_reply_is_not_applied_to_case(h_sqlite: Harness) -> None:
    h = h_sqlite
    h.deliver(rfc822())
    h.run()
    h.deliver(
        rfc822(
            sender="x <x@so1ihull.gov.uk>",
            subject="RE: [SSCP-2026-0001] close it",
            message_id="<spoof@so1ihull.gov.uk>",
        )
    )
    report = h.run()
    assert report.outcomes["quarantined"] == 1 and report.outcomes["thread"] == 0
    assert [e.kind for e in h.events("SSCP-2026-0001")] == [
        "opened",
        "fields",
        "ladder",
        "category",
        "deadline",
        "ack-queued",
        "ack-sent",
    ]


def test_unparseable_message_is_quarantined_and_replayable(
    h_sqlite: Harness, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = h_sqlite
    h.deliver(b"")
    h.deliver(rfc822(sender="no address here"))
    h.deliver(rfc822())
    report = h.run()
    assert report.outcomes == {"case": 1, "thread": 0, "ignored": 0, "quarantined": 2}
    assert len(h.folder("sscp", "Quarantine")) == 2
    reasons = sorted(r.reason or "" for r in h.raws() if r.outcome == "quarantined")
    assert all(reasons)
    from tracker.cli import main

    assert main(["--config", str(tmp_path / "config.toml"), "quarantine", "replay", "--all"]) == 0
    assert all(r.replays == 1 for r in h.raws() if r.outcome == "quarantined")


def test_stored_but_unprocessed_is_finished_after_restart(
    h_sqlite: Harness, smtp_sink: SmtpSink
) -> None:
    from ingest.raw import RawMessage
    from tests.helpers import rfc822 as make

    h = h_sqlite
    path = h.deliver(make(message_id="<crash@school.example>"))
    # The daemon stored the bytes and died before processing or acking.
    h.service.commit_raw([RawMessage("sscp", f"new/{path.name}", h.clock.now(), path.read_bytes())])
    report = h.run()
    assert report.outcomes["case"] == 1 and len(h.cases()) == 1
    assert len(smtp_sink.wait_for(1)) == 1
    assert [r.state for r in h.raws()] == ["done"] and h.raws()[0].acked_at is not None


def test_no_child_identifiers_in_logs_or_subjects(
    h_sqlite: Harness, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    h = h_sqlite
    with caplog.at_level(logging.DEBUG):
        h.deliver(
            rfc822(
                subject=f"URGENT {CHILD_NAME} ({CHILD_DOB}) - escalation",
                body=f"Child: {CHILD_NAME}\nDOB: {CHILD_DOB}\n",
            )
        )
        h.deliver(rfc822(subject=f"RE: [SSCP-2026-0001] {CHILD_NAME}", message_id="<x2@y>"))
        h.deliver(
            rfc822(
                sender="x <x@so1ihull.gov.uk>",
                subject=f"{CHILD_NAME} {CHILD_DOB}",
                message_id="<x3@y>",
            )
        )
        h.run()
    text = caplog.text
    assert text  # the run did log
    for secret in (CHILD_NAME, CHILD_DOB, "Jamie"):
        assert secret not in text
        for got in smtp_sink.messages:
            assert secret not in str(got.parsed()["Subject"])
        for event in h.events():
            assert secret not in event.detail
        for raw in h.raws():
            assert secret not in (raw.reason or "")


def test_a_bug_on_one_message_quarantines_only_that_message(
    h_sqlite: Harness,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import tracker.intake.triage

    real = tracker.intake.triage.match

    def flaky(email, lookup, prefixes):  # type: ignore[no-untyped-def]
        if "boom" in email.subject:
            raise ValueError(f"cannot handle {CHILD_NAME}")
        return real(email, lookup, prefixes)

    monkeypatch.setattr(tracker.intake.triage, "match", flaky)
    h = h_sqlite
    h.deliver(rfc822(message_id="<ok1@x.example>", sender="A <a@x.example>"))
    h.deliver(rfc822(message_id="<bad@x.example>", subject="boom", sender="B <b@x.example>"))
    h.deliver(rfc822(message_id="<ok2@x.example>", sender="C <c@x.example>"))
    with caplog.at_level(logging.DEBUG):
        report = h.run()
    assert report.outcomes["case"] == 2 and report.outcomes["quarantined"] == 1
    [bad] = [r for r in h.raws() if r.outcome == "quarantined"]
    assert bad.reason == "processing failed: ValueError"
    assert "ValueError" in (bad.error or "") and CHILD_NAME in (bad.error or "")
    assert CHILD_NAME not in caplog.text
    assert len(smtp_sink.wait_for(2)) == 2
