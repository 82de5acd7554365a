"""The docs a newcomer reads stay true to the code (Datasette's test_docs habit)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracker.cli import build_parser
from tracker.config import load_config

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "tracker") -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix} {name}")
                found += nested or [f"{prefix} {name}"]
    return found


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _commands(build_parser())
    assert len(commands) >= 10
    missing = [c for c in commands if c not in README]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_example_config_in_deploy_loads() -> None:
    config = load_config(ROOT / "deploy" / "config.example.toml")
    assert config.mailbox and config.outgoing.transport == "smtp"


def test_default_templates_exist() -> None:
    for part in ("subject", "txt"):
        assert (ROOT / "templates" / "_default" / "sender" / f"ack.{part}.j2").is_file()
