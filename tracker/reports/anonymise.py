"""Rows for the anonymised learning export (pure).

One row per case, for multi-agency learning reviews and research: what kind
of disagreement, who raised it and with whom (agency types, never the form's
text), how far it went, when (to the
week) and whether the procedure's timescales were kept. The case reference
is replaced by a keyed hash (HMAC-SHA256 with a key from the configuration):
stable across exports, so a reviewer can follow a case from one export to
the next, but not reversible by anyone who has the reference list without
the key. Rows are sorted by that pseudonym, because the order of references
would otherwise give them away.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.reports.agencies import UNCATEGORISED
from tracker.reports.rows import Dataset, stage_history
from tracker.reports.stats import WorkingDays

#: Keys shorter than this are refused: a short key can be found by trying them all.
MIN_KEY_BYTES = 16
FIXED_FIELDS = (
    "case_id",
    "partnership",
    "category",
    "raising_agency",
    "agency_challenged",
    "opened_week",
    "highest_stage",
)
TAIL_FIELDS = (
    "outcome",
    "resolved_week",
    "working_days_to_resolution",
    "stages_with_timescale",
    "stages_within_timescale",
    "stages_late",
    "stages_overdue_now",
)


def pseudonym(key: bytes, reference: str) -> str:
    """``c-`` and 16 hex digits of HMAC-SHA256(key, reference) (64 bits: no collisions
    in practice)."""
    return "c-" + hmac.new(key, reference.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def week_of(t: datetime, zone: ZoneInfo) -> str:
    """The Monday of ``t``'s week (local), ISO: dates rounded to the week."""
    d = t.astimezone(zone).date()
    return (d - timedelta(days=d.weekday())).isoformat()


def fieldnames(max_stage: int) -> list[str]:
    return [
        *FIXED_FIELDS,
        *(f"stage_{n}_week" for n in range(1, max_stage + 1)),
        *TAIL_FIELDS,
    ]


def anonymised_rows(
    data: Dataset,
    key: bytes,
    now: datetime,
    zone_of: Callable[[str], ZoneInfo],
    working_days_of: Callable[[str], WorkingDays],
) -> tuple[list[str], list[dict[str, str | int]]]:
    """(field names, rows): one row per case in ``data``.

    A stage reached more than once (moved back, then up again) keeps the week
    it was first reached.
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    rows: list[dict[str, str | int]] = []
    max_stage = 1
    for c in data.cases:
        zone = zone_of(c.partnership)
        deadlines = data.deadlines_of(c.id)
        history = stage_history(c, deadlines)
        first_reached: dict[int, datetime] = {}
        for e in history:
            first_reached.setdefault(e.stage, e.at)
        top = max(first_reached)
        max_stage = max(max_stage, top)
        resolved = c.status == "resolved" and c.resolved_at is not None
        timed_done = [d for d in deadlines if d.state == "met" and d.due_at is not None]
        row: dict[str, str | int] = {
            "case_id": pseudonym(key, c.reference),
            "partnership": c.partnership,
            "category": c.category or UNCATEGORISED,
            "raising_agency": c.agency,
            "agency_challenged": c.challenged,
            "opened_week": week_of(c.opened_at, zone),
            "highest_stage": top,
            "outcome": "resolved" if resolved else "open",
            "resolved_week": week_of(c.resolved_at, zone) if c.resolved_at and resolved else "",
            "working_days_to_resolution": (
                working_days_of(c.partnership).between(c.opened_at, c.resolved_at)
                if c.resolved_at and resolved
                else ""
            ),
            "stages_with_timescale": len(timed_done),
            "stages_within_timescale": sum(1 for d in timed_done if d.in_time),
            "stages_late": sum(1 for d in timed_done if not d.in_time),
            "stages_overdue_now": sum(
                1
                for d in deadlines
                if d.state == "open" and d.due_at is not None and d.due_at < now and not resolved
            ),
        }
        for stage, at in first_reached.items():
            row[f"stage_{stage}_week"] = week_of(at, zone)
        rows.append(row)
    names = fieldnames(max_stage)
    ordered = [{name: row.get(name, "") for name in names} for row in rows]
    ordered.sort(key=lambda r: str(r["case_id"]))
    return names, ordered
