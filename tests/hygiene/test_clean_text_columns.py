"""Every text column of the model refuses to hand PostgreSQL a NUL, including ones added later.

The cleaning lives in the column type (:class:`tracker.model.CleanString`),
so a new table written with a plain ``String`` would quietly bring the
whole-batch failure back; this test names such a column.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, insert, select

from tracker.model import Base, CleanString, Event, RawMail, clean_text
from tracker.store import Store


def test_every_text_column_uses_the_cleaning_type() -> None:
    plain = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, String) and not isinstance(column.type, CleanString)
    ]
    assert plain == []


def test_clean_text_replaces_nul_and_keeps_everything_else() -> None:
    assert clean_text("Jamie\x00Testchild") == "Jamie\ufffdTestchild"
    assert clean_text("\x00\x00") == "\ufffd\ufffd"
    text = "Zoë O’Brien — 12/03/2015 \t\r\n\x01\x7f"
    assert clean_text(text) is text


def test_nul_in_core_inserts_and_orm_rows_is_stored_on_both_databases(store: Store) -> None:
    at = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    with store.transaction() as s:
        raw = RawMail(
            mailbox="sscp",
            external_id="1\x00",
            sha256="0" * 64,
            size=1,
            received_at=at,
            stored_at=at,
            data=b"\x00 bytes stay bytes",
            reason="held for review: \x00",
            error="Traceback ... 'Jamie\x00Testchild'",
        )
        s.add(raw)
        s.flush()
        s.execute(
            insert(Event),
            [{"case_id": None, "raw_id": raw.id, "at": at, "kind": "noted", "detail": "a\x00b"}],
        )
    with store.transaction() as s:
        got = s.scalars(select(RawMail)).one()
        assert got.error is not None and "\x00" not in got.error
        assert got.reason == "held for review: \ufffd"
        assert s.scalars(select(Event.detail)).one() == "a\ufffdb"
        # Looking a value up cleans it the same way, so it is found again.
        assert s.scalars(select(RawMail.id).where(RawMail.external_id == "1\x00")).one() == got.id
