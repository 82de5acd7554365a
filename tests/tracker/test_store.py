"""The store on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tracker.model import AppendOnlyError, Case, Event, MailboxState
from tracker.store import DbSourceState, Store

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _case(s: object) -> Case:
    case = Case(
        reference="SSCP-2026-0001",
        partnership="solihull",
        status="open",
        stage=1,
        flags=["cp_plan"],
        opened_at=T0,
        raised_by="a@b",
        mailbox="sscp",
    )
    s.add(case)  # type: ignore[attr-defined]
    return case


def test_migrations_are_idempotent(store: Store) -> None:
    assert store.current_revision() == store.head_revision()
    assert store.upgrade() is False


def test_round_trip_keeps_utc_and_json(store: Store) -> None:
    with store.transaction() as s:
        case = _case(s)
        s.flush()
        case_id = case.id
    with store.transaction() as s:
        got = s.get_one(Case, case_id)
        assert got.opened_at == T0 and got.opened_at.tzinfo is not None
        assert got.flags == ["cp_plan"]


def test_rollback_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as s:
        _case(s)
        s.flush()
        raise RuntimeError("boom")
    with store.transaction() as s:
        assert s.execute(text("select count(*) from cases")).scalar() == 0


def test_events_are_append_only_in_orm_and_database(store: Store) -> None:
    with store.transaction() as s:
        case = _case(s)
        s.flush()
        s.add(Event(case_id=case.id, at=T0, kind="opened", detail="case opened"))
    with pytest.raises(AppendOnlyError), store.transaction() as s:
        ev = s.scalars(select(Event)).one()
        ev.detail = "rewritten"
        s.flush()
    # Even raw SQL cannot rewrite history: the database has a trigger.
    for stmt in ("UPDATE events SET detail = 'x'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), store.transaction() as s:
            s.execute(text(stmt))
    with store.transaction() as s:
        assert s.execute(text("select detail from events")).scalar() == "case opened"


def test_source_state(store: Store) -> None:
    state = DbSourceState(store)
    assert state.load("sscp") is None
    state.save("sscp", 1234, 10)
    state.save("sscp", 1234, 15)
    assert state.load("sscp") == (1234, 15)
    with store.transaction() as s:
        assert s.get_one(MailboxState, "sscp").last_uid == 15


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.upgrade()
    with store.transaction() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.dispose()


def test_schema_revision_constant_is_alembic_head(sqlite_url: str) -> None:
    from tracker.store import SCHEMA_REVISION

    assert Store(sqlite_url).head_revision() == SCHEMA_REVISION


def test_migrations_build_exactly_the_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from tracker.model import Base

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
