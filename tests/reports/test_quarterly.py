"""``tracker report quarterly`` on the seeded database: every published figure, counted again."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.reports import expected, seed
from tracker.cli import main
from tracker.config import Config
from tracker.rules.calendar import WorkingCalendar

NOW = seed.NOW
Q4 = (datetime(2026, 9, 30, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
Q3 = (datetime(2026, 6, 30, 23, 0, tzinfo=UTC), datetime(2026, 9, 30, 23, 0, tzinfo=UTC))
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _cells(path: Path) -> dict[tuple[str, str, str], str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["section"], r["item"], r["column"]): r["value"] for r in csv.DictReader(fh)}


def _column(cells: dict[tuple[str, str, str], str], section: str, column: str) -> dict[str, str]:
    return {item: v for (s, item, c), v in cells.items() if s == section and c == column}


@pytest.fixture
def quarterly(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, str, str]:
    out = tmp_path / "report"
    code = main(["--config", str(tmp_path / "config.toml"), "report", "quarterly",
                 "--partnership", "solihull", "--quarter", "2026Q4", "--out", str(out),
                 "--now", NOW.isoformat(), "--no-pdf"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    return out, captured.out, captured.err


def test_figures_match_an_independent_count(
    quarterly: tuple[Path, str, str],
    seed_cases: list[seed.SeedCase],
    solihull_calendar: WorkingCalendar,
) -> None:
    out, _, _ = quarterly
    cells = _cells(out / "solihull-2026Q4.csv")
    for code, window in (("2026Q4", Q4), ("2026Q3", Q3)):
        exp = expected.quarter(seed_cases, *window, NOW, solihull_calendar)
        assert exp.opened >= 100 and exp.resolved >= 80  # two busy quarters
        summary = _column(cells, "summary", code)
        assert summary == {
            "opened": str(exp.opened),
            "resolved": str(exp.resolved),
            "iro_notifications": str(exp.iro),
            "iro_cases": str(exp.iro_cases),
        }
        for section, counts in [
            ("category", exp.categories),
            ("raising_agency", exp.agencies),
            ("agency_challenged", exp.challenged),
            ("highest_stage", exp.highest),
            ("outcome", exp.outcomes),
        ]:
            shown = _column(cells, section, code)
            full = {k: counts.get(k, 0) for k in shown}
            assert set(counts) <= set(shown), section
            expected.check_published(full, shown)
        assert set(_column(cells, "raising_agency", code)) == set(expected.RAISING_ITEMS)
        assert set(_column(cells, "agency_challenged", code)) == set(expected.CHALLENGED_ITEMS)
        # The seed makes both breakdowns worth having: every type is there, most of them big.
        assert set(exp.challenged) == set(expected.CHALLENGED_ITEMS)
        assert sum(1 for n in exp.challenged.values() if n >= 5) >= 3
        resolution = _column(cells, "time_to_resolution", code)
        assert resolution == {
            "cases": str(exp.resolved),
            "median": f"{exp.median:g}",
            "p90": f"{exp.p90:g}",
        }
    exp = expected.quarter(seed_cases, *Q4, NOW, solihull_calendar)
    done = _column(cells, "timeliness", "2026Q4_completed")
    within = _column(cells, "timeliness", "2026Q4_within")
    share = _column(cells, "timeliness", "2026Q4_share")
    per_stage_done = {f"stage_{s}": n for s, (n, _) in exp.timeliness.items()}
    per_stage_within = {f"stage_{s}": k for s, (_, k) in exp.timeliness.items()}
    expected.check_published(per_stage_done, {k: v for k, v in done.items() if k != "all"})
    expected.check_published(per_stage_within, {k: v for k, v in within.items() if k != "all"})
    total_done = sum(per_stage_done.values())
    total_within = sum(per_stage_within.values())
    assert (done["all"], within["all"]) == (str(total_done), str(total_within))
    assert share["all"] == f"{round(100 * total_within / total_done)}%"
    for item, value in share.items():
        if done[item].isdigit() and within[item].isdigit():
            assert value == f"{round(100 * int(within[item]) / int(done[item]))}%"
        else:
            assert value == "*"  # a share would give a suppressed count away


def test_themes_and_notes(quarterly: tuple[Path, str, str], seed_cases: list[seed.SeedCase],
                          solihull_calendar: WorkingCalendar) -> None:  # fmt: skip
    out, _, _ = quarterly
    html = (out / "solihull-2026Q4.html").read_text(encoding="utf-8")
    now = expected.quarter(seed_cases, *Q4, NOW, solihull_calendar)
    before = expected.quarter(seed_cases, *Q3, NOW, solihull_calendar)
    n = now.categories["information_sharing_communication"]
    m = before.categories.get("information_sharing_communication", 0)
    assert n >= 5 and n - m >= 3 and n >= 1.5 * m  # the seed's rising theme
    assert f"Escalations about information sharing and communication rose to {n}" in html
    for heading in (
        "Escalations: quarterly trend report",
        "Themes worth the partnership's attention",
        "Cases by category (shared taxonomy)",
        "Cases by raising agency",
        "Cases by agency challenged",
        "Highest stage reached",
        "Outcome at the end of the quarter",
        "Time to resolution (working days)",
        "Stages completed within timescale",
        "Notes",
    ):
        assert heading in html
    assert "2026 Q4 is not over: figures are as at 16 December 2026 08:30 UTC" in html
    assert "not recorded yet" not in html.lower()
    assert "Agency types are derived by keywords from the free text of the escalation form" in html
    assert html.count('src="data:image/png;base64,') == 5  # agency challenged charted too


def test_progress_on_stderr_and_the_pdf_is_optional(
    quarterly: tuple[Path, str, str],
) -> None:
    out, stdout, stderr = quarterly
    lines = stderr.splitlines()
    assert lines[0] == "report: loading solihull cases for 2026Q3 and 2026Q4"
    assert re.match(r"report: loaded \d+ cases, \d+ deadlines, \d+ IRO notifications in ", lines[1])
    assert lines[-1].startswith("report: done in ")
    assert "PDF not requested (--no-pdf)" in stdout
    assert f"wrote {out / 'solihull-2026Q4.csv'}" in stdout


def test_no_identifier_or_free_text_in_the_report(
    quarterly: tuple[Path, str, str], seed_cases: list[seed.SeedCase]
) -> None:
    out, stdout, stderr = quarterly
    secrets = seed.secrets(seed_cases)
    assert seed.form_texts(seed_cases) and set(seed.form_texts(seed_cases)) <= set(secrets)
    references = {c.reference for c in seed_cases}
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert seed.leaks(secrets, text) == [], path.name
        assert ADDRESS.findall(text) == [], path.name
        assert [r for r in references if r in text] == [], path.name
    assert seed.leaks(secrets, stdout + stderr) == []


def test_a_missing_chromium_is_reported_not_fatal(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code = main(["--config", str(tmp_path / "config.toml"), "report", "quarterly",
                 "--partnership", "solihull", "--quarter", "2026q3", "--out", str(tmp_path / "r"),
                 "--now", NOW.isoformat()])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "PDF skipped: no Chromium found" in out
    assert sorted(p.suffix for p in (tmp_path / "r").iterdir()) == [".csv", ".html"]


def test_bad_quarter_and_unknown_partnership(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(tmp_path / "config.toml"), "report", "quarterly"]
    assert main([*cfg, "--partnership", "solihull", "--quarter", "Q4", "--out", "x"]) == 2
    assert "expected a quarter like 2026Q4" in capsys.readouterr().err
    assert main([*cfg, "--partnership", "nowhere", "--quarter", "2026Q4", "--out", "x"]) == 2
    assert "no partnership 'nowhere' is configured" in capsys.readouterr().err
