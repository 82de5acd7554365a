"""What every ``tracker`` command needs: the configuration, the clock, the store, output.

The command modules import this and nothing else from :mod:`tracker.cli`, so
the package has no import cycle: ``__init__`` builds the parser from the
command modules, and they never import it or each other.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from tracker.clock import Clock, FrozenClock, SystemClock
from tracker.config import Config, default_config, load_config
from tracker.errors import ConfigError
from tracker.notify import Renderer
from tracker.rules.partnerships import Partnerships
from tracker.service import Service
from tracker.store import Store

__all__ = [
    "Subcommands",
    "build",
    "clock",
    "err",
    "load",
    "open_store",
    "out",
    "parse_time",
    "unknown_partnership",
]

#: What ``add_commands(sub)`` of each command module registers its commands on.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def out(text: str = "") -> None:
    """A result line on stdout, flushed at once (operators pipe it, tests read it)."""
    print(text, flush=True)


def err(line: str) -> None:
    """Progress or a complaint on stderr, so stdout stays the result alone."""
    print(line, file=sys.stderr, flush=True)


def load(args: argparse.Namespace) -> Config:
    """``--config``, else ``$TRACKER_CONFIG``, else the embedded demo defaults."""
    path = args.config or os.environ.get("TRACKER_CONFIG")
    if path:
        return load_config(Path(path))
    return default_config(Path.cwd())


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time given to ``option``; a time without a UTC offset is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option}: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{option} needs a UTC offset, e.g. 2026-12-24T16:20:00+00:00")
    return moment


def clock(args: argparse.Namespace) -> Clock:
    """The system clock, or a frozen one at ``--now`` (replays and tests)."""
    when = getattr(args, "now", None)
    if when:
        return FrozenClock(parse_time(when, "--now"))
    return SystemClock()


def open_store(config: Config) -> Store:
    """The configured database, migrated to the current schema."""
    store = Store(config.database.url)
    store.upgrade()
    return store


def build(args: argparse.Namespace, config: Config) -> tuple[Store, Service, Clock]:
    """Store, service and clock for the commands that process mail."""
    store = open_store(config)
    now = clock(args)
    return store, Service(config, store, now, Renderer(config.paths.templates_dir)), now


def unknown_partnership(partnerships: Partnerships, name: str) -> str | None:
    """Why ``name`` cannot be reported on, or ``None`` when it is configured."""
    if name in partnerships.by_name:
        return None
    known = ", ".join(sorted(partnerships.by_name)) or "none"
    return f"no partnership {name!r} is configured (known: {known})"
