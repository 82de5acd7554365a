"""Under a normal umask (022) nothing the tracker makes for itself is readable by others.

``var/`` holds the children's table (SQLite), the generated secrets and the
digests; an export written with ``--out`` can hold every case. A local user
who is not the daemon's must read none of it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows.harness import Harness
from tests.helpers import rfc822
from tracker.cli import main
from tracker.config import child_key_secret, default_config, read_or_create_secret
from tracker.store import Store


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_install_makes_var_0700_and_the_database_and_its_wal_0600(
    tmp_path: Path,
) -> None:
    h = Harness(default_config(tmp_path))
    h.deliver(rfc822())
    h.run()
    var = tmp_path / "var"
    assert mode(var) == 0o700
    db = var / "tracker.db"
    assert mode(db) == 0o600
    # While a connection is open SQLite keeps its write-ahead log and shared memory.
    with h.store.transaction() as s:
        s.connection().exec_driver_sql("SELECT 1")
        for side in (var / "tracker.db-wal", var / "tracker.db-shm"):
            assert side.exists(), side
            assert mode(side) == 0o600, side
    for p in var.iterdir():
        if p.is_file():
            assert mode(p) & 0o077 == 0, p
    h.store.dispose()


def test_a_database_left_world_readable_by_an_older_version_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "old" / "tracker.db"
    Store(f"sqlite:///{db}").upgrade()
    os.chmod(db, 0o644)
    store = Store(f"sqlite:///{db}")
    with store.transaction() as s:
        s.connection().exec_driver_sql("SELECT 1")
    assert mode(db) == 0o600
    store.dispose()


def test_secrets_are_0600_in_a_0700_var(tmp_path: Path) -> None:
    config = default_config(tmp_path / "install")
    child_key_secret(config)
    var = config.paths.var_dir
    assert mode(var) == 0o700
    assert mode(var / "child-key.secret") == 0o600
    read_or_create_secret(var / "deeper" / "other.secret", "test secret")
    assert mode(var / "deeper") == 0o700
    assert mode(var / "deeper" / "other.secret") == 0o600


def test_an_existing_folder_is_not_changed_by_a_secret_written_into_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    read_or_create_secret(shared / "k.secret", "test secret")
    assert mode(shared) == 0o755
    assert mode(shared / "k.secret") == 0o600


@pytest.mark.parametrize("extra", [[], ["--include-personal"], ["--format", "csv"]])
def test_an_export_written_with_out_is_0600(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    h = Harness(default_config(tmp_path))
    h.deliver(rfc822())
    h.run()
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "{h.config.database.url}"\n'
        f'[paths]\nvar_dir = "{h.config.paths.var_dir}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "exports" / "cases.out"
    out.parent.mkdir()
    # Overwriting an older export made world-readable keeps nothing of its mode.
    out.write_text("old", encoding="utf-8")
    os.chmod(out, 0o644)
    code = main(["--config", str(tmp_path / "config.toml"), "export", "--out", str(out), *extra])
    assert code == 0, capsys.readouterr().err
    assert mode(out) == 0o600
    assert "old" not in out.read_text(encoding="utf-8")[:3]
    assert out.read_text(encoding="utf-8").strip()


def test_the_anonymised_export_and_its_pseudonym_key_are_0600(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = Harness(default_config(tmp_path))
    h.deliver(rfc822())
    h.run()
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "{h.config.database.url}"\n'
        f'[paths]\nvar_dir = "{h.config.paths.var_dir}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "learning.csv"
    code = main(
        ["--config", str(tmp_path / "config.toml"), "export", "--anonymised", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    assert mode(out) == 0o600
    assert mode(h.config.paths.var_dir / "pseudonym-key.secret") == 0o600
