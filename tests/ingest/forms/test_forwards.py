"""Forwarded and quoted chains: segments, senders and dates."""

from __future__ import annotations

import pytest

from ingest.forms.forwards import parse_sender, split_segments
from ingest.forms.text_form import rows_from_text


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("Jane Doe <jane@x.example>", ("Jane Doe", "jane@x.example")),
        ('"Doe, Jane" <Jane@X.example>', ("Jane Doe", "jane@x.example")),
        ("Doe, Jane [mailto:jane@x.example]", ("Jane Doe", "jane@x.example")),
        ("jane@x.example", (None, "jane@x.example")),
        ("Doe, Jane", ("Jane Doe", None)),
        ("**Jane Doe**", ("Jane Doe", None)),
    ],
)
def test_parse_sender(value: str, parsed: tuple[str | None, str | None]) -> None:
    assert parse_sender(value) == parsed


def test_chain_of_outlook_gmail_and_reply_markers() -> None:
    text = (
        "Please log this.\n\n-----Original Message-----\n"
        "From: Doe, Jane [mailto:jane@health.example]\nSent: 03 March 2026 09:14\n"
        "To: Manager <m@school.example>;\n Other <o@school.example>\nSubject: Escalation\n\n"
        "Name of Child: Jo Testchild\n\n---------- Forwarded message ---------\n"
        "From: Sam Original <sam@school.example>\nDate: Mon, 2 Mar 2026 at 16:01\n"
        "Subject: concern\nTo: <jane@health.example>\n\n"
        "> On Sun, 1 Mar 2026 at 10:00, Ann Earlier <ann@earlier.example>\n> wrote:\n"
        "> > Concern: blah\n"
    )
    segments = split_segments(rows_from_text(text))
    assert [(s.index, s.sender_name, s.sender_email, s.date) for s in segments] == [
        (0, None, None, None),
        (1, "Jane Doe", "jane@health.example", "2026-03-03"),
        (2, "Sam Original", "sam@school.example", "2026-03-02"),
        (3, "Ann Earlier", "ann@earlier.example", "2026-03-01"),
    ]
    assert [row.cells[0] for row in segments[3].rows if row.cells[0]] == ["Concern: blah"]


def test_a_form_from_line_is_not_a_header_block() -> None:
    text = "Date: 01/03/2026\nFrom: Sam Example\nTo: Alex Manager\nName of Child: Jo Testchild"
    assert len(split_segments(rows_from_text(text))) == 1


def test_apple_and_outlook_blocks_without_marker() -> None:
    apple = "Begin forwarded message:\n\nFrom: A Person <a@x.example>\nSubject: s\nDate: 27 February 2026 at 16:40:12 GMT\nTo: B\n\nbody"  # noqa: E501
    outlook = (
        "FYI\n\nFrom: Person, A\nSent: Thursday, March 5, 2026 4:12 PM\nTo: B\nSubject: s\n\nbody"
    )
    assert [(s.sender_name, s.sender_email, s.date) for s in split_segments(rows_from_text(apple))][
        1
    ] == (
        "A Person",
        "a@x.example",
        "2026-02-27",
    )
    assert [(s.sender_name, s.date) for s in split_segments(rows_from_text(outlook))][1] == (
        "A Person",
        "2026-03-05",
    )
