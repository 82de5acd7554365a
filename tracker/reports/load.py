"""Reading the rows reports need: four queries, whatever the number of cases.

The only module of the package that touches the database. It selects
columns, not ORM objects (no lazy loads, no per-case queries), never reads
``events`` (whose ``detail`` is free text) or message bodies, and turns the
raiser's address into an agency type before the row leaves this function.

Of the form's fields (``case_fields``) it reads two, ``raiser_agency`` and
``other_party``, in one query for all the cases, and reduces each value to an
agency type as it is read (:mod:`.agencies`): the text itself is kept in no
row, so nothing downstream can show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from tracker.model import Case, CaseField, Deadline, OutboxItem
from tracker.reports.agencies import NOT_RECORDED, agency_type_from_text, raising_agency_type
from tracker.reports.rows import CaseRow, Dataset, DeadlineRow, NoticeRow


def _case_filter(
    partnership: str | None, since: datetime | None, until: datetime | None
) -> ColumnElement[bool]:
    """Cases that could matter between ``since`` and ``until``: opened before the end,
    and not resolved before the start."""
    clauses: list[ColumnElement[bool]] = []
    if partnership is not None:
        clauses.append(Case.partnership == partnership)
    if until is not None:
        clauses.append(Case.opened_at < until)
    if since is not None:
        clauses.append(or_(Case.resolved_at.is_(None), Case.resolved_at >= since))
    return and_(true(), *clauses)


#: The form fields reports use (as agency types only); no other field is read.
RAISER_AGENCY = "raiser_agency"
OTHER_PARTY = "other_party"
FORM_AGENCY_FIELDS = (RAISER_AGENCY, OTHER_PARTY)


def _form_agency_types(s: Session, where: ColumnElement[bool]) -> dict[int, dict[str, str]]:
    """``{case_id: {field name: agency type}}`` for the cases ``where`` selects: one query."""
    out: dict[int, dict[str, str]] = {}
    for r in s.execute(
        select(CaseField.case_id, CaseField.name, CaseField.value)
        .join(Case, Case.id == CaseField.case_id)
        .where(where, CaseField.name.in_(FORM_AGENCY_FIELDS))
    ):
        out.setdefault(r.case_id, {})[r.name] = agency_type_from_text(r.value)
    return out


def load_dataset(
    s: Session,
    *,
    partnership: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    notice_kinds: Sequence[str] = ("iro_secure",),
) -> Dataset:
    """One partnership's cases (all when None) live between ``since`` and ``until``,
    their deadline rows, and their notifications of ``notice_kinds`` sent in that time."""
    where = _case_filter(partnership, since, until)
    form = _form_agency_types(s, where)
    cases = tuple(
        CaseRow(
            id=r.id,
            reference=r.reference,
            partnership=r.partnership,
            status=r.status,
            stage=r.stage,
            category=r.category,
            agency=raising_agency_type(
                form.get(r.id, {}).get(RAISER_AGENCY, NOT_RECORDED), r.raised_by
            ),
            opened_at=r.opened_at,
            resolved_at=r.resolved_at,
            track=r.track,
            challenged=form.get(r.id, {}).get(OTHER_PARTY, NOT_RECORDED),
        )
        for r in s.execute(
            select(
                Case.id,
                Case.reference,
                Case.partnership,
                Case.status,
                Case.stage,
                Case.category,
                Case.raised_by,
                Case.opened_at,
                Case.resolved_at,
                Case.track,
            )
            .where(where)
            .order_by(Case.id)
        )
    )
    deadlines = tuple(
        DeadlineRow(
            id=r.id,
            case_id=r.case_id,
            stage=r.stage,
            start_event=r.start_event,
            started_at=r.started_at,
            created_at=r.created_at,
            due_at=r.due_at,
            state=r.state,
            met_at=r.met_at,
        )
        for r in s.execute(
            select(
                Deadline.id,
                Deadline.case_id,
                Deadline.stage,
                Deadline.start_event,
                Deadline.started_at,
                Deadline.created_at,
                Deadline.due_at,
                Deadline.state,
                Deadline.met_at,
            )
            .join(Case, Case.id == Deadline.case_id)
            .where(where)
            .order_by(Deadline.id)
        )
    )
    notice_where: list[ColumnElement[bool]] = [OutboxItem.kind.in_(list(notice_kinds))]
    if since is not None:
        notice_where.append(OutboxItem.created_at >= since)
    if until is not None:
        notice_where.append(OutboxItem.created_at < until)
    if partnership is not None:
        notice_where.append(Case.partnership == partnership)
    if not notice_kinds:
        return Dataset(cases, deadlines)
    notices = tuple(
        NoticeRow(r.case_id, r.kind, r.created_at)
        for r in s.execute(
            select(OutboxItem.case_id, OutboxItem.kind, OutboxItem.created_at)
            .join(Case, Case.id == OutboxItem.case_id)
            .where(*notice_where)
            .order_by(OutboxItem.id)
        )
    )
    return Dataset(cases, deadlines, notices)
