"""PostgreSQL refuses NUL in text: a form carrying one must not sink its batch or leak the child.

A practitioner's mail client (or a copy-paste from a PDF) can put a NUL
character into a form field. PostgreSQL's text types refuse it; before
this fix the whole batch failed three times and the traceback printed the
SQL parameters, the child's name among them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.flows.harness import Harness, flow_config
from tests.helpers import rfc822
from tracker.model import Case, CaseField, Child

FORM = (
    "Please see my escalation form below.\n\n"
    "Date: 03/03/2026\n"
    "From (Practitioner): Priya Examplewood\n"
    "Name of Child: Jamie\x00Testchild\n"
    "DOB: 12/03/2015\n"
    "Agency/Team: Northshire Academy\x00 Pastoral Team\n"
    "Summary of Concern(s): The referral was closed at the front door.\x00\n"
    "Requested Action: Reconsider the referral.\n"
)


@pytest.fixture
def h(tmp_path: Path, pg_url: str) -> Harness:
    return Harness(flow_config(tmp_path, pg_url, None))


def test_a_nul_in_a_childs_name_is_stored_safely_and_the_batch_succeeds(
    h: Harness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    h.deliver(
        rfc822(
            subject="Escalation - Appendix C",
            sender="Priya Examplewood <priya@northshire-academy.example>",
            message_id="<nul-form@northshire-academy.example>",
            body=FORM,
        )
    )
    h.deliver(
        rfc822(
            subject="Escalation about another child",
            message_id="<clean@oakfield.example.sch.uk>",
        )
    )
    h.run()

    raws = h.raws()
    assert [r.outcome for r in raws] == ["case", "case"], [r.reason for r in raws]
    with h.store.transaction() as s:
        assert len(s.scalars(select(Case)).all()) == 2
        child = s.scalars(select(Child)).one()
        assert child.name is not None
        assert "\x00" not in child.name
        assert child.name.replace("\ufffd", " ").split() == ["Jamie", "Testchild"]
        for f in s.scalars(select(CaseField)):
            assert "\x00" not in f.value
    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err):
        assert "Testchild" not in text
        assert "12/03/2015" not in text
