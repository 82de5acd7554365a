"""The package's shape and its configuration: decisions pure, settings checked at load."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tracker.config import parse_config
from tracker.errors import ConfigError

ROOT = Path(__file__).parents[2]
#: Modules that decide or render: plain rows in, plain results out.
PURE = [
    "rows",
    "agencies",
    "periods",
    "stats",
    "digest",
    "quarterly",
    "publish",
    "anonymise",
    "charts",
    "render",
    "digest_mail",
]
IO = ("sqlalchemy", "tracker.store", "tracker.model", "tracker.reports.load", "psycopg", "smtplib")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_report_decisions_do_no_io() -> None:
    offenders = {}
    for name in PURE:
        imported = _imports(ROOT / "tracker" / "reports" / f"{name}.py")
        offenders[name] = sorted(n for n in imported if n.startswith(IO))
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_loader_queries_and_it_never_reads_events() -> None:
    users = sorted(
        p.name
        for p in (ROOT / "tracker" / "reports").glob("*.py")
        if "select(" in p.read_text(encoding="utf-8")
    )
    assert users == ["digest_job.py", "load.py"]  # digest_job: the intent check only
    tree = ast.parse((ROOT / "tracker" / "reports" / "load.py").read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "Event" not in names and "detail" not in attributes


def test_digest_and_report_settings_are_checked() -> None:
    config = parse_config({"digests": {"enabled": True, "daily": "30 7 * * mon-fri", "weekly": ""}})
    assert config.digests.daily == "30 7 * * mon-fri" and not config.digests.weekly
    assert parse_config({}).digests.enabled is False
    with pytest.raises(ConfigError, match="daily: not a crontab schedule"):
        parse_config({"digests": {"daily": "every morning"}})
    with pytest.raises(ConfigError, match="not both"):
        parse_config({"reports": {"pseudonym_key_env": "A", "pseudonym_key_file": "/k"}})
    with pytest.raises(ConfigError, match="needs a pseudonym key"):
        parse_config({}).reports.pseudonym_key()


def test_pseudonym_key_from_a_file_relative_to_the_config(tmp_path: Path) -> None:
    from tracker.config import load_config

    (tmp_path / "key").write_text("a-key-read-from-a-file-0123\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('[reports]\npseudonym_key_file = "key"\n')
    config = load_config(tmp_path / "config.toml")
    assert config.reports.pseudonym_key() == b"a-key-read-from-a-file-0123"
