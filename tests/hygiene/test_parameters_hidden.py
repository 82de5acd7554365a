"""A failing statement names no parameter: a child's name must never reach a traceback.

The exception text of a failed INSERT is what ends up in a terminal, a log
or ``raw_mail.error``; it must carry the statement's shape, not its values.
"""

from __future__ import annotations

import traceback
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from tracker.model import Case, Child
from tracker.store import Store

NAME = "Jamie Testchild"
DOB = "2015-03-12"
AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _case(store: Store) -> int:
    with store.transaction() as s:
        case = Case(
            reference="SSCP-2026-0001",
            partnership="solihull",
            opened_at=AT,
            raised_by="p.shah@oakfield.example.sch.uk",
            mailbox="sscp",
        )
        s.add(case)
        s.flush()
        return case.id


def _child(case_id: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "case_id": case_id,
        "partnership": "solihull",
        "child_key": "k" * 64,
        "name": NAME,
        "dob": DOB,
        "source": "body",
        "recorded_at": AT,
    }
    row.update(overrides)
    return row


def _text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    "problem",
    ["a second child for one case (unique)", "a missing source (not null)"],
)
def test_a_failing_insert_names_no_childs_name_or_date_of_birth(store: Store, problem: str) -> None:
    case_id = _case(store)
    with store.transaction() as s:
        s.execute(insert(Child), [_child(case_id)])
    bad = _child(case_id) if problem.startswith("a second") else _child(case_id, source=None)
    with pytest.raises(DBAPIError) as caught, store.transaction() as s:
        s.execute(insert(Child), [bad])
    text = _text(caught.value)
    assert "INSERT INTO children" in text  # the statement is still there to debug
    assert NAME not in text
    assert "Testchild" not in text
    assert DOB not in text


def test_a_failing_update_names_no_parameter(store: Store) -> None:
    _case(store)
    with pytest.raises(DBAPIError) as caught, store.transaction() as s:
        s.execute(
            insert(Case),
            [
                {
                    "reference": "SSCP-2026-0001",  # taken
                    "partnership": "solihull",
                    "opened_at": AT,
                    "raised_by": "jamie.testchild@family.example",
                    "mailbox": "sscp",
                }
            ],
        )
    assert "testchild" not in _text(caught.value).lower()
