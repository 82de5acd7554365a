"""Reading the rows reports need: three queries, whatever the number of cases.

The only module of the package that touches the database. It selects
columns, not ORM objects (no lazy loads, no per-case queries), never reads
``events`` (whose ``detail`` is free text) or message bodies, and turns the
raiser's address into an agency type before the row leaves this function.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from tracker.model import Case, Deadline, OutboxItem
from tracker.reports.agencies import agency_type
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
    cases = tuple(
        CaseRow(
            id=r.id,
            reference=r.reference,
            partnership=r.partnership,
            status=r.status,
            stage=r.stage,
            category=r.category,
            agency=agency_type(r.raised_by or ""),
            opened_at=r.opened_at,
            resolved_at=r.resolved_at,
            track=r.track,
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
