"""``tracker export --anonymised``: the learning export, read and written.

The rows are decided by :func:`tracker.reports.anonymise.anonymised_rows`;
this module loads them (the same queries as the reports, less the notices) and writes
CSV or JSON. Nothing else from the case is read, so nothing else can leak.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from tracker.reports.anonymise import anonymised_rows
from tracker.reports.load import load_dataset
from tracker.reports.stats import WorkingDays
from tracker.rules.partnerships import Partnerships
from tracker.store import Store

_LONDON = ZoneInfo("Europe/London")


def export_rows(
    store: Store,
    partnerships: Partnerships,
    key: bytes,
    now: datetime,
    partnership: str | None = None,
) -> tuple[list[str], list[dict[str, str | int]]]:
    with store.transaction() as s:
        data = load_dataset(s, partnership=partnership, notice_kinds=())
    calendars: dict[str, WorkingDays] = {}

    def zone_of(name: str) -> ZoneInfo:
        p = partnerships.by_name.get(name)
        return p.engine.zone if p else _LONDON

    def working_days_of(name: str) -> WorkingDays:
        if name not in calendars:
            p = partnerships.by_name.get(name)
            if p is None:
                # A partnership no longer configured: England's calendar is the best guess.
                from tracker.rules.calendar import CalendarSettings, WorkingCalendar

                calendars[name] = WorkingDays(WorkingCalendar(CalendarSettings()))
            else:
                calendars[name] = WorkingDays(p.engine.calendar)
        return calendars[name]

    return anonymised_rows(data, key, now, zone_of, working_days_of)


def write_rows(
    names: list[str], rows: list[dict[str, str | int]], fmt: str, stream: TextIO
) -> None:
    if fmt == "json":
        json.dump({"cases": rows}, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    writer = csv.DictWriter(stream, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
