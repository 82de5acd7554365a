"""The command line as an operator uses it: real files, real database, real output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.cli import main


@pytest.fixture
def cfg(tmp_path: Path, sqlite_url: str) -> tuple[Path, Harness]:
    h = Harness(flow_config(tmp_path, sqlite_url, None))
    return tmp_path / "config.toml", h


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_once_export_and_show(
    cfg: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    path, h = cfg
    h.deliver(rfc822(subject="Escalation re Jamie Example", message_id="<a@school.example>"))
    code, out, _ = _run(capsys, "--config", str(path), "run", "--once")
    assert code == 0
    assert "done: 1 fetched, 1 case, 0 thread, 0 ignored, 0 quarantined, 1 sent" in out
    [ack] = [m for m in h.messages() if m.direction == "out"]
    h.deliver(
        rfc822(
            subject="RE: more", message_id="<b@school.example>", in_reply_to=f"<{ack.message_id}>"
        )
    )
    assert _run(capsys, "--config", str(path), "run", "--once")[0] == 0

    code, out, _ = _run(capsys, "--config", str(path), "export", "--format", "json")
    assert code == 0
    [case] = json.loads(out)["cases"]
    assert case["reference"] == "SSCP-2026-0001"
    assert case["message_ids"] == ["a@school.example", ack.message_id, "b@school.example"]
    assert {
        "partnership",
        "status",
        "stage",
        "flags",
        "opened_at",
        "raised_by",
        "events",
    } <= case.keys()
    kinds = [e["kind"] for e in case["events"]]
    assert kinds[0] == "opened"
    assert kinds.index("ladder") < kinds.index("deadline") < kinds.index("ack-queued")
    assert kinds.index("ack-queued") < kinds.index("ack-sent")
    assert "Jamie" not in out  # subjects only with --include-personal

    code, out, _ = _run(capsys, "--config", str(path), "export", "--include-personal")
    subjects = [m.get("subject") for m in json.loads(out)["cases"][0]["messages"]]
    assert subjects == ["Escalation re Jamie Example", None, "RE: more"]

    code, out, _ = _run(capsys, "--config", str(path), "export", "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["reference"] == "SSCP-2026-0001" and "<b@school.example>" in row["message_ids"]

    code, out, _ = _run(capsys, "--config", str(path), "cases", "list")
    assert "SSCP-2026-0001" in out and "1 case(s)" in out
    code, out, _ = _run(capsys, "--config", str(path), "cases", "show", "sscp-2026-0001")
    assert code == 0 and "threaded via In-Reply-To" in out and "(in-reply-to)" in out
    assert _run(capsys, "--config", str(path), "cases", "show", "SSCP-2026-0999")[0] == 1


def test_quarantine_and_outbox_lists(
    cfg: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    path, h = cfg
    assert "Quarantine is empty." in _run(capsys, "--config", str(path), "quarantine", "list")[1]
    h.deliver(rfc822(sender="Someone <boss@so1ihull.gov.uk>"))
    h.deliver(rfc822(message_id="<ok@x.example>", sender="Ok <ok@x.example>"))
    _run(capsys, "--config", str(path), "run", "--once")
    out = _run(capsys, "--config", str(path), "quarantine", "list")[1]
    assert "so1ihull.gov.uk imitates solihull.gov.uk" in out and "1 message(s) held" in out
    out = _run(capsys, "--config", str(path), "outbox", "list")[1]
    assert "sent" in out and "to=ok@x.example" in out
    code, out, _ = _run(capsys, "--config", str(path), "quarantine", "replay")
    assert code == 2 and "--all" in out


def test_db_upgrade_reports_revision(
    cfg: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = cfg
    code, out, _ = _run(capsys, "--config", str(path), "db", "upgrade")
    assert code == 0 and "already at revision 0004" in out


def test_bad_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[outgoing]\ntransport = "pigeon"\n')
    code, _, err = _run(capsys, "--config", str(bad), "run", "--once")
    assert code == 2 and "outgoing.transport" in err


def test_demo_once_on_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "demo", "--once")
    assert code == 0
    assert "new case SSCP-2026-0001 opened; acknowledgement queued" in out
    assert "new case SSCP-2026-0002 opened; acknowledgement queued" in out
    assert "follow-up added to SSCP-2026-0001" in out
    assert "imitates solihull.gov.uk" in out
    assert "8 fetched, 3 case, 2 thread, 2 ignored, 1 quarantined, 7 sent" in out
    written = sorted((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(written) == 7
    assert all(str(p) in out for p in written)  # the demo says where they are
    for eml in written:
        assert b"Jamie" not in eml.read_bytes()
    # A second demo delivers the same examples again: recognised, nothing doubled.
    code, out, _ = _run(capsys, "demo", "--once")
    assert code == 0 and "8 seen before, 0 case" in out and "0 sent" in out
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 7


def test_outbox_retry_requeues_only_failed_or_uncertain(
    cfg: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import update

    from tracker.model import OutboxItem

    path, h = cfg
    h.deliver(rfc822(message_id="<r1@x.example>", sender="A <a@x.example>"))
    h.deliver(rfc822(message_id="<r2@x.example>", sender="B <b@x.example>"))
    _run(capsys, "--config", str(path), "run", "--once")
    first, second = (o.id for o in h.outbox())
    with h.store.transaction() as s:
        s.execute(update(OutboxItem).where(OutboxItem.id == first).values(state="uncertain"))
    code, out, _ = _run(
        capsys, "--config", str(path), "outbox", "retry", str(first), str(second), "999"
    )
    assert code == 0
    assert f"{first}: queued again (was uncertain)" in out
    assert f"{second}: sent; only failed or uncertain" in out
    assert "999: no such outgoing mail" in out
    assert {o.id: o.state for o in h.outbox()} == {first: "pending", second: "sent"}
    assert any(e.kind == "delivery-requeued" for e in h.events())
