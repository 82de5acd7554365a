"""Chasers: reminders before a deadline, overdue notices after it, a daily overdue roll-up.

:func:`run_due` is what the scheduler's tick calls, and what ``tracker run
--once --now T`` calls at ``T``. It is idempotent: every chaser is recorded
on its deadline row (``reminded_at``, ``overdue_at``) or by a unique outbox
intent (``rollup:<partnership>:<date>``) in the same transaction as the mail it
queues, so exactly one of each goes out per deadline however often the tick
runs and however many times the daemon restarts. Nothing lives in the
scheduler's memory. Chasers are only queued inside the partnership's business
hours; a deadline that passes at close of business is chased when the office
opens. A deadline closed by a stage move or a resolution is no longer
``open``, which is what cancels its chasers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.config import Config
from tracker.model import Case, Deadline, OutboxItem
from tracker.notify import Renderer, render_mail
from tracker.outbox import OutgoingMail, enqueue
from tracker.rules.partnerships import Partnership, Partnerships
from tracker.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chase:
    """One chaser that is due: what, for which case, to whom."""

    kind: str  # reminder | overdue | rollup
    partnership: str
    reference: str | None
    stage: int | None
    due_at: datetime | None
    to: tuple[str, ...]
    deadline_id: int | None = None
    case_id: int | None = None
    track: str | None = None
    cases: tuple[dict[str, Any], ...] = ()


@dataclass
class ChaseReport:
    due: list[Chase] = field(default_factory=list)
    queued: int = 0

    def summary(self) -> str:
        kinds = {
            k: sum(1 for c in self.due if c.kind == k) for k in ("reminder", "overdue", "rollup")
        }
        return ", ".join(f"{n} {k}" for k, n in kinds.items())


def _local(t: datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).strftime("%a %d %b %Y %H:%M")


def _short(t: datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).strftime("%a %d %b %H:%M")


def _overdue_for(now: datetime, due: datetime) -> str:
    hours = int((now - due).total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def _addresses(p: Partnership, roles: Sequence[str], raised_by: str) -> tuple[str, ...]:
    out: list[str] = []
    for role in roles:
        addr = raised_by if role == "raiser" else p.role_address(role)
        if addr and addr not in out:
            out.append(addr)
    return tuple(out)


def find_due(
    s: Session, partnerships: Partnerships, now: datetime, window: timedelta = timedelta(days=14)
) -> list[Chase]:
    """Every chaser due at ``now`` that has not gone out yet (read-only).

    A deadline that passed more than ``window`` ago gets no overdue notice of
    its own (importing an old mailbox must not mail every practitioner in
    it); it is still listed in the business manager's roll-up.
    """
    chases: list[Chase] = []
    rows = s.execute(
        select(Deadline, Case.reference, Case.partnership, Case.raised_by, Case.flags)
        .join(Case, Case.id == Deadline.case_id)
        .where(
            Deadline.state == "open",
            Deadline.due_at.is_not(None),
            Case.status == "open",
        )
        .order_by(Deadline.due_at, Deadline.id)
    ).all()
    overdue_by_partnership: dict[str, list[dict[str, Any]]] = {}
    for d, reference, name, raised_by, flags in rows:
        p = partnerships.by_name.get(name)
        if p is None or d.due_at is None:
            continue
        rules = p.engine.rule_file.chasers
        open_now = p.engine.calendar.in_business_hours(now)
        if now >= d.due_at:
            overdue_by_partnership.setdefault(name, []).append(
                {
                    "reference": reference,
                    "stage": d.stage,
                    "due_local": _local(d.due_at, p.engine.zone),
                    "overdue_for": _overdue_for(now, d.due_at),
                    "flags": list(flags or ()),
                }
            )
            if d.overdue_at is None and open_now and now - d.due_at <= window:
                chases.append(
                    Chase(
                        "overdue",
                        name,
                        reference,
                        d.stage,
                        d.due_at,
                        _addresses(p, rules.overdue_to, raised_by),
                        d.id,
                        d.case_id,
                        d.track,
                    )
                )
        elif (
            rules.reminder is not None
            and d.reminder_at is not None
            and d.reminded_at is None
            and d.reminder_at <= now
            and open_now
        ):
            chases.append(
                Chase(
                    "reminder",
                    name,
                    reference,
                    d.stage,
                    d.due_at,
                    _addresses(p, rules.reminder.to, raised_by),
                    d.id,
                    d.case_id,
                    d.track,
                )
            )
    for name, cases in sorted(overdue_by_partnership.items()):
        p = partnerships.by_name[name]
        if not p.engine.calendar.in_business_hours(now):
            continue
        day = now.astimezone(p.engine.zone).date().isoformat()
        intent = f"rollup:{name}:{day}"
        if s.scalar(select(OutboxItem.id).where(OutboxItem.intent == intent)) is not None:
            continue
        to = _addresses(p, p.engine.rule_file.chasers.rollup_to, "")
        if to:
            chases.append(Chase("rollup", name, None, None, None, to, cases=tuple(cases)))
    return chases


def run_due(
    store: Store,
    partnerships: Partnerships,
    renderer: Renderer,
    config: Config,
    now: datetime,
    *,
    dry_run: bool = False,
) -> ChaseReport:
    """Queue every chaser due at ``now``, each exactly once (see the module docstring)."""
    report = ChaseReport()
    try:
        with store.transaction() as s:
            window = timedelta(days=config.limits.overdue_notice_window_days)
            report.due = find_due(s, partnerships, now, window)
            if dry_run:
                return report
            mails: list[OutgoingMail] = []
            for chase in report.due:
                mails += _claim(s, chase, partnerships[chase.partnership], renderer, config, now)
            enqueue(s, mails, now)
            report.queued = len(mails)
    except IntegrityError:
        # Another daemon queued the same roll-up a moment earlier (PostgreSQL); this
        # transaction is undone as a whole and the next tick finds nothing left to do.
        log.info("chasers: another daemon queued them first; nothing queued by this one")
        return ChaseReport(due=report.due, queued=0)
    if report.queued:
        log.info("chasers queued at %s: %s", now.isoformat(), report.summary())
    return report


def _claim(
    s: Session, chase: Chase, p: Partnership, renderer: Renderer, config: Config, now: datetime
) -> list[OutgoingMail]:
    """Claim ``chase`` on its deadline row and render its mails (none if another daemon won).

    The claim is a conditional UPDATE in the caller's transaction, the same
    one that queues the mails, so a chaser is recorded exactly when it is queued.
    """
    if chase.deadline_id is not None:
        column = Deadline.reminded_at if chase.kind == "reminder" else Deadline.overdue_at
        values: dict[str, datetime] = {column.key: now}
        if chase.kind == "overdue":
            values["reminded_at"] = now  # no reminder after the deadline has passed
        claimed = s.execute(
            update(Deadline)
            .where(Deadline.id == chase.deadline_id, column.is_(None))
            .values(**values)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return []  # another daemon got there first
    track = p.engine.rule_file.track(chase.track)
    stage = track.stage(chase.stage) if chase.stage else None
    zone = p.engine.zone
    context: dict[str, Any] = {
        "partnership_name": p.display_name,
        "reference": chase.reference or "",
        "stage": chase.stage or 0,
        "stage_count": len(track.stages),
        "stage_name": stage.name if stage else "",
        "due_local": _local(chase.due_at, zone) if chase.due_at else "",
        "due_short": _short(chase.due_at, zone) if chase.due_at else "",
        "today": now.astimezone(zone).strftime("%A %d %B %Y"),
        "cases": list(chase.cases),
    }
    template = {
        "reminder": "chaser/reminder",
        "overdue": "chaser/overdue",
        "rollup": "business_manager/rollup",
    }[chase.kind]
    reference = chase.reference or p.prefix
    from_addr = config.outgoing.from_address
    mails: list[OutgoingMail] = []
    for i, to in enumerate(chase.to):
        if chase.kind == "rollup":
            day = now.astimezone(zone).date().isoformat()
            intent = f"rollup:{chase.partnership}:{day}" + (f"/{i}" if i else "")
        else:
            intent = f"{chase.kind}:{chase.deadline_id}/{i}"
        mail = render_mail(
            renderer,
            partnership=p.name,
            template=template,
            context=context,
            kind=chase.kind,
            reference=reference,
            from_addr=from_addr,
            to=to,
            date=now,
            reply_to=p.role_address("business_manager"),
        )
        mails.append(
            OutgoingMail(
                kind=chase.kind,
                intent=intent,
                to=to,
                message_id=mail.message_id,
                envelope_from=from_addr,
                data=mail.data,
                automatic=True,
                case_id=chase.case_id,
                detail=f"{chase.kind} for stage {chase.stage} (due "
                f"{context['due_local']}) <{mail.message_id}> queued to {to}",
                on_timeline=chase.case_id is not None,
            )
        )
    return mails
