"""Readers run in a killable worker: hangs, crashes, memory bombs and odd answers end as results."""

from __future__ import annotations

import time

import pytest

from ingest.forms.isolation import Reader, run_isolated
from ingest.forms.types import Blob
from tests.ingest.forms import hostile

BLOB = Blob("form.bin", "application/octet-stream", b"Name of Child: Jamie Testchild")
MEMORY = 256 * 1024 * 1024


def test_round_trip() -> None:
    result = run_isolated(hostile.echo, BLOB, 10, MEMORY)
    assert result.status == "read"
    assert [(f.name, f.value) for f in result.fields] == [
        ("concern", "Name of Child: Jamie Testchild")
    ]


@pytest.mark.parametrize("reader", [hostile.hang, hostile.spin], ids=["sleeps", "spins"])
def test_a_hanging_reader_is_killed_at_the_timeout(reader: Reader) -> None:
    started = time.monotonic()
    result = run_isolated(reader, BLOB, 1.0, MEMORY)
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert "1 seconds" in result.reason
    # Waited the timeout, then stopped the reader (which would run for an hour or for
    # ever): a bound loose enough for a loaded CI machine, not a performance goal.
    assert 1.0 <= elapsed < 15.0


def test_a_crashing_reader_is_unreadable() -> None:
    result = run_isolated(hostile.crash, BLOB, 10, MEMORY)
    assert (result.status, result.reason) == ("unreadable", "reader process ended without a result")


def test_a_memory_bomb_hits_the_workers_cap() -> None:
    started = time.monotonic()
    result = run_isolated(hostile.hog, BLOB, 20, MEMORY)
    assert result.status == "unreadable"
    assert "memory" in result.reason or "ended without a result" in result.reason
    assert time.monotonic() - started < 15


def test_a_failure_reports_the_exception_class_not_its_text() -> None:
    result = run_isolated(hostile.leak_text, BLOB, 10, MEMORY)
    assert result == result.__class__("unreadable", "reader failed (ValueError)")
    assert "Jamie" not in repr(result)


def test_an_unexpected_type_in_the_answer_is_refused() -> None:
    result = run_isolated(hostile.smuggle, BLOB, 10, MEMORY)
    assert (result.status, result.reason) == ("unreadable", "reader returned no usable result")
