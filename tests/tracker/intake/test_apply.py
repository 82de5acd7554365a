"""apply(): decisions become rows in one transaction, and reference numbers are never reused.

Run on SQLite and on the real PostgreSQL (the ``store`` fixture). The
decisions come from decide() over snapshots loaded from the same database,
as the daemon makes them.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ingest.classify import Classification, Verdict
from ingest.parse.types import Address
from tests.helpers import make_email
from tests.tracker.intake.conftest import NOW
from tracker.errors import ConflictError
from tracker.intake import Context, Snapshot, Work, apply, decide_all, load_snapshot
from tracker.intake.load import named_references
from tracker.model import Case, Deadline, Event, Message, OutboxItem, RawMail, RefSequence
from tracker.store import Store

PERSON = Classification(Verdict.PERSON, "a person's message", ())


def _raw(store: Store, n: int) -> list[int]:
    with store.transaction() as s:
        rows = [
            RawMail(
                mailbox="sscp",
                external_id=f"new/{i}",
                sha256=f"{i:064x}",
                size=1,
                received_at=NOW,
                stored_at=NOW,
                data=b"x",
                state="pending",
                attempts=1,
                replays=0,
            )
            for i in range(n)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _snapshot(s: Session, work: list[Work]) -> Snapshot:
    """The snapshot the daemon loads: references named by the batch read before the query."""
    return load_snapshot(s, work, NOW, {"SSCP"}, named_references(work, {"SSCP"}))


def _work(raw_id: int, sender: str, **email: object) -> Work:
    return Work(
        raw_id=raw_id,
        mailbox="sscp",
        received_at=NOW,
        email=make_email(
            message_id=f"m{raw_id}@school.example",
            from_=Address("", sender),
            content_hash=f"{raw_id:064x}",
            **email,
        ),
        classification=PERSON,
    )


def test_a_batch_with_a_case_and_its_reply_is_written_whole(store: Store, ctx: Context) -> None:
    first, second = _raw(store, 2)
    work = [
        _work(first, "p.shah@oakfield.example.sch.uk"),
        _work(
            second,
            "p.shah@oakfield.example.sch.uk",
            in_reply_to=(f"m{first}@school.example",),
            new_text="We are now escalating this to the next managerial level.",
        ),
    ]
    with store.transaction() as s:
        decisions = decide_all(work, _snapshot(s, work), ctx)
        apply(s, decisions, NOW)
    with store.transaction() as s:
        [case] = s.scalars(select(Case)).all()
        assert (case.reference, case.stage) == ("SSCP-2026-0001", 2)
        deadlines = s.scalars(select(Deadline).order_by(Deadline.id)).all()
        assert [(d.stage, d.state) for d in deadlines] == [(1, "met"), (2, "open")]
        assert s.scalar(select(RefSequence.last)) == 1
        intents = sorted(s.scalars(select(OutboxItem.intent)).all())
        assert f"ack:{case.id}" in intents
        assert {m.case_id for m in s.scalars(select(Message))} == {case.id}
        kinds = [e.kind for e in s.scalars(select(Event).order_by(Event.id))]
        assert kinds[0] == "opened" and "stage" in kinds and "ack-queued" in kinds
        assert {r.state for r in s.scalars(select(RawMail))} == {"done"}


def test_a_number_taken_meanwhile_undoes_the_batch(store: Store, ctx: Context) -> None:
    [raw_id] = _raw(store, 1)
    work = [_work(raw_id, "a@school.example")]
    with store.transaction() as s:
        snapshot = _snapshot(s, work)
    # Another daemon opens SSCP-2026-0001 after this snapshot was read.
    with store.transaction() as s:
        s.add(RefSequence(prefix="SSCP", year=2026, last=1))
    decisions = decide_all(work, snapshot, ctx)
    assert decisions[0].result.reference == "SSCP-2026-0001"
    with pytest.raises(ConflictError), store.transaction() as s:
        apply(s, decisions, NOW)
    with store.transaction() as s:
        assert s.scalars(select(Case)).all() == []
        assert s.scalar(select(RawMail.state)) == "pending"
        # Decided again on a fresh snapshot, the case takes the next number.
        again = decide_all(work, _snapshot(s, work), ctx)
        apply(s, again, NOW)
    with store.transaction() as s:
        assert s.scalars(select(Case.reference)).all() == ["SSCP-2026-0002"]


def _wait_for_a_blocked_update(store: Store) -> None:
    """Until another session waits on a row lock (PostgreSQL's own view of it), at most 30 s."""
    for _ in range(600):
        with store.transaction() as s:
            waiting = s.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar()
        if waiting:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the second transaction never waited on the row lock")


@pytest.mark.postgres
def test_two_daemons_claiming_the_same_number_one_waits_then_conflicts(
    pg_url: str, ctx: Context
) -> None:
    """The conditional UPDATE holds the row until commit; the second sees it moved."""
    store = Store(pg_url)
    store.upgrade()
    try:
        a_raw, b_raw = _raw(store, 2)
        with store.transaction() as s:
            s.add(RefSequence(prefix="SSCP", year=2026, last=5))
        work_a, work_b = [_work(a_raw, "a@school.example")], [_work(b_raw, "b@school.example")]
        # b reads the sequence at last=5 and decides SSCP-2026-0006 before a writes.
        with store.transaction() as s:
            stale = decide_all(
                work_b,
                _snapshot(s, work_b),
                ctx,
            )
        outcome: list[BaseException | None] = []

        def second() -> None:
            try:
                with store.transaction() as s:
                    apply(s, stale, NOW)
                outcome.append(None)
            except BaseException as exc:  # surfaced below
                outcome.append(exc)

        with store.transaction() as s:
            decisions = decide_all(
                work_a,
                _snapshot(s, work_a),
                ctx,
            )
            apply(s, decisions, NOW)  # a holds the sequence row until it commits
            thread = threading.Thread(target=second)
            thread.start()
            _wait_for_a_blocked_update(store)
        thread.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], ConflictError)
        with store.transaction() as s:
            assert s.scalars(select(Case.reference)).all() == ["SSCP-2026-0006"]
    finally:
        store.dispose()
