"""Which case does a message belong to? (Pure: the database is behind a lookup protocol.)

The order is fixed (DESIGN.md §4) and the answer says which rule matched, so
the timeline can record *why* a message joined a case:

1. ``In-Reply-To`` naming a Message-ID we hold (inbound, or our own outbound);
2. ``References`` naming one, newest first;
3. the reference tag in the subject;
4. a reference in the body (a quoted acknowledgement);
5. otherwise: no case (the caller may open one).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.parse.types import ParsedEmail
from tracker.refcode import find_references


class CaseLookup(Protocol):
    def cases_for_message_ids(self, message_ids: Sequence[str]) -> dict[str, int]:
        """Map each Message-ID we hold (and that belongs to a case) to its case id."""
        ...

    def case_for_reference(self, reference: str) -> int | None:
        """The id of the case with this reference, if there is one."""
        ...


@dataclass(frozen=True)
class ThreadMatch:
    case_id: int | None
    via: str | None
    detail: str

    @property
    def found(self) -> bool:
        return self.case_id is not None


NO_MATCH = ThreadMatch(None, None, "no In-Reply-To, References or reference code matched a case")


def match(email: ParsedEmail, lookup: CaseLookup, prefixes: Collection[str]) -> ThreadMatch:
    """Find the case ``email`` belongs to, or say that none matched."""
    header_ids = [*email.in_reply_to, *reversed(email.references)]
    if header_ids:
        known = lookup.cases_for_message_ids(header_ids)
        for mid in email.in_reply_to:
            if mid in known:
                return ThreadMatch(known[mid], "in-reply-to", f"threaded via In-Reply-To <{mid}>")
        for mid in reversed(email.references):
            if mid in known:
                return ThreadMatch(known[mid], "references", f"threaded via References <{mid}>")
    for ref in find_references(email.subject, prefixes):
        case_id = lookup.case_for_reference(ref)
        if case_id is not None:
            return ThreadMatch(case_id, "subject", f"threaded via subject reference {ref}")
    for ref in find_references(email.text, prefixes):
        case_id = lookup.case_for_reference(ref)
        if case_id is not None:
            return ThreadMatch(case_id, "body", f"threaded via body reference {ref}")
    return NO_MATCH
