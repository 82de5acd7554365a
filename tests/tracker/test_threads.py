from __future__ import annotations

from collections.abc import Sequence

from tests.helpers import make_email
from tracker.threads import match


class Lookup:
    def __init__(self, ids: dict[str, int], refs: dict[str, int]) -> None:
        self.ids, self.refs = ids, refs
        self.asked: list[Sequence[str]] = []

    def cases_for_message_ids(self, message_ids: Sequence[str]) -> dict[str, int]:
        self.asked.append(message_ids)
        return {m: self.ids[m] for m in message_ids if m in self.ids}

    def case_for_reference(self, reference: str) -> int | None:
        return self.refs.get(reference)


P = {"SSCP"}


def test_in_reply_to_wins_over_everything() -> None:
    email = make_email(
        in_reply_to=("ack-1@tracker",),
        references=("other@x",),
        subject="RE: [SSCP-2026-0002]",
        text="SSCP-2026-0003",
    )
    lookup = Lookup({"ack-1@tracker": 1, "other@x": 9}, {"SSCP-2026-0002": 2, "SSCP-2026-0003": 3})
    m = match(email, lookup, P)
    assert (m.case_id, m.via) == (1, "in-reply-to")
    assert m.detail == "threaded via In-Reply-To <ack-1@tracker>"


def test_references_newest_first() -> None:
    email = make_email(references=("old@x", "new@x"))
    m = match(email, Lookup({"old@x": 1, "new@x": 2}, {}), P)
    assert (m.case_id, m.via) == (2, "references")


def test_unknown_headers_fall_back_to_subject_tag() -> None:
    email = make_email(
        in_reply_to=("unknown@x",), subject="AW: FW: [sscp\u20112026\u20110002] update"
    )
    m = match(email, Lookup({}, {"SSCP-2026-0002": 2}), P)
    assert (m.case_id, m.via) == (2, "subject")
    assert "SSCP-2026-0002" in m.detail


def test_body_reference_after_subject() -> None:
    email = make_email(
        subject="Re: your acknowledgement",
        text="> Your escalation ... recorded under the reference SSCP-2026-0007.",
    )
    m = match(email, Lookup({}, {"SSCP-2026-0007": 7}), P)
    assert (m.case_id, m.via) == (7, "body")


def test_reference_to_unknown_case_is_no_match() -> None:
    email = make_email(subject="[SSCP-2026-0999]", text="SSCP-2026-0998")
    m = match(email, Lookup({}, {}), P)
    assert not m.found and m.via is None and m.case_id is None


def test_no_headers_no_lookup_of_ids() -> None:
    lookup = Lookup({}, {})
    match(make_email(), lookup, P)
    assert lookup.asked == []
