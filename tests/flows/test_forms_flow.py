"""Escalation forms end to end through the daemon: fields on the case, the child kept apart.

One fictional escalation per format from the forms corpus (pasted body form,
HTML table, Word, PDF form, Outlook TNEF, inline and attached forwards, a
macro-enabled document) goes through a real daemon run; the case must carry
the right child, raiser, agency and concern, and the child's name and date
of birth must appear in no log line, no subject and no default export, only
in ``--include-personal``.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.ingest.forms.corpus import CASES
from tracker.cli import main
from tracker.model import Attachment, Case, CaseField, Child, Message

PICKED = [
    "plain_appendix_c",
    "html_outlook_table",
    "docx_table",
    "pdf_acroform",
    "tnef_docx_inside",
    "fwd_outlook_block",
    "rfc822_attached_forward",
    "cp1252_pound_quotes",
]
BY_NAME = {c.name: c for c in CASES}


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink) -> Harness:
    return Harness(
        flow_config(
            tmp_path,
            sqlite_url,
            smtp_sink.port,
            limits={"auto_mail_per_sender_per_hour": 1000},
            forms={"max_attachment_bytes": 10 * 1024 * 1024},
        )
    )


def _case_of(h: Harness, message_id: str) -> tuple[Case, dict[str, str], Child | None]:
    with h.store.transaction() as s:
        case = s.scalars(
            select(Case)
            .join(Message, Message.case_id == Case.id)
            .where(Message.message_id == message_id)
        ).one()
        fields = {
            f.name: f.value
            for f in s.scalars(select(CaseField).where(CaseField.case_id == case.id))
        }
        child = s.scalars(select(Child).where(Child.case_id == case.id)).first()
        return case, fields, child


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_each_format_fills_the_case_and_keeps_the_child_apart(
    h: Harness,
    smtp_sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from email import message_from_bytes

    caplog.set_level(logging.DEBUG)
    ids = {}
    for name in PICKED:
        data = BY_NAME[name].build()
        old = message_from_bytes(data)["Message-ID"]
        ids[name] = f"{name}@forms.example"
        h.deliver(data.replace(old.encode(), f"<{ids[name]}>".encode(), 1))
    report = h.run()
    assert report.outcomes["case"] == len(PICKED), report.summary()

    secrets: list[str] = []
    for name in PICKED:
        want = BY_NAME[name].expected
        case, fields, child = _case_of(h, ids[name])
        assert child is not None, name
        assert (child.name, child.dob) == (want["child_name"], want["child_dob"]), name
        assert child.child_key and len(child.child_key) == 64
        for key in ("raiser_name", "raiser_agency", "concern"):
            assert _norm(fields[key]) == _norm(want[key]), (name, key)
        assert "child_name" not in fields and "child_dob" not in fields
        # A forward is raised by the original practitioner, not the forwarder.
        assert case.raised_by == want["raiser_email"].lower(), name
        secrets += [want["child_name"], want["child_dob"], BY_NAME[name].expected["child_name"]]

    # Nowhere by default: logs, subjects of what we sent, the default export.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    sent_subjects = [m.parsed()["Subject"] for m in smtp_sink.wait_for(len(PICKED))]
    config = str(h.config.paths.var_dir.parent / "config.toml")
    assert main(["--config", config, "export"]) == 0
    default_export = capsys.readouterr().out
    for secret in secrets:
        assert secret not in logged
        assert all(secret not in (s or "") for s in sent_subjects)
        assert secret not in default_export
    exported = json.loads(default_export)["cases"]
    assert all(c["child_key"] for c in exported)
    assert all("concern" not in c["fields"] for c in exported)

    # Only on request.
    assert main(["--config", config, "export", "--include-personal"]) == 0
    personal = capsys.readouterr().out
    for name in PICKED:
        assert BY_NAME[name].expected["child_name"] in personal
        assert BY_NAME[name].expected["child_dob"] in personal
    ref = _case_of(h, ids["docx_table"])[0].reference
    assert main(["--config", config, "cases", "show", ref]) == 0
    shown = capsys.readouterr().out
    assert "child:     recorded" in shown
    assert BY_NAME["docx_table"].expected["child_name"] not in shown
    assert main(["--config", config, "cases", "show", ref, "--include-personal"]) == 0
    assert BY_NAME["docx_table"].expected["child_name"] in capsys.readouterr().out


def test_macro_document_is_flagged_not_opened_and_a_huge_file_is_only_hashed(
    h: Harness,
) -> None:
    import hashlib

    h.deliver(BY_NAME["blocked_docm"].build())
    big = b"\x00" * (20 * 1024 * 1024)
    body = base64.encodebytes(big)
    h.deliver(
        b"From: Priya Shah <p.shah@oakfield.example.sch.uk>\r\n"
        b"To: sscp@solihull.gov.uk\r\nSubject: Escalation with a large scan\r\n"
        b"Message-ID: <big@oakfield.example.sch.uk>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nWe disagree with the decision to close the case.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="scan.pdf"\r\n\r\n' + body + b"\r\n--b--\r\n"
    )
    report = h.run()
    assert report.outcomes["case"] == 2
    with h.store.transaction() as s:
        statuses = {a.filename: (a.status, a.sha256) for a in s.scalars(select(Attachment))}
    docm = [v for k, v in statuses.items() if k and k.endswith(".docm")]
    assert [st for st, _ in docm] == ["blocked"]
    assert statuses["scan.pdf"] == ("too-large", hashlib.sha256(big).hexdigest())
    held = [e.detail for e in h.events() if e.kind == "attachment"]
    assert any("blocked" in d for d in held) and any("too-large" in d for d in held)


def _form_mail(mid: str, lines: str, subject: str = "Escalation form") -> bytes:
    return (
        "From: Priya Shah <p.shah@oakfield.example.sch.uk>\r\nTo: sscp@solihull.gov.uk\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{mid}>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n\r\n' + lines.replace("\n", "\r\n")
    ).encode()


@pytest.mark.parametrize("one_batch", [False, True])
def test_later_messages_fill_gaps_and_conflicts_are_kept_not_overwritten(
    h: Harness, one_batch: bool
) -> None:
    first = _form_mail(
        "f1@oakfield.example.sch.uk",
        "Name of Child: Casey Madeup\nAgency/Team: Oakfield Primary School\n"
        "Summary of Concern(s): The referral was closed with no further action.\n",
    )
    second = _form_mail(
        "f2@oakfield.example.sch.uk",
        "DOB: 02/03/2017\nName of Child: Casey Madeup\nAgency/Team: Oakfield Academy Trust\n"
        "Requested Action: Reopen the referral.\n",
        subject="RE: [SSCP-2026-0001] Escalation form",
    )
    third = _form_mail(
        "f3@oakfield.example.sch.uk",
        "DOB: 05/06/2015\n",
        subject="RE: [SSCP-2026-0001] Escalation form",
    )
    for data in (first, second, third):
        h.deliver(data)
        if not one_batch:
            h.run()
    if one_batch:
        h.run()
    case, fields, child = _case_of(h, "f1@oakfield.example.sch.uk")
    assert child is not None and (child.name, child.dob) == ("Casey Madeup", "2017-03-02")
    assert child.child_key and len(child.child_key) == 64  # computed once the DOB arrived
    assert fields["raiser_agency"] == "Oakfield Primary School"  # first value kept
    assert fields["requested_action"] == "Reopen the referral."  # a gap filled
    events = [(e.kind, e.detail) for e in h.events(case.reference)]
    assert ("child", "child's date of birth added from body") in events
    conflicts = [d for k, d in events if k in ("field-conflict", "child-conflict")]
    assert any(d.startswith("raiser_agency: body differs") for d in conflicts)
    assert any("date of birth in body differ" in d for d in conflicts)
    for _, detail in events:
        assert "Academy Trust" not in detail and "2015" not in detail
