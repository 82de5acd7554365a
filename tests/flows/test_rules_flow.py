"""The rules in the daemon: chasers, staff commands, shared intake mailboxes, bad rule files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.smtp import SmtpSink
from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker import chasers
from tracker.cli import main
from tracker.clock import FrozenClock
from tracker.model import Case, Deadline, OutboxItem
from tracker.notify import Renderer
from tracker.rules.schema import RuleFileError

LOOKED_AFTER_FORM = (
    "Name of Child: Robin Fictional\nDOB: 04/05/2018\n"
    "Summary of Concern(s): Robin is a looked after child and the placement is breaking down.\n"
)

# Monday 9 November 2026, 10:00 UTC (GMT): stage 1 due Tue 10 Nov 17:00.
MON = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
BM = "sscp@solihull.gov.uk"


@pytest.fixture
def h(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> Harness:
    return Harness(flow_config(tmp_path, db_url, smtp_sink.port), clock=FrozenClock(MON))


def _chase(h: Harness, when: datetime, dry_run: bool = False) -> chasers.ChaseReport:
    return chasers.run_due(
        h.store,
        h.service.partnerships,
        Renderer(h.config.paths.templates_dir),
        h.config,
        when,
        dry_run=dry_run,
    )


def _open(h: Harness, body: str = "We disagree with the decision.\n") -> str:
    h.deliver(rfc822(message_id="<esc@school.example>", body=body))
    h.run()
    [case] = h.cases()
    return case.reference


def _deadlines(h: Harness) -> list[Deadline]:
    with h.store.transaction() as s:
        return list(s.scalars(select(Deadline).order_by(Deadline.id)))


def _kinds(h: Harness) -> list[str]:
    return [o.kind for o in h.outbox()]


def test_each_chaser_goes_once_and_only_in_business_hours(h: Harness) -> None:
    _open(h)
    [d] = _deadlines(h)
    assert d.due_at == datetime(2026, 11, 10, 17, 0, tzinfo=UTC)
    assert d.reminder_at == datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    # Before the due day: nothing. At 08:59 on the due day: still nothing (office closed).
    assert _chase(h, datetime(2026, 11, 9, 16, 0, tzinfo=UTC)).due == []
    assert _chase(h, datetime(2026, 11, 10, 8, 59, tzinfo=UTC)).due == []
    # Dry run lists the reminder and queues nothing.
    preview = _chase(h, datetime(2026, 11, 10, 9, 30, tzinfo=UTC), dry_run=True)
    assert [c.kind for c in preview.due] == ["reminder"] and preview.queued == 0
    assert _kinds(h) == ["ack"]
    # The tick runs many times: one reminder.
    for minute in (30, 31, 45):
        _chase(h, datetime(2026, 11, 10, 9, minute, tzinfo=UTC))
    assert _kinds(h) == ["ack", "reminder"]
    # 17:00 is close of business: the deadline has passed but the office is shut.
    assert _chase(h, datetime(2026, 11, 10, 17, 0, tzinfo=UTC)).due == []
    assert _chase(h, datetime(2026, 11, 11, 3, 0, tzinfo=UTC)).due == []
    # Next morning: overdue to the raiser and the business manager, and the roll-up.
    rep = _chase(h, datetime(2026, 11, 11, 9, 0, tzinfo=UTC))
    assert sorted(c.kind for c in rep.due) == ["overdue", "rollup"]
    _chase(h, datetime(2026, 11, 11, 10, 0, tzinfo=UTC))
    assert sorted(_kinds(h)) == ["ack", "overdue", "overdue", "reminder", "rollup"]
    # The roll-up is daily: one more on Thursday, no more overdue notices.
    _chase(h, datetime(2026, 11, 12, 9, 5, tzinfo=UTC))
    assert sorted(_kinds(h)) == ["ack", "overdue", "overdue", "reminder", "rollup", "rollup"]
    recipients = {(o.kind, o.recipients[0]) for o in h.outbox()}
    assert ("overdue", BM) in recipients and ("rollup", BM) in recipients


def test_resolution_cancels_chasers(h: Harness) -> None:
    _open(h)
    h.clock.set(datetime(2026, 11, 9, 15, 0, tzinfo=UTC))
    h.deliver(
        rfc822(
            message_id="<done@school.example>",
            subject="RE: [SSCP-2026-0001] Escalation received",
            body="Thank you. This has now been resolved after a call with the team manager.\n",
        )
    )
    h.run()
    [case] = h.cases()
    assert case.status == "resolved"
    [d] = _deadlines(h)
    assert d.state == "met" and d.met_at is not None and d.met_at <= d.due_at  # type: ignore[operator]
    assert _chase(h, datetime(2026, 11, 11, 9, 0, tzinfo=UTC)).due == []
    assert any("has now been resolved" in e.detail for e in h.events("SSCP-2026-0001"))


GATEWAY_PASS = (
    "mx.solihull.gov.uk; spf=pass smtp.mailfrom=solihull.gov.uk; "
    "dkim=pass header.d=solihull.gov.uk; dmarc=pass (p=quarantine) header.from=solihull.gov.uk"
)


def test_staff_commands_apply_and_others_are_recorded_only(h: Harness) -> None:
    _open(h)
    # A practitioner cannot move the case back, clear a flag or reopen it.
    h.deliver(
        rfc822(
            message_id="<p1@school.example>",
            subject="RE: [SSCP-2026-0001]",
            body="Stage: 3\nThe child is subject to a child protection plan.\n",
        )
    )
    h.run()
    h.deliver(
        rfc822(
            message_id="<p2@school.example>",
            subject="RE: [SSCP-2026-0001]",
            body="Stage: 1\nFlag: -cp_plan\n",
        )
    )
    h.run()
    [case] = h.cases()
    assert (case.stage, case.flags) == (3, ["cp_plan"])
    refused = [e.detail for e in h.events("SSCP-2026-0001") if e.kind == "not-applied"]
    assert len(refused) == 2 and all("p.shah@oakfield.example.sch.uk" in r for r in refused)
    # The business manager (staff in the rule file) can, when the partnership's own
    # gateway vouches for the mail (a staff From alone proves nothing: issue 10).
    h.deliver(
        rfc822(
            sender=f"SSCP Business Manager <{BM}>",
            message_id="<bm1@solihull.gov.uk>",
            subject="RE: [SSCP-2026-0001]",
            body="Stage: 2\nFlag: -cp_plan\nCategory: thresholds\n",
            extra_headers=[("Authentication-Results", GATEWAY_PASS)],
        ),
        mailbox="cpru",
    )
    h.run()
    [case] = h.cases()
    assert (case.stage, case.flags, case.category) == (2, [], "thresholds")
    open_deadlines = [d for d in _deadlines(h) if d.state == "open"]
    assert [d.stage for d in open_deadlines] == [2]


def test_shared_mailbox_chooses_partnership_by_recipient(
    tmp_path: Path, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    config = flow_config(
        tmp_path,
        sqlite_url,
        smtp_sink.port,
        partnerships={"llr": {}},
    )
    shared = config.mailbox[0].model_copy(update={"partnership": ["solihull", "llr"]})
    config = config.model_copy(update={"mailbox": [shared, *config.mailbox[1:]]})
    h = Harness(config, clock=FrozenClock(MON))
    h.deliver(rfc822(message_id="<a@x.example>", to="Escalations <escalations@leics.gov.uk>"))
    # Solihull's other intake address: the shared mailbox's own (BM) no longer decides alone.
    h.deliver(rfc822(message_id="<b@x.example>", to="cpru@solihull.gov.uk"))
    h.deliver(rfc822(message_id="<c@x.example>", to="someone@elsewhere.example"))
    report = h.run()
    assert report.outcomes["case"] == 2 and report.outcomes["quarantined"] == 1
    assert sorted((c.partnership, c.reference[:4]) for c in h.cases()) == [
        ("llr", "LLR-"),
        ("solihull", "SSCP"),
    ]
    [held] = [r for r in h.raws() if r.outcome == "quarantined"]
    assert "which partnership" in (held.reason or "")


def test_daemon_refuses_to_start_with_an_invalid_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    good = (Path(__file__).resolve().parents[2] / "rules" / "solihull.yaml").read_text()
    (rules / "solihull.yaml").write_text(good.replace("unit: working_days", "unit: fortnights", 1))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/t.db"\n'
        f'[paths]\nrules_dir = "{rules}"\n'
        "[partnerships.solihull]\n"
    )
    with pytest.raises(RuleFileError) as caught:
        from tracker.config import load_config
        from tracker.rules.partnerships import Partnerships

        Partnerships.from_config(load_config(config))
    assert "tracks.default.stages.0.deadline.unit" in str(caught.value)
    assert main(["--config", str(config), "run", "--once"]) == 2


def test_iro_notice_without_a_secure_route_carries_no_identifiers(h: Harness) -> None:
    # flow_config has no secure domains and plain SMTP: no secure route anywhere.
    _open(h, body=LOOKED_AFTER_FORM)
    [case] = h.cases()
    assert case.flags == ["looked_after"]
    with h.store.transaction() as s:
        [data] = s.scalars(select(OutboxItem.data).where(OutboxItem.kind == "iro_secure")).all()
    text = data.decode()
    assert "not on a secure route" in text
    assert "Robin Fictional" not in text and "2018" not in text
    assert any(e.kind == "secure-route-missing" for e in h.events("SSCP-2026-0001"))


def test_iro_notice_over_a_secure_route_names_the_child_and_nothing_else_does(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Outgoing mail as files (no network hop) and the IRO's domain listed as secure.
    h = Harness(
        flow_config(tmp_path, sqlite_url, None, security={"secure_domains": ["solihull.gov.uk"]}),
        clock=FrozenClock(MON),
    )
    _open(h, body=LOOKED_AFTER_FORM)
    with h.store.transaction() as s:
        mails = {o.kind: o.data for o in s.scalars(select(OutboxItem))}
    iro = mails.pop("iro_secure").decode()
    assert "Robin Fictional" in iro and "2018-05-04" in iro
    assert "Subject: [SSCP-2026-0001] Secure notification" in iro
    for kind, data in mails.items():  # the acknowledgement to the school: no identifiers
        assert b"Robin" not in data and b"2018" not in data, kind


def test_export_has_deadlines_and_notifications(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    _open(h)
    code = main(["--config", str(h.config.paths.var_dir.parent / "config.toml"), "export"])
    assert code == 0
    [case] = json.loads(capsys.readouterr().out)["cases"]
    [d] = case["deadlines"]
    assert (d["stage"], d["due_at"], d["basis"], d["met_at"]) == (
        1,
        "2026-11-10T17:00:00+00:00",
        "stated",
        None,
    )
    assert [(n["kind"], n["to"]) for n in case["notifications"]] == [
        ("ack", ["p.shah@oakfield.example.sch.uk"])
    ]
    assert case["notifications"][0]["sent_at"] is not None
    with h.store.transaction() as s:
        assert s.scalars(select(OutboxItem)).one().state == "sent"
        assert s.scalars(select(Case)).one().track == "default"


def test_an_old_backlog_gets_the_roll_up_not_an_overdue_mail_per_case(h: Harness) -> None:
    # Mail that reached the mailbox in 2023 (Maildir delivery time in its name) is processed now.
    inbox = h.config.mailbox[0].path
    assert inbox is not None
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    (inbox / "new" / "1700000000.old1.test").write_bytes(rfc822(message_id="<old@x.example>"))
    h.run()
    [d] = _deadlines(h)
    assert d.due_at is not None and d.due_at.year == 2023
    rep = _chase(h, datetime(2026, 11, 10, 10, 0, tzinfo=UTC))
    assert [c.kind for c in rep.due] == ["rollup"]
    assert [c["reference"] for c in rep.due[0].cases] == ["SSCP-2023-0001"]


def test_two_daemons_chasing_at_once_queue_each_chaser_once(h: Harness) -> None:
    import threading

    _open(h)
    h.clock.set(datetime(2026, 11, 9, 10, 5, tzinfo=UTC))
    h.deliver(rfc822(message_id="<second@x.example>", sender="B <b@x.example>"))
    h.run()
    when = datetime(2026, 11, 11, 9, 30, tzinfo=UTC)  # both stage-1 deadlines overdue
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def chase() -> None:
        try:
            barrier.wait()
            _chase(h, when)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=chase) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    _chase(h, when)  # and once more afterwards
    assert errors == []
    kinds = sorted(k for k in _kinds(h) if k != "ack")
    assert kinds == ["overdue"] * 4 + ["rollup"], kinds  # 2 cases x (raiser + BM), 1 roll-up
