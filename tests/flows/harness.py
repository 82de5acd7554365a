"""A whole tracker (config, store, daemon) around temp Maildirs and a real SMTP sink."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import select

from tracker.clock import FrozenClock
from tracker.config import Config, load_config
from tracker.daemon import Daemon, RunReport, all_sources
from tracker.model import Case, Event, Message, OutboxItem, RawMail
from tracker.notify import Renderer
from tracker.senders.base import make_sender
from tracker.service import Service
from tracker.store import Store

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
_seq = itertools.count(1)


def flow_config(
    tmp: Path, db_url: str, smtp_port: int | None, *, batch_size: int = 200, **extra: Any
) -> Config:
    outgoing: dict[str, Any] = (
        {"transport": "smtp", "host": "127.0.0.1", "port": smtp_port, "tls": "none"}
        if smtp_port
        else {"transport": "file", "directory": str(tmp / "outbox")}
    )
    outgoing["from_address"] = "sscp@solihull.gov.uk"
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
        "mailbox": [
            {
                "name": "sscp",
                "kind": "maildir",
                "address": "sscp@solihull.gov.uk",
                "partnership": "solihull",
                "path": str(tmp / "mail" / "sscp"),
                "batch_size": batch_size,
            },
            {
                "name": "cpru",
                "kind": "maildir",
                "address": "cpru@solihull.gov.uk",
                "partnership": "solihull",
                "path": str(tmp / "mail" / "cpru"),
                "batch_size": batch_size,
            },
            {
                "name": "mscp",
                "kind": "maildir",
                "address": "mscp@merton.gov.uk",
                "partnership": "merton",
                "path": str(tmp / "mail" / "mscp"),
            },
        ],
        "outgoing": outgoing,
        "security": {
            "trusted_authserv_ids": ["mx.solihull.gov.uk"],
            "protected_domains": ["nhs.net"],
        },
        "paths": {"var_dir": str(tmp / "var")},
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value}
    # Also written as a file, so tests can drive the CLI with --config.
    (tmp / "config.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_config(tmp / "config.toml")


class Harness:
    def __init__(self, config: Config, clock: FrozenClock | None = None) -> None:
        self.config = config
        self.clock = clock or FrozenClock(T0)
        self.store = Store(config.database.url)
        self.store.upgrade()
        self.service = Service(config, self.store, self.clock, Renderer(config.paths.templates_dir))

    def deliver(self, data: bytes, mailbox: str = "sscp") -> Path:
        """Drop a message into a mailbox the way a delivery agent would."""
        box = next(m for m in self.config.mailbox if m.name == mailbox)
        assert box.path is not None
        for sub in ("new", "cur", "tmp"):
            (box.path / sub).mkdir(parents=True, exist_ok=True)
        # Zero-padded: in one second names sort as text, and M10 must follow M9.
        name = f"{int(self.clock.now().timestamp())}.M{next(_seq):09d}P1.test"
        (box.path / "tmp" / name).write_bytes(data)
        (box.path / "tmp" / name).rename(box.path / "new" / name)
        return box.path / "new" / name

    def daemon(self) -> Daemon:
        return Daemon(
            self.config,
            self.store,
            self.clock,
            self.service,
            all_sources(self.config, self.store),
            make_sender(self.config.outgoing),
        )

    def run(self) -> RunReport:
        d = self.daemon()
        try:
            return d.run_once()
        finally:
            d.sender.close()

    # -- inspection -------------------------------------------------------

    def cases(self) -> list[Case]:
        with self.store.transaction() as s:
            return list(s.scalars(select(Case).order_by(Case.id)))

    def events(self, reference: str | None = None) -> list[Event]:
        with self.store.transaction() as s:
            q = select(Event).order_by(Event.id)
            if reference:
                q = q.join(Case, Case.id == Event.case_id).where(Case.reference == reference)
            return list(s.scalars(q))

    def raws(self) -> list[RawMail]:
        with self.store.transaction() as s:
            return list(s.scalars(select(RawMail).order_by(RawMail.id)))

    def messages(self) -> list[Message]:
        with self.store.transaction() as s:
            return list(s.scalars(select(Message).order_by(Message.id)))

    def outbox(self) -> list[OutboxItem]:
        with self.store.transaction() as s:
            return list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))

    def folder(self, mailbox: str, folder: str | None) -> list[Path]:
        box = next(m for m in self.config.mailbox if m.name == mailbox)
        assert box.path is not None
        base = box.path / f".{folder}" if folder else box.path
        return sorted(p for sub in ("new", "cur") for p in (base / sub).glob("*"))
