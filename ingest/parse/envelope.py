"""The envelope recipients of a message: whom it was delivered for, strongest evidence first.

Behind an MX, ``To`` and ``Cc`` say whom the sender wrote to and the final
``Delivered-To`` is the watched mailbox itself; the partnership alias the
sender used survives only in the trace: ``X-Original-To`` (added at final
delivery), earlier ``Delivered-To`` lines, and the ``for <address>`` clause
of ``Received`` hops. This module lists those, in that order, each group
topmost (most recent) first, lower-cased and without repeats.

Received hops are split by mail-parser (``mailparser.utils.parse_received``,
as the product's design names), not by another hand-written parser. It was
checked before adoption: version 4.x has no required dependencies, and its
Received reader is a keyword scanner with no backtracking regular expression
(hostile values of 100,000 characters of brackets, keywords or ``for``
clauses parse in milliseconds). Two caps bound the work on a mail loop or
a forged trace anyway: only the first :data:`MAX_RECEIVED` Received headers are
read, each cut to :data:`MAX_RECEIVED_CHARS` characters. A hop it cannot read
is skipped: the trace is evidence, never a reason to fail.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailparser.exceptions import MailParserError
from mailparser.utils import parse_received

#: Received headers read, topmost first; a real path has a dozen, a loop hundreds.
MAX_RECEIVED = 30
#: Characters of one Received value read; a real one has a few hundred.
MAX_RECEIVED_CHARS = 4096


def envelope_recipients(headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """X-Original-To, then Delivered-To, then Received ``for`` addresses; topmost first.

    ``headers`` are (lower-cased name, unfolded value) pairs in message order.
    """
    original: list[str] = []
    delivered: list[str] = []
    hops: list[str] = []
    for name, value in headers:
        if name == "x-original-to":
            original.append(value)
        elif name == "delivered-to":
            delivered.append(value)
        elif name == "received" and len(hops) < MAX_RECEIVED:
            hops.append(value)
    seen: dict[str, None] = {}
    for value in (*original, *delivered):
        _add(seen, value)
    for hop in hops:
        _add(seen, received_for(hop) or "")
    return tuple(seen)


def received_for(value: str) -> str | None:
    """The ``for`` clause of one Received value, as written, or None."""
    try:
        clauses = parse_received(value[:MAX_RECEIVED_CHARS])
    except (MailParserError, ValueError):
        return None
    found = clauses.get("for") if isinstance(clauses, dict) else None
    return found if isinstance(found, str) else None


def _add(seen: dict[str, None], value: str) -> None:
    """Add the address in ``value`` ("<a@b>", "a@b", "<a@b> (comment)") if it has an "@"."""
    value = value.strip()
    if value.startswith("<"):
        value = value[1:].partition(">")[0]
    else:
        value = value.partition(" ")[0].rstrip(";,")
    address = value.strip().lower()
    if "@" in address and "<" not in address:
        seen[address] = None
