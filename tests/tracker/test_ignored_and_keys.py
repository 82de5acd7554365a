"""What is ignored stays listable; our header's key is made once; a daemon without trusted
gateway ids says at start that staff commands by mail will be refused."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.cli import main
from tracker.config import own_header_secret
from tracker.notify import Renderer
from tracker.service import Service


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_ignored_mail_is_listed_with_its_reason(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    h = Harness(flow_config(tmp_path, sqlite_url, None))
    config = str(tmp_path / "config.toml")
    assert _run(capsys, "--config", config, "quarantine", "list", "--ignored")[1].startswith(
        "No message was ignored."
    )
    h.deliver(
        rfc822(
            subject="Out of office",
            message_id="<ooo@school.example>",
            body="I am away until Monday.\n",
            extra_headers=[("Auto-Submitted", "auto-replied")],
        )
    )
    h.deliver(
        rfc822(
            subject="March newsletter",
            sender="News <news@lists.example.org>",
            message_id="<news@lists.example.org>",
            body="Training dates.\n",
            extra_headers=[("List-Id", "<news.lists.example.org>")],
        )
    )
    _run(capsys, "--config", config, "run", "--once")
    code, out = _run(capsys, "--config", config, "quarantine", "list", "--ignored")
    assert code == 0
    assert "auto-reply (Auto-Submitted: auto-replied)" in out
    assert "bulk (List-Id present)" in out
    assert "2 message(s) ignored" in out
    # Held mail is still listed apart, as before.
    assert "Quarantine is empty." in _run(capsys, "--config", config, "quarantine", "list")[1]


def test_the_own_header_key_is_made_once_and_private(tmp_path: Path, sqlite_url: str) -> None:
    config = flow_config(tmp_path, sqlite_url, None)
    first = own_header_secret(config)
    assert own_header_secret(config) == first and len(first) >= 32
    path = config.paths.var_dir / "own-header.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_trusted_gateway_ids_the_daemon_warns_at_start(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = flow_config(tmp_path, sqlite_url, None)
    bare = config.model_copy(
        update={"security": config.security.model_copy(update={"trusted_authserv_ids": []})}
    )
    h = Harness(config)
    with caplog.at_level(logging.WARNING, logger="tracker.service"):
        Service(bare, h.store, h.clock, Renderer(config.paths.templates_dir))
    assert (
        "no trusted_authserv_ids configured: staff commands by mail will be refused"
        in caplog.messages
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tracker.service"):
        Service(config, h.store, h.clock, Renderer(config.paths.templates_dir))
    assert not [m for m in caplog.messages if "trusted_authserv_ids" in m]
