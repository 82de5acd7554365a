"""Solihull end to end: real Dovecot, real SMTP (STARTTLS, verified), the real CLI in a process.

An escalation about a child on a child protection plan opens a case and the
IRO mailbox gets one secure notification; the practitioner's reply
"escalating to stage 2" moves the stage, the business manager gets a copy
and the IRO is told again; a reminder goes out on the due day, the overdue
notice only once the deadline has passed; running again sends nothing twice;
the copies the tracker sent to its own watched mailboxes are recognised and
ignored when they arrive there; a replay may not move the clock backwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import select

from tests.fixtures.dovecot import DovecotServer
from tests.fixtures.smtp import SmtpSink
from tests.helpers import rfc822
from tracker.model import Case, Deadline, OutboxItem, RawMail
from tracker.store import Store

PRACTITIONER = "alex.morgan@nhs.net"
CHILD = "Jordan Fictional"
IRO = "cpru@solihull.gov.uk"
BM = "sscp@solihull.gov.uk"


def _write_config(
    tmp: Path, dovecot: DovecotServer, sink: SmtpSink, ca_file: Path
) -> tuple[Path, str]:
    db_url = f"sqlite:///{tmp / 'tracker.db'}"
    common = {
        "kind": "imap",
        "partnership": "solihull",
        "host": dovecot.host,
        "port": dovecot.port,
        "tls": "none",
        "username": dovecot.user,
        "password_env": "TEST_IMAP_PASSWORD",
        "idle": False,
        "timeout": 10.0,
    }
    data = {
        "database": {"url": db_url},
        "partnerships": {"solihull": {}},
        "mailbox": [
            {**common, "name": "sscp", "address": BM, "folder": "INBOX"},
            {
                **common,
                "name": "cpru",
                "address": IRO,
                "folder": "CPRU",
                "processed_folder": "CPRU-Processed",
                "quarantine_folder": "CPRU-Quarantine",
            },
        ],
        "outgoing": {
            "transport": "smtp",
            "host": sink.host,
            "port": sink.port,
            "tls": "starttls",
            "ca_file": str(ca_file),
            "from_address": BM,
        },
        "security": {"secure_domains": ["solihull.gov.uk", "nhs.net"]},
        "paths": {"var_dir": str(tmp / "var")},
    }
    path = tmp / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path, db_url


def _tracker(config: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_IMAP_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _kinds(sink: SmtpSink) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for m in sink.messages:
        header = m.parsed()["X-Escalation-Tracker"] or ""
        kind = header.split("kind=")[-1].split(";")[0].strip()  # before "; sig="
        out.append((kind, m.rcpt_tos))
    return out


@pytest.mark.dovecot
def test_solihull_cp_plan_escalation_end_to_end(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp_tls_sink: SmtpSink,
    smtp_ca_file: Path,
) -> None:
    sink = smtp_tls_sink
    config, db_url = _write_config(tmp_path, dovecot, sink, smtp_ca_file)

    def run(now: str) -> subprocess.CompletedProcess[str]:
        done = _tracker(config, "run", "--once", "--now", now, password=dovecot.password)
        assert done.returncode == 0, done.stderr
        return done

    # Dovecot refuses an INTERNALDATE in the future, so the story is set in the
    # past and replayed with --now.
    with dovecot.client() as client:
        client.create_folder("CPRU")
    # 1. Monday 9 November 2026, 10:00: the escalation arrives (INTERNALDATE).
    dovecot.append(
        "INBOX",
        rfc822(
            sender=f"Alex Morgan <{PRACTITIONER}>",
            to=BM,
            subject=f"Escalation about {CHILD}",
            message_id="<esc-1@nhs.net>",
            body=(
                f"I am a health visitor for {CHILD}, who is subject to a child protection "
                "plan. Children's social care have closed the referral and I disagree.\n"
            ),
        ),
        internaldate=datetime(2026, 11, 9, 10, 0, tzinfo=UTC),
    )
    run("2026-11-09T10:05:00+00:00")
    store = Store(db_url)
    with store.transaction() as s:
        [case] = s.scalars(select(Case)).all()
        assert (case.reference, case.stage, case.flags) == ("SSCP-2026-0001", 1, ["cp_plan"])
        [d1] = s.scalars(select(Deadline)).all()
        assert d1.due_at == datetime(2026, 11, 10, 17, 0, tzinfo=UTC)  # 1 working day
    sink.wait_for(2)
    assert sorted(_kinds(sink)) == [("ack", (PRACTITIONER,)), ("iro_secure", (IRO,))]
    iro = next(m for m in sink.messages if m.rcpt_tos == (IRO,))
    assert all(m.tls for m in sink.messages)
    iro_text = iro.data.decode("utf-8", "replace")
    assert "sent to a secure address" in iro_text  # STARTTLS verified, secure domain
    for m in sink.messages:
        assert CHILD not in m.data.decode("utf-8", "replace")
    ack_id = next(m.parsed()["Message-ID"] for m in sink.messages if m.rcpt_tos == (PRACTITIONER,))

    # The IRO copy arrives in the watched cpru mailbox: recognised as our own mail.
    dovecot.append("CPRU", iro.data, internaldate=datetime(2026, 11, 9, 10, 6, tzinfo=UTC))

    # 2. Tuesday 10 November, 11:00: "escalating to stage 2".
    dovecot.append(
        "INBOX",
        rfc822(
            sender=f"Alex Morgan <{PRACTITIONER}>",
            to=BM,
            subject="RE: [SSCP-2026-0001] Escalation received",
            message_id="<esc-2@nhs.net>",
            in_reply_to=ack_id,
            body="We could not agree at stage 1, so I am escalating this to stage 2.\n",
        ),
        internaldate=datetime(2026, 11, 10, 11, 0, tzinfo=UTC),
    )
    run("2026-11-10T11:05:00+00:00")
    sink.wait_for(5)
    assert sorted(_kinds(sink)[2:]) == [
        ("bm_evidence", (BM,)),
        ("iro_secure", (IRO,)),
        ("stage_confirmation", (PRACTITIONER,)),
    ]
    with store.transaction() as s:
        case = s.scalars(select(Case)).one()
        assert case.stage == 2
        d1, d2 = s.scalars(select(Deadline).order_by(Deadline.id)).all()
        assert (d1.state, d1.met_at) == ("met", datetime(2026, 11, 10, 11, 0, tzinfo=UTC))
        assert d2.due_at == datetime(2026, 11, 12, 17, 0, tzinfo=UTC)  # 2 working days
        cpru = s.scalars(select(RawMail).where(RawMail.mailbox == "cpru")).one()
        assert cpru.outcome == "ignored" and "own mail" in (cpru.reason or "")
    assert dovecot.list_uids("CPRU") == []

    # 3. Thursday 12 November, 16:59: the due day. A reminder, no overdue notice yet.
    preview = _tracker(
        config,
        "chasers",
        "--at",
        "2026-11-12T16:59:00+00:00",
        "--dry-run",
        password=dovecot.password,
    )
    assert preview.returncode == 0 and "reminder" in preview.stdout
    assert "overdue" not in preview.stdout.split("chaser(s)")[0]
    run("2026-11-12T16:59:00+00:00")
    sink.wait_for(6)
    assert _kinds(sink)[5] == ("reminder", (PRACTITIONER,))

    # 4. Friday 13 November, 09:30: the deadline has passed.
    run("2026-11-13T09:30:00+00:00")
    sink.wait_for(9)
    assert sorted(_kinds(sink)[6:]) == [
        ("overdue", (PRACTITIONER,)),
        ("overdue", (BM,)),
        ("rollup", (BM,)),
    ]

    # 5. Restarting (twice, later the same day) sends nothing again.
    run("2026-11-13T10:00:00+00:00")
    run("2026-11-13T15:00:00+00:00")
    assert len(sink.messages) == 9
    with store.transaction() as s:
        intents = s.scalars(select(OutboxItem.intent)).all()
        assert len(intents) == len(set(intents)) == 9
        assert all(o.state == "sent" for o in s.scalars(select(OutboxItem)))

    # 6. The clock never moves backwards for this database.
    back = _tracker(
        config, "run", "--once", "--now", "2026-11-12T09:00:00+00:00", password=dovecot.password
    )
    assert back.returncode == 2 and "backwards" in back.stderr
    assert len(sink.messages) == 9
    for m in sink.messages:
        msg = message_from_bytes(m.data)
        assert CHILD not in (msg["Subject"] or "")
