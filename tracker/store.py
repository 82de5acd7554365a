"""The database edge: engine, transactions, migrations. The only module that opens sessions.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` transactions, so writers
queue for the lock at the start instead of failing half-way; PostgreSQL uses
ordinary transactions and row locks (``SKIP LOCKED``) where work is shared.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import StoreError
from tracker.model import ClockMark, MailboxState
from tracker.private_files import create_private_file, narrow_to_private, private_dir

log = logging.getLogger(__name__)

#: The newest migration in ``tracker/migrations/versions``. Checking it with one
#: query lets a daemon whose database is current start without importing
#: Alembic at all (a test keeps the constant equal to Alembic's head).
SCHEMA_REVISION = "0004"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: object) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _private_sqlite_file(path: Path) -> None:
    """The database file 0600 (its folder 0700 if we make it) before SQLite opens it.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the mode of the
    database file, so making that one 0600 first covers all three, whatever
    the umask; files left wider by an older version are narrowed.
    """
    private_dir(path.parent)
    if not path.exists():
        with suppress(FileExistsError):
            os.close(create_private_file(path, exclusive=True))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        narrow_to_private(name)


def _hide_values(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _primary_message_only(ctx: ExceptionContext) -> None:
        # PostgreSQL's DETAIL quotes values ("Failing row contains (..., <a child's
        # name>, ...)", "Key (...)=(...) already exists"), and the driver puts it in
        # the exception's text: keep the primary message, which names no value.
        orig = ctx.original_exception
        primary = getattr(getattr(orig, "diag", None), "message_primary", None)
        if isinstance(primary, str) and primary:
            orig.args = (primary,)
            wrapped = ctx.sqlalchemy_exception
            if wrapped is not None:  # its text was made from the driver's, with the DETAIL
                kind = type(orig)
                wrapped.args = (f"({kind.__module__}.{kind.__name__}) {primary}",)


class Store:
    """Owns the engine and hands out transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        if url.startswith("sqlite:///") and not url.endswith(":memory:"):
            _private_sqlite_file(Path(url.removeprefix("sqlite:///").partition("?")[0]))
        # hide_parameters: a failing statement's exception (and echo) names no
        # parameter, so a child's name never reaches a traceback, a log or a terminal.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if not url.startswith("sqlite"):
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
        self.engine = create_engine(url, **kwargs)
        _hide_values(self.engine)
        if self.engine.dialect.name == "sqlite":
            _sqlite_setup(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One transaction on a Core connection, for row-at-a-time work that needs no
        ORM session (the outbox's claims): committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def session_on(self, conn: Connection) -> Iterator[Session]:
        """An ORM session inside ``conn``'s transaction, in a savepoint of its own.

        For ORM-level work (:func:`tracker.outbox.enqueue`) that must commit with
        a Core connection's row-at-a-time work; an error undoes the savepoint only.
        """
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            yield session
            session.commit()  # releases the savepoint; ``conn``'s transaction goes on

    def dispose(self) -> None:
        self.engine.dispose()

    # -- migrations -------------------------------------------------------

    def _alembic_config(self) -> Any:
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", "tracker:migrations")
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        head: str | None = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        return head

    def upgrade(self) -> bool:
        """Apply pending migrations; returns True if anything was applied."""
        try:
            before = self.current_revision()
            if before == SCHEMA_REVISION:
                return False
            from alembic import command

            cfg = self._alembic_config()
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(f"cannot migrate database {self.safe_url}: {exc.orig}") from exc
        log.info("database migrated from %s to %s", before or "empty", SCHEMA_REVISION)
        return True

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)


class ClockWentBackwards(StoreError):
    """``--now`` earlier than a time this database has already run at."""


def observe_clock(store: Store, now: datetime, *, explicit: bool) -> datetime:
    """Record ``now`` as this database's latest time; the clock never moves backwards.

    A deadline computed at 16:20 must not be judged again at 16:10. An
    explicit ``--now`` earlier than the mark is refused; a system clock that
    has stepped back (an NTP correction) is held at the mark instead.
    """
    with store.transaction() as s:
        mark = s.scalars(select(ClockMark).where(ClockMark.name == "now").with_for_update()).first()
        if mark is None:
            s.add(ClockMark(name="now", at=now))
            return now
        if now < mark.at:
            if explicit:
                raise ClockWentBackwards(
                    f"this database has already run at {mark.at.isoformat()}; "
                    f"--now {now.isoformat()} would move its clock backwards"
                )
            log.warning("system clock is behind this database's last run; holding at the mark")
            return mark.at
        mark.at = now
        return now


class DbSourceState:
    """:class:`ingest.sources.base.SourceState` kept in the ``mailbox_state`` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def load(self, mailbox: str) -> tuple[int, int] | None:
        with self._store.transaction() as s:
            row = s.get(MailboxState, mailbox)
            return None if row is None else (row.uidvalidity, row.last_uid)

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(MailboxState).where(MailboxState.mailbox == mailbox).with_for_update()
            ).first()
            if row is None:
                s.add(MailboxState(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid))
            else:
                row.uidvalidity, row.last_uid = uidvalidity, last_uid
