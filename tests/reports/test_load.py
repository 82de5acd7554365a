"""The database layer: four queries whatever the number of cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import event

from tests.reports import seed
from tracker.reports.load import load_dataset
from tracker.reports.periods import Quarter
from tracker.reports.quarterly import build_quarterly
from tracker.reports.rows import CaseRow, Dataset, DeadlineRow, NoticeRow
from tracker.reports.stats import WorkingDays
from tracker.rules.calendar import WorkingCalendar
from tracker.store import Store


def _from_seed(cases: list[seed.SeedCase], partnership: str) -> Dataset:
    """The rows the loader should produce, built straight from the seed records."""
    mine = [c for c in cases if c.partnership == partnership]
    return Dataset(
        tuple(
            CaseRow(
                c.id,
                c.reference,
                c.partnership,
                c.status,
                c.stage,
                c.category,
                c.agency,
                c.opened_at,
                c.resolved_at,
                "default",
                c.challenged,
            )
            for c in mine
        ),
        tuple(
            DeadlineRow(
                c.id,
                d.stage,
                d.start_event,
                d.started_at,
                d.created_at,
                d.due_at,
                d.state,
                d.met_at,
            )
            for c in mine
            for d in c.deadlines
        ),
        tuple(NoticeRow(c.id, "iro_secure", at) for c in mine for at in c.iro_at),
    )


def test_loader_reads_what_was_written_in_four_queries(
    db_url: str, solihull_calendar: WorkingCalendar
) -> None:
    cases = seed.generate(solihull_calendar, n=80, seed=7)
    # The seed gives the loader something to do: form texts of every kind, and cases
    # whose address says another kind of agency than their form.
    assert {c.challenged for c in cases} >= {"school", "health", "police", "local_authority"}
    assert any(c.raiser_agency is None for c in cases)
    kind_of = {d: k for k, domains in seed.AGENCY_DOMAINS.items() for d in domains}
    assert any(kind_of[c.raised_by.partition("@")[2]] != c.agency for c in cases)
    store = Store(db_url)
    store.upgrade()
    try:
        with store.transaction() as s:
            seed.write(s, cases)
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        event.listen(store.engine, "before_cursor_execute", count)
        with store.transaction() as s:
            loaded = load_dataset(s, partnership="solihull")
        event.remove(store.engine, "before_cursor_execute", count)
        # cases, their form's two agency fields, deadlines, notices: one query each
        assert len(statements) == 4
        assert all("events" not in st.lower() for st in statements)  # free text is never read
        [fields] = [st for st in statements if "case_fields" in st]
        assert "case_fields.name IN" in fields  # only the two agency fields, no child's name
    finally:
        store.dispose()

    direct = _from_seed(cases, "solihull")
    assert sorted(loaded.cases, key=lambda c: c.id) == sorted(direct.cases, key=lambda c: c.id)
    key = lambda d: (d.case_id, d.created_at, d.stage, d.state)  # noqa: E731
    assert sorted((replace(d, id=0) for d in loaded.deadlines), key=key) == sorted(
        direct.deadlines, key=key
    )
    assert sorted(loaded.notices, key=lambda n: (n.case_id or 0, n.created_at)) == sorted(
        direct.notices, key=lambda n: (n.case_id or 0, n.created_at)
    )
    # Same rows, same figures: timestamps came back as the same instants.
    zone = seed.LONDON
    figures = [
        build_quarterly(
            "solihull",
            data,
            Quarter(2026, 4),
            zone,
            seed.NOW,
            WorkingDays(solihull_calendar),
            stage_count=4,
        )
        for data in (loaded, direct)
    ]
    assert figures[0] == figures[1]


def test_loader_window_keeps_what_matters(
    solihull_calendar: WorkingCalendar, tmp_path: Any
) -> None:
    cases = seed.generate(solihull_calendar, n=60, seed=3)
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    store.upgrade()
    with store.transaction() as s:
        seed.write(s, cases)
    window = Quarter(2026, 4).window(seed.LONDON)
    with store.transaction() as s:
        data = load_dataset(s, partnership="solihull", since=window.start, until=window.end)
    store.dispose()
    wanted = {
        c.reference
        for c in cases
        if c.partnership == "solihull"
        and c.opened_at < window.end
        and (c.resolved_at is None or c.resolved_at >= window.start)
    }
    assert {c.reference for c in data.cases} == wanted
    assert all(window.start <= n.created_at < window.end for n in data.notices)
