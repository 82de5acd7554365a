"""Fixtures for the report tests: the seeded database (built once), its configuration."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.reports import seed
from tracker.config import REPO_ROOT, Config, load_config
from tracker.rules.calendar import WorkingCalendar
from tracker.rules.partnerships import Partnerships
from tracker.rules.schema import load_rule_file
from tracker.store import Store

KEY_ENV = "TRACKER_TEST_PSEUDONYM_KEY"
KEY = "a-test-key-of-at-least-16-bytes"


def report_config(tmp: Path, db_url: str, **extra: dict[str, Any]) -> Config:
    """Solihull (secure business manager) and Merton (not secure here), written as TOML too."""
    data: dict[str, Any] = {
        "database": {"url": db_url},
        "partnerships": {
            "solihull": {
                "prefix": "SSCP",
                "display_name": "Solihull Safeguarding Children Partnership",
                "domains": ["solihull.gov.uk"],
            },
            "merton": {"prefix": "MSCP", "domains": ["merton.gov.uk"]},
        },
        "outgoing": {
            "transport": "file",
            "directory": str(tmp / "outbox"),
            "from_address": "sscp@solihull.gov.uk",
        },
        "security": {"secure_domains": ["solihull.gov.uk", "nhs.net"]},
        "paths": {"var_dir": str(tmp / "var")},
        "reports": {"pseudonym_key_env": KEY_ENV},
        "digests": {"enabled": True},
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value}
    (tmp / "config.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_config(tmp / "config.toml")


@pytest.fixture(scope="session")
def solihull_calendar() -> WorkingCalendar:
    proc = load_rule_file(REPO_ROOT / "rules" / "solihull.yaml").rule_file
    return WorkingCalendar(proc.calendar.settings())


@pytest.fixture(scope="session")
def seed_cases(solihull_calendar: WorkingCalendar) -> list[seed.SeedCase]:
    return seed.generate(solihull_calendar)


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory, seed_cases: list[seed.SeedCase]) -> Path:
    """A SQLite database holding the seed, built once per session and copied per test."""
    path = tmp_path_factory.mktemp("seeded") / "tracker.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    with store.transaction() as s:
        seed.write(s, seed_cases)
    store.dispose()
    return path


@pytest.fixture
def seeded_url(tmp_path: Path, seeded_file: Path) -> str:
    target = tmp_path / "tracker.db"
    shutil.copy(seeded_file, target)
    return f"sqlite:///{target}"


@pytest.fixture
def config(tmp_path: Path, seeded_url: str) -> Iterator[Config]:
    old = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = KEY
    yield report_config(tmp_path, seeded_url)
    if old is None:
        os.environ.pop(KEY_ENV, None)
    else:
        os.environ[KEY_ENV] = old


@pytest.fixture
def partnerships(config: Config) -> Partnerships:
    return Partnerships.from_config(config)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    s = Store(config.database.url)
    s.upgrade()
    yield s
    s.dispose()
