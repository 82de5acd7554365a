"""The business managers' digest on a seeded database: figures, mail, once per period, refusals."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from ingest.classify import OWN_MAIL_HEADER
from tests.flows.harness import Harness
from tests.reports import expected, seed
from tests.reports.conftest import report_config
from tracker.cli import main
from tracker.clock import FrozenClock
from tracker.config import Config
from tracker.model import Event, OutboxItem
from tracker.model import Message as MessageRow
from tracker.reports import digest_job
from tracker.reports.render import Templates
from tracker.rules.partnerships import Partnerships
from tracker.store import Store

NOW = seed.NOW
PERIODS = {
    # Wednesday 16 December 2026 08:30 GMT, schedules "0 8 * * mon-fri" and "0 8 * * mon".
    "daily": (datetime(2026, 12, 15, 8, 0, tzinfo=UTC), datetime(2026, 12, 16, 8, 0, tzinfo=UTC)),
    "weekly": (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), datetime(2026, 12, 14, 8, 0, tzinfo=UTC)),
}
REF = re.compile(r"\b(?:SSCP|MSCP)-\d{4}-\d{4}\b")
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TITLES = {
    "overdue": "OVERDUE",
    "due_today": "DUE TODAY",
    "due_week": "DUE IN THE NEXT 7 DAYS",
    "new": "NEW CASES",
    "changes": "STAGE CHANGES",
    "resolved": "RESOLVED",
}


def _text_sections(text: str) -> dict[str, tuple[int, list[str]]]:
    """``TITLE (n)`` blocks of the plain-text part: their count and the references in them."""
    out: dict[str, tuple[int, list[str]]] = {}
    blocks = re.split(r"^([A-Z][A-Z0-9 ]+) \((\d+)\)$", text, flags=re.MULTILINE)
    for title, count, body in zip(blocks[1::3], blocks[2::3], blocks[3::3], strict=True):
        out[title] = (int(count), REF.findall(body))
    return out


def _parts(raw: bytes) -> dict[str, Message]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return {part.get_content_type(): part for part in msg.walk()}


@pytest.mark.parametrize("kind", ["daily", "weekly"])
def test_digest_figures_match_an_independent_count(
    kind: str,
    store: Store,
    partnerships: Partnerships,
    config: Config,
    seed_cases: list[seed.SeedCase],
) -> None:
    built = digest_job.build(
        store, partnerships["solihull"], config, kind, NOW, Templates(config.paths.templates_dir)
    )
    d = built.digest
    exp = expected.digest(seed_cases, *PERIODS[kind], NOW)
    assert (d.period.start, d.period.end) == PERIODS[kind]
    # The seed is chosen so that every section has something in it.
    assert all([exp.new, exp.changes, exp.resolved, exp.overdue, exp.due_today, exp.due_week])

    refs = lambda xs: sorted(x.reference for x in xs)  # noqa: E731
    assert refs(d.new_cases) == exp.new
    assert sorted((x.reference, x.from_stage, x.stage) for x in d.stage_changes) == exp.changes
    assert refs(d.resolved) == exp.resolved
    assert dict(d.open_by_stage) == exp.open_by_stage
    assert refs(d.overdue) == exp.overdue
    assert refs(d.due_today) == exp.due_today
    assert refs(d.due_this_week) == exp.due_week
    assert not any(r.startswith("MSCP") for r in refs(d.new_cases) + refs(d.overdue))

    # The plain-text part says the same.
    sections = _text_sections(built.mail.text)
    wanted = {
        "overdue": exp.overdue,
        "due_today": exp.due_today,
        "due_week": exp.due_week,
        "new": exp.new,
        "changes": sorted(r for r, _, _ in exp.changes),
        "resolved": exp.resolved,
    }
    for key, title in TITLES.items():
        count, found = sections[title]
        assert count == len(wanted[key]) and sorted(found) == wanted[key], title
    assert sections["OPEN CASES BY STAGE"][0] == sum(exp.open_by_stage.values())
    # Every row shows the raising and challenged agency types the seed expects.
    by_ref = {c.reference: c for c in seed_cases}
    shown = [
        *d.new_cases, *d.stage_changes, *d.resolved, *d.overdue, *d.due_today, *d.due_this_week,
    ]  # fmt: skip
    assert [(x.agency, x.challenged) for x in shown] == [
        (by_ref[x.reference].agency, by_ref[x.reference].challenged) for x in shown
    ]
    rows = [line for line in built.mail.text.splitlines() if REF.match(line.strip())]
    assert len(rows) == len(shown)  # one text line per case and section (none capped here)
    for line in rows:
        c = by_ref[line.split()[0]]
        pair = f"{expected.AGENCY_LABELS[c.agency]} → {expected.AGENCY_LABELS[c.challenged]}"
        assert pair in line, line
    assert "not recorded yet" not in built.mail.text.lower()
    # ... and so do the HTML headings.
    for title, n in [("Overdue", len(exp.overdue)), ("New cases", len(exp.new))]:
        assert re.search(rf">{title} \({n}\)</h2>", built.mail.html)


def test_digest_mail_is_outlook_friendly(
    store: Store, partnerships: Partnerships, config: Config
) -> None:
    result = digest_job.queue(store, partnerships, config, "solihull", "daily", NOW)
    assert result.status == "queued", result.message
    with store.transaction() as s:
        row = s.scalars(select(OutboxItem).where(OutboxItem.kind == "digest")).one()
        raw = s.scalar(select(OutboxItem.data).where(OutboxItem.id == row.id))
    assert raw is not None
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
    cid = image["Content-ID"].strip("<>")
    html = html_part.get_content()
    assert f'src="cid:{cid}"' in html
    assert msg["Subject"] == "[SSCP] Daily digest Wed 16 Dec 2026"
    assert msg["Auto-Submitted"] == "auto-generated" and msg[OWN_MAIL_HEADER]
    assert msg["To"] == "sscp@solihull.gov.uk"
    # Outlook's Word engine ignores <style> blocks and many CSS properties: inline styles
    # and tables only, nothing fetched from elsewhere, sizes given as attributes.
    lowered = html.lower()
    for banned in ("<style", "<script", "<link", '<div style="display:flex', "url("):
        assert banned not in lowered
    assert not re.search(r'src="https?:', lowered)
    assert 'role="presentation"' in html and 'width="640"' in html
    assert re.search(r'<img [^>]*width="\d+" height="\d+"', html)


def test_each_period_is_queued_once(
    store: Store, partnerships: Partnerships, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(Path(config.paths.var_dir).parent / "config.toml")]
    now = ["--now", NOW.isoformat()]
    assert main([*cfg, "digest", "--partnership", "solihull", "--send", *now]) == 0
    assert "queued digest:solihull:daily:2026-12-16 to sscp@solihull.gov.uk" in (
        capsys.readouterr().out
    )
    assert main([*cfg, "digest", "--partnership", "solihull", "--send", *now]) == 0
    assert "already queued" in capsys.readouterr().out
    later = ["--now", "2026-12-16T15:00:00+00:00"]
    assert main([*cfg, "digest", "--partnership", "solihull", "--send", *later]) == 0
    assert "already queued" in capsys.readouterr().out
    assert main([*cfg, "digest", "--partnership", "solihull", "--send", "--period", "weekly",
                 *now]) == 0  # fmt: skip
    with store.transaction() as s:
        intents = s.scalars(select(OutboxItem.intent).where(OutboxItem.kind == "digest")).all()
        events = s.scalars(select(Event.kind).where(Event.kind == "digest-queued")).all()
        messages = s.scalars(
            select(MessageRow.id).where(MessageRow.case_id.is_(None), MessageRow.direction == "out")
        ).all()
    assert sorted(intents) == [
        "digest:solihull:daily:2026-12-16",
        "digest:solihull:weekly:2026-12-14",
    ]
    assert len(events) == 2 and len(messages) == 2


def test_not_sent_to_an_insecure_address_and_the_cli_says_why(
    config: Config, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(Path(config.paths.var_dir).parent / "config.toml")]
    code = main([*cfg, "digest", "--partnership", "merton", "--send", "--now", NOW.isoformat()])
    out = capsys.readouterr().out
    assert code == 1
    assert "not sent: the business manager's address business.manager@merton.gov.uk" in out
    assert "security.secure_domains" in out
    with store.transaction() as s:
        assert s.scalar(select(OutboxItem.id).where(OutboxItem.kind == "digest")) is None


def test_not_sent_without_tls(tmp_path: Path, seeded_url: str) -> None:
    config = report_config(
        tmp_path,
        seeded_url,
        outgoing={"transport": "smtp", "host": "127.0.0.1", "port": 2525, "tls": "none"},
    )
    result = digest_job.queue(
        Store(config.database.url),
        Partnerships.from_config(config),
        config,
        "solihull",
        "daily",
        NOW,
    )
    assert result.status == "refused" and "tls = 'none'" in result.message


@pytest.mark.parametrize("send_empty", [False, True])
def test_an_empty_period_is_sent_only_if_configured(tmp_path: Path, send_empty: bool) -> None:
    config = report_config(
        tmp_path, f"sqlite:///{tmp_path / 'empty.db'}", digests={"send_empty": send_empty}
    )
    store = Store(config.database.url)
    store.upgrade()
    result = digest_job.queue(store, Partnerships.from_config(config), config, "solihull",
                              "daily", NOW)  # fmt: skip
    if not send_empty:
        assert result.status == "nothing-new" and "digests.send_empty" in result.message
        return
    assert result.status == "queued"
    with store.transaction() as s:
        raw = s.scalar(select(OutboxItem.data))
    parts = _parts(raw or b"")
    assert "Nothing new" in parts["text/plain"].get_content()
    assert ">Nothing new</h2>" in parts["text/html"].get_content()
    assert "nothing new" in email.message_from_bytes(raw or b"")["Subject"]


def test_preview_writes_files_and_no_identifier_reaches_them(
    config: Config,
    seed_cases: list[seed.SeedCase],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = ["--config", str(tmp_path / "config.toml")]
    out_dir = tmp_path / "preview"
    for kind in ("daily", "weekly"):
        code = main([*cfg, "digest", "--partnership", "solihull", "--preview", "--period", kind,
                     "--now", NOW.isoformat(), "--out", str(out_dir)])  # fmt: skip
        assert code == 0
    out = capsys.readouterr().out
    assert "would be sent to sscp@solihull.gov.uk" in out
    files = sorted(out_dir.iterdir())
    assert [f.suffix for f in files] == [".eml", ".html", ".txt"] * 2
    secrets = seed.secrets(seed_cases)
    assert set(seed.form_texts(seed_cases)) <= set(secrets)
    for f in files:
        if f.suffix == ".eml":
            parts = _parts(f.read_bytes())
            bodies = [parts["text/plain"].get_content(), parts["text/html"].get_content()]
        else:
            bodies = [f.read_text(encoding="utf-8")]
        for body in bodies:
            assert seed.leaks(secrets, body) == [], f.name
            # The chart's Content-ID looks like an address but is not one.
            assert ADDRESS.findall(re.sub(r"cid:\S+", "", body)) == [], f.name


def test_the_daemon_schedules_digests_on_the_configured_crons(
    config: Config, partnerships: Partnerships
) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    ids = digest_job.add_jobs(scheduler, config, partnerships, lambda p, k: None)
    assert sorted(ids) == [
        "digest-merton-daily",
        "digest-merton-weekly",
        "digest-solihull-daily",
        "digest-solihull-weekly",
    ]
    job = scheduler.get_job("digest-solihull-weekly")
    assert str(job.trigger.timezone) == "Europe/London"
    assert "day_of_week='mon'" in str(job.trigger) and "hour='8'" in str(job.trigger)
    digests_off = config.digests.model_copy(update={"enabled": False})
    off = config.model_copy(update={"digests": digests_off})
    assert digest_job.add_jobs(BackgroundScheduler(), off, partnerships, lambda p, k: None) == []


def test_the_daemons_digest_job_queues_and_wakes_the_outbox(config: Config) -> None:
    h = Harness(config, FrozenClock(NOW))
    daemon = h.daemon()
    try:
        daemon.digest("solihull", "daily")
        daemon.digest("merton", "daily")  # refused: logged, nothing queued
        daemon.digest("solihull", "daily")
        daemon.deliver()
    finally:
        daemon.sender.close()
    with h.store.transaction() as s:
        rows = s.execute(select(OutboxItem.intent, OutboxItem.state).where(
            OutboxItem.kind == "digest")).all()  # fmt: skip
    assert rows == [("digest:solihull:daily:2026-12-16", "sent")]
    [written] = list((Path(config.outgoing.directory)).glob("*.eml"))
    assert _parts(written.read_bytes())["image/png"] is not None
