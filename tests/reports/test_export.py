"""``tracker export --anonymised``: one row per case, nothing that identifies anyone."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest

from tests.reports import expected, seed
from tests.reports.conftest import KEY_ENV
from tracker.cli import main
from tracker.config import Config
from tracker.rules.calendar import WorkingCalendar

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _export(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> tuple[int, str]:
    code = main(["--config", str(tmp_path / "config.toml"), "export", "--anonymised",
                 "--now", seed.NOW.isoformat(), *extra])  # fmt: skip
    return code, capsys.readouterr().out


def test_one_row_per_case_matching_the_seed(
    config: Config,
    tmp_path: Path,
    seed_cases: list[seed.SeedCase],
    solihull_calendar: WorkingCalendar,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _export(capsys, tmp_path, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(seed_cases)
    assert [r["case_id"] for r in rows] == sorted(r["case_id"] for r in rows)
    assert len({r["case_id"] for r in rows}) == len(rows)

    # Each seed case is found by its (anonymised) facts, not by its reference.
    def facts(c: seed.SeedCase) -> tuple[str, ...]:
        first: dict[int, str] = {}
        for stage, at in c.stages:
            first.setdefault(stage, expected.weeks(at.astimezone(seed.LONDON).date()))
        met = [d for d in c.deadlines if d.state == "met" and d.due_at is not None]
        return (
            c.partnership,
            c.category or "uncategorised",
            c.agency,
            c.challenged,
            str(max(first)),
            *(first.get(n, "") for n in range(1, 5)),
            c.status,
            expected.weeks(c.resolved_at.astimezone(seed.LONDON).date()) if c.resolved_at else "",
            str(expected.working_days(solihull_calendar, c.opened_at, c.resolved_at))
            if c.resolved_at
            else "",
            str(len(met)),
            str(sum(1 for d in met if d.met_at and d.due_at and d.met_at <= d.due_at)),
        )

    def row_facts(r: dict[str, str]) -> tuple[str, ...]:
        return (
            r["partnership"],
            r["category"],
            r["raising_agency"],
            r["agency_challenged"],
            r["highest_stage"],
            *(r.get(f"stage_{n}_week", "") for n in range(1, 5)),
            r["outcome"],
            r["resolved_week"],
            r["working_days_to_resolution"],
            r["stages_with_timescale"],
            r["stages_within_timescale"],
        )

    assert sorted(row_facts(r) for r in rows) == sorted(facts(c) for c in seed_cases)
    for r in rows:
        assert date.fromisoformat(r["opened_week"]).weekday() == 0  # a Monday
    # The form decided where it named an agency: every type appears in both columns.
    assert {r["raising_agency"] for r in rows} == set(expected.RAISING_ITEMS)
    assert {r["agency_challenged"] for r in rows} == set(expected.CHALLENGED_ITEMS)


def test_nothing_identifying_and_pseudonyms_are_keyed(
    config: Config,
    tmp_path: Path,
    seed_cases: list[seed.SeedCase],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, as_csv = _export(capsys, tmp_path, "--format", "csv")
    code, as_json = _export(capsys, tmp_path, "--format", "json")
    assert code == 0
    secrets = seed.secrets(seed_cases)
    assert set(seed.form_texts(seed_cases)) <= set(secrets)
    for text in (as_csv, as_json):
        assert seed.leaks(secrets, text) == []
        assert ADDRESS.findall(text) == []
        assert [c.reference for c in seed_cases if c.reference in text] == []
        assert not re.search(r"\d{4}-\d\d-\d\dT", text)  # no timestamps, only weeks
    ids = sorted(r["case_id"] for r in json.loads(as_json)["cases"])
    assert ids == sorted(r["case_id"] for r in csv.DictReader(io.StringIO(as_csv)))

    monkeypatch.setenv(KEY_ENV, "another-key-of-16-bytes-or-more")
    _, other = _export(capsys, tmp_path, "--format", "json")
    assert set(ids).isdisjoint(r["case_id"] for r in json.loads(other)["cases"])

    code, only = _export(capsys, tmp_path, "--partnership", "merton", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(only)))
    assert {r["partnership"] for r in rows} == {"merton"}
    assert len(rows) == sum(1 for c in seed_cases if c.partnership == "merton")


def test_refused_without_a_key_or_with_personal_data(
    config: Config,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = main(["--config", str(tmp_path / "config.toml"), "export", "--anonymised",
                 "--include-personal"])  # fmt: skip
    assert code == 2
    assert "exclude each other" in capsys.readouterr().err
    monkeypatch.delenv(KEY_ENV)
    code = main(["--config", str(tmp_path / "config.toml"), "export", "--anonymised"])
    assert code == 2
    assert f"environment variable {KEY_ENV} is not set" in capsys.readouterr().err
    monkeypatch.setenv(KEY_ENV, "short")
    code = main(["--config", str(tmp_path / "config.toml"), "export", "--anonymised"])
    assert code != 0


def test_export_to_a_file(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "learning.csv"
    code, _ = _export(capsys, tmp_path, "--format", "csv", "--out", str(target))
    assert code == 0
    assert target.read_text(encoding="utf-8").startswith("case_id,partnership,category,")
