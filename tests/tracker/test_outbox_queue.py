"""Queuing into the outbox (``outbox.enqueue``, the one way in) and an operator's requeue."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tracker import outbox
from tracker.model import Case, Event, Message, OutboxItem
from tracker.outbox import OutgoingMail, Requeued, RequeueOutcome
from tracker.store import Store

NOW = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    s.upgrade()
    yield s
    s.dispose()


def _case(store: Store) -> int:
    with store.transaction() as s:
        case = Case(
            reference="SOL-0001",
            partnership="solihull",
            opened_at=NOW,
            raised_by="p.shah@school.example",
            mailbox="solihull",
        )
        s.add(case)
        s.flush()
        return case.id


def _mail(n: int, case_id: int | None = None, **overrides: object) -> OutgoingMail:
    fields: dict[str, object] = {
        "kind": "ack",
        "intent": f"ack:{n}",
        "to": f"Person{n}@School.example",
        "message_id": f"m{n}.ack.SOL-0001@tracker.example",
        "envelope_from": "tracker@tracker.example",
        "data": b"Subject: x\r\n\r\nbody\r\n",
        "automatic": True,
        "case_id": case_id,
    }
    fields.update(overrides)
    return OutgoingMail(**fields)  # type: ignore[arg-type]


def test_enqueue_writes_outbox_message_and_timeline_rows(store: Store) -> None:
    case_id = _case(store)
    mails = [
        _mail(1, case_id),
        _mail(2, case_id, kind="reminder", detail="reminder for stage 1 queued"),
        _mail(3, None, kind="rollup", automatic=False, on_timeline=False),
    ]
    with store.transaction() as s:
        outbox.enqueue(s, mails, NOW)
    with store.transaction() as s:
        rows = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert [(r.intent, r.kind, r.case_id) for r in rows] == [
            ("ack:1", "ack", case_id),
            ("ack:2", "reminder", case_id),
            ("ack:3", "rollup", None),
        ]
        first = rows[0]
        assert first.recipients == ["Person1@School.example"]
        assert first.rate_key == "person1@school.example"
        assert first.data == mails[0].data
        assert (first.state, first.attempts, first.automatic) == ("pending", 0, True)
        assert first.created_at == first.next_attempt_at == NOW
        assert rows[2].automatic is False
        messages = s.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.message_id, m.direction, m.verdict, m.case_id) for m in messages] == [
            (mails[0].message_id, "out", "own", case_id),
            (mails[1].message_id, "out", "own", case_id),
            (mails[2].message_id, "out", "own", None),
        ]
        assert all(m.from_addr == "tracker@tracker.example" for m in messages)
        events = s.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.kind, e.detail, e.case_id) for e in events] == [
            (
                "ack-queued",
                f"ack <{mails[0].message_id}> queued to Person1@School.example",
                case_id,
            ),
            ("reminder-queued", "reminder for stage 1 queued", case_id),
        ]


def test_enqueue_nothing_writes_nothing(store: Store) -> None:
    with store.transaction() as s:
        outbox.enqueue(s, [], NOW)
        assert s.scalars(select(OutboxItem)).all() == []


def test_a_duplicate_intent_undoes_the_whole_transaction(store: Store) -> None:
    with store.transaction() as s:
        outbox.enqueue(s, [_mail(1)], NOW)
    with pytest.raises(IntegrityError), store.transaction() as s:
        outbox.enqueue(
            s, [_mail(2), _mail(3, message_id="other@tracker.example", intent="ack:1")], NOW
        )
    with store.transaction() as s:
        assert [r.intent for r in s.scalars(select(OutboxItem))] == ["ack:1"]
        assert len(s.scalars(select(Message)).all()) == 1
        assert len(s.scalars(select(Event)).all()) == 1


def test_requeue_moves_only_failed_or_uncertain_mail_back_to_pending(store: Store) -> None:
    case_id = _case(store)
    with store.transaction() as s:
        outbox.enqueue(s, [_mail(n, case_id) for n in (1, 2, 3)], NOW)
        ids = list(s.scalars(select(OutboxItem.id).order_by(OutboxItem.id)))
        for row_id, state in zip(ids, ("failed", "uncertain", "sent"), strict=True):
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.id == row_id)
                .values(state=state, sending_since=NOW, next_attempt_at=NOW)
            )
    later = NOW + timedelta(hours=2)
    with store.transaction() as s:
        results = outbox.requeue(s, [ids[2], 999, ids[0], ids[1], ids[0]], later)
    assert results == [
        Requeued(ids[2], RequeueOutcome.WRONG_STATE, "sent"),
        Requeued(999, RequeueOutcome.NOT_FOUND, None),
        Requeued(ids[0], RequeueOutcome.REQUEUED, "failed"),
        Requeued(ids[1], RequeueOutcome.REQUEUED, "uncertain"),
    ]
    with store.transaction() as s:
        rows = {r.id: r for r in s.scalars(select(OutboxItem))}
        assert [rows[i].state for i in ids] == ["pending", "pending", "sent"]
        assert rows[ids[0]].sending_since is None
        assert rows[ids[0]].next_attempt_at == later
        requeued = s.scalars(
            select(Event).where(Event.kind == "delivery-requeued").order_by(Event.id)
        ).all()
        assert [e.detail for e in requeued] == [
            "ack <m1.ack.SOL-0001@tracker.example> was failed; queued again by an operator",
            "ack <m2.ack.SOL-0001@tracker.example> was uncertain; queued again by an operator",
        ]
        assert {e.case_id for e in requeued} == {case_id}


ROOT = Path(__file__).parents[2]


def _writes_outbox_rows(path: Path) -> bool:
    """Whether ``path`` builds an ``OutboxItem`` or an INSERT into the outbox table."""
    source = path.read_text(encoding="utf-8")
    if re.search(r"insert\s+into\s+outbox\b", source, re.IGNORECASE):
        return True
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "OutboxItem":  # OutboxItem(...) added to a session
                return True
            first = node.args[0] if node.args else None
            if name == "insert" and isinstance(first, ast.Name) and first.id == "OutboxItem":
                return True
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "__table__"
            and isinstance(node.value, ast.Name)
            and node.value.id == "OutboxItem"
        ):
            return True
    return False


def test_exactly_one_module_writes_outbox_rows() -> None:
    writers = {
        str(f.relative_to(ROOT))
        for f in sorted((ROOT / "tracker").rglob("*.py"))
        if _writes_outbox_rows(f)
    }
    # The intake, the chasers, the digests all call outbox.enqueue.
    assert writers == {"tracker/outbox.py"}
