from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tracker.config import default_config, load_config, parse_config
from tracker.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "deploy" / "config.example.toml"


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(EXAMPLE)
    box = config.mailbox[0]
    assert (box.kind, box.tls, box.effective_port) == ("imap", "implicit", 993)
    assert box.processed_folder == "Processed" and box.quarantine_folder == "Quarantine"
    assert config.outgoing.transport == "smtp" and config.outgoing.tls == "starttls"
    monkeypatch.setenv("SSCP_IMAP_PASSWORD", "s3cret")
    assert box.password() == "s3cret"


def test_bad_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[mailbox]]\nname = "sscp"\nkind = "imap"\naddress = "a@b"\npartnership = "x"\n'
        'host = "h"\nport = "nine"\nusername = "u"\npassword_env = "P"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "mailbox.0.port" in str(err.value)


def test_unknown_key_rejected() -> None:
    with pytest.raises(ConfigError, match=r"outgoing\.hots"):
        parse_config({"outgoing": {"transport": "file", "hots": "x"}})


def test_inline_password_is_not_a_key() -> None:
    with pytest.raises(ConfigError, match=r"outgoing\.password"):
        parse_config({"outgoing": {"transport": "smtp", "host": "h", "password": "p"}})


def test_unknown_partnership_named() -> None:
    with pytest.raises(ConfigError, match="'nowhere' is not a configured partnership"):
        parse_config(
            {
                "mailbox": [
                    {
                        "name": "a",
                        "kind": "maildir",
                        "address": "a@b",
                        "partnership": "nowhere",
                        "path": "x",
                    }
                ]
            }
        )


def test_imap_needs_a_secret_reference() -> None:
    with pytest.raises(ConfigError, match="password_env"):
        parse_config(
            {
                "partnerships": {"p": {"prefix": "PP"}},
                "mailbox": [
                    {
                        "name": "a",
                        "kind": "imap",
                        "address": "a@b",
                        "partnership": "p",
                        "host": "h",
                        "username": "u",
                    }
                ],
            }
        )


def test_missing_env_var_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    config = parse_config(
        {"outgoing": {"transport": "smtp", "host": "h", "password_env": "NO_SUCH_VAR"}}
    )
    with pytest.raises(ConfigError, match="NO_SUCH_VAR is not set"):
        config.outgoing.password()


def test_tls_none_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        parse_config({"outgoing": {"transport": "smtp", "host": "127.0.0.1", "tls": "none"}})
    assert "clear text" in caplog.text


def test_relative_paths_follow_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[database]\nurl = "sqlite:///var/t.db"\n[partnerships.solihull]\nprefix = "SSCP"\n'
        '[[mailbox]]\nname = "m"\nkind = "maildir"\naddress = "a@b"\npartnership = "solihull"\n'
        'path = "mail/m"\n[outgoing]\ntransport = "file"\ndirectory = "out"\n'
    )
    config = load_config(tmp_path / "c.toml")
    assert config.database.url == f"sqlite:///{tmp_path / 'var/t.db'}"
    assert config.mailbox[0].path == tmp_path / "mail/m"
    assert config.outgoing.directory == tmp_path / "out"


def test_defaults_are_the_embedded_demo(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    assert config.database.url.startswith("sqlite:///") and str(tmp_path) in config.database.url
    assert {m.kind for m in config.mailbox} == {"maildir"}
    assert config.outgoing.transport == "file"
    assert config.outgoing.directory == tmp_path / "var" / "outbox"
