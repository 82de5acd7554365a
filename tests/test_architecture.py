"""The shape DESIGN.md asks for, checked by reading imports (no code is run)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]

#: Modules that decide things: no database, no network, no clock of their own.
PURE = [
    "ingest/parse",
    "ingest/classify.py",
    "ingest/raw.py",
    "tracker/threads.py",
    "tracker/refcode.py",
    "tracker/notify.py",
    "tracker/rules/calendar.py",
    "tracker/rules/schema.py",
    "tracker/rules/signals.py",
    "tracker/rules/engine.py",
    "tracker/rules/explain.py",
]
IO_MODULES = (
    "sqlalchemy",
    "tracker.store",
    "tracker.model",
    "imapclient",
    "smtplib",
    "socket",
    "ssl",
    "psycopg",
    "alembic",
    "tracker.service",
    "tracker.outbox",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(rel: str) -> list[Path]:
    p = ROOT / rel
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


def test_ingest_never_imports_tracker() -> None:
    offenders = {
        str(f.relative_to(ROOT)): sorted(n for n in _imports(f) if n.split(".")[0] == "tracker")
        for f in _files("ingest")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pure_modules_do_no_io() -> None:
    offenders = {}
    for rel in PURE:
        for f in _files(rel):
            bad = sorted(n for n in _imports(f) if n.startswith(IO_MODULES))
            if bad:
                offenders[str(f.relative_to(ROOT))] = bad
    assert offenders == {}


def test_only_store_creates_sessions() -> None:
    users = [
        str(f.relative_to(ROOT))
        for f in _files("tracker")
        if "sessionmaker" in f.read_text(encoding="utf-8")
    ]
    assert users == ["tracker/store.py"]


def test_no_python_under_rules() -> None:
    assert not list((ROOT / "rules").rglob("*.py"))
