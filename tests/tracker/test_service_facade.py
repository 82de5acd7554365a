"""What the daemon and the CLI ask of the service: replay, run_due and the digests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.cli import main
from tracker.kinds import Outcome
from tracker.model import ClockMark


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str) -> Harness:
    return Harness(flow_config(tmp_path, sqlite_url, None))


def _quarantine_two(h: Harness) -> list[int]:
    h.deliver(b"")
    h.deliver(rfc822(sender="Someone <boss@so1ihull.gov.uk>"))
    h.deliver(rfc822(message_id="<ok@x.example>", sender="Ok <ok@x.example>"))
    h.run()
    return [r.id for r in h.raws() if r.outcome == Outcome.QUARANTINED]


def test_replay_marks_only_the_quarantined_ids_given_and_processes_them(h: Harness) -> None:
    held = _quarantine_two(h)
    assert len(held) == 2
    [done] = [r.id for r in h.raws() if r.outcome == Outcome.CASE]
    results = h.service.replay([held[0], done, 999])
    assert [r.raw_id for r in results] == [held[0]]
    assert results[0].outcome == Outcome.QUARANTINED  # still unreadable: held again
    rows = {r.id: r for r in h.raws()}
    assert (rows[held[0]].replays, rows[held[0]].attempts) == (1, 1)
    assert rows[held[1]].replays == 0 and rows[done].replays == 0


def test_replay_of_none_means_every_held_message(h: Harness) -> None:
    held = _quarantine_two(h)
    assert sorted(r.raw_id for r in h.service.replay(None)) == held
    assert all(r.replays == 1 for r in h.raws() if r.id in held)


def test_replay_with_nothing_held_returns_nothing(h: Harness) -> None:
    assert h.service.replay(None) == []
    assert h.service.replay([]) == []


def test_run_due_holds_a_clock_stepped_back_at_the_databases_mark(h: Harness) -> None:
    later = h.clock.now() + timedelta(hours=2)
    assert h.service.run_due(later).due == []
    h.service.run_due(later - timedelta(hours=1))  # an NTP step back: held, not refused
    with h.store.transaction() as s:
        assert s.scalars(select(ClockMark.at).where(ClockMark.name == "now")).one() == later


def test_queue_digest_refuses_without_a_business_manager(h: Harness) -> None:
    result = h.service.queue_digest("merton", "daily", h.clock.now())
    assert result.status == "refused"
    assert h.outbox() == []


def test_schedule_digests_adds_one_job_per_partnership_and_period(
    tmp_path: Path, sqlite_url: str
) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    h = Harness(flow_config(tmp_path, sqlite_url, None, digests={"enabled": True}))
    scheduler = BackgroundScheduler(timezone="UTC")
    assert sorted(h.service.schedule_digests(scheduler, lambda p, k: None)) == [
        "digest-merton-daily",
        "digest-merton-weekly",
        "digest-solihull-daily",
        "digest-solihull-weekly",
    ]


def test_cli_replay_prints_each_outcome_and_what_was_sent(
    h: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = _quarantine_two(h)
    config = str(tmp_path / "config.toml")
    capsys.readouterr()
    assert main(["--config", config, "quarantine", "replay", str(held[1])]) == 0
    out = capsys.readouterr().out
    assert f"message {held[1]}: quarantined: " in out
    assert "replayed 1; 0 mail(s) sent" in out
    [done] = [r.id for r in h.raws() if r.outcome == Outcome.CASE]
    assert main(["--config", config, "quarantine", "replay", str(done)]) == 1
    assert "Nothing to replay." in capsys.readouterr().out
