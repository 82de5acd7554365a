"""The report decisions, on hand-built rows: no database, no files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker.errors import ConfigError
from tracker.reports.agencies import agency_type
from tracker.reports.anonymise import anonymised_rows, pseudonym, week_of
from tracker.reports.digest import build_digest
from tracker.reports.periods import DigestPeriod, Quarter, digest_period
from tracker.reports.publish import publish
from tracker.reports.quarterly import build_quarterly, themes
from tracker.reports.render import MAX_ROWS, digest_context, digest_sections
from tracker.reports.rows import CaseRow, Dataset, DeadlineRow, stage_history
from tracker.reports.stats import WorkingDays, percentile, suppress, suppress_breakdown
from tracker.rules.calendar import WorkingCalendar

LONDON = ZoneInfo("Europe/London")


def t(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def case(
    id: int,
    opened: datetime,
    *,
    stage: int = 1,
    status: str = "open",
    resolved: datetime | None = None,
    category: str | None = "thresholds",
    agency: str = "school",
    challenged: str = "not_recorded",
) -> CaseRow:
    return CaseRow(
        id=id,
        reference=f"SSCP-2026-{id:04d}",
        partnership="solihull",
        status=status,
        stage=stage,
        category=category,
        agency=agency,
        opened_at=opened,
        resolved_at=resolved,
        track="default",
        challenged=challenged,
    )


def deadline(
    case_id: int,
    stage: int,
    entered: datetime,
    due: datetime | None,
    *,
    state: str = "open",
    met: datetime | None = None,
    start_event: str = "stage_entered",
    started: datetime | None = None,
    id: int = 0,
) -> DeadlineRow:
    return DeadlineRow(
        case_id=case_id,
        stage=stage,
        start_event=start_event,
        started_at=started or entered,
        created_at=entered,
        due_at=due,
        state=state,
        met_at=met,
        id=id,
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("head@oakfield.example.sch.uk", "school"),
        ("someone@nhs.net", "health"),
        ("a.b@uhb.nhs.uk", "health"),
        ("ppu@westmidlands.police.uk", "police"),
        ("sw@solihull.gov.uk", "local_authority"),
        ("x@barnardos.org.uk", "other"),
        ("x@notnhs.net", "other"),
        ("x@fakesch.uk", "other"),
        ("Someone@Oakfield.SCH.UK.", "school"),
    ],
)
def test_agency_type_from_the_domain(address: str, kind: str) -> None:
    assert agency_type(address) == kind


def test_quarter_windows_are_local_midnights() -> None:
    q = Quarter.parse("2026q3")
    assert q == Quarter(2026, 3) and q.code == "2026Q3" and Quarter.parse("2026-Q4").number == 4
    w = q.window(LONDON)
    assert w.start == t(2026, 6, 30, 23, 0)  # 1 July 00:00 BST
    assert w.end == t(2026, 9, 30, 23, 0)
    assert Quarter(2026, 1).previous() == Quarter(2025, 4)
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter(2026, 4).window(LONDON).end == t(2027, 1, 1, 0, 0)  # GMT
    with pytest.raises(ConfigError):
        Quarter.parse("2026Q5")


def test_digest_period_runs_from_the_previous_scheduled_run() -> None:
    monday = digest_period("daily", "0 8 * * mon-fri", LONDON, t(2026, 11, 23, 9, 15))
    assert (monday.start, monday.end, monday.label) == (
        t(2026, 11, 20, 8, 0),
        t(2026, 11, 23, 8, 0),
        "2026-11-23",
    )
    # Before Monday's run, the period is still Thursday-to-Friday's.
    early = digest_period("daily", "0 8 * * mon-fri", LONDON, t(2026, 11, 23, 7, 59))
    assert early.label == "2026-11-20" and early.start == t(2026, 11, 19, 8, 0)
    weekly = digest_period("weekly", "0 8 * * mon", LONDON, t(2026, 11, 25, 12, 0))
    assert weekly.end - weekly.start == timedelta(days=7) and weekly.label == "2026-11-23"
    # Across the clocks going back: 08:00 local both days, 25 hours apart.
    autumn = digest_period("daily", "0 8 * * *", LONDON, t(2026, 10, 25, 9, 0))
    assert autumn.start == t(2026, 10, 24, 7, 0) and autumn.end == t(2026, 10, 25, 8, 0)


def test_working_days_match_a_day_by_day_count(solihull_calendar: WorkingCalendar) -> None:
    wd = WorkingDays(solihull_calendar)
    start = t(2026, 12, 18, 15, 0)  # Friday before Christmas
    for days in range(0, 40, 3):
        end = start + timedelta(days=days, hours=5)
        a, b = start.astimezone(LONDON).date(), end.astimezone(LONDON).date()
        naive = sum(
            solihull_calendar.is_working_day(a + timedelta(days=i))
            for i in range(1, (b - a).days + 1)
        )
        assert wd.between(start, end) == naive
    # Asked out of order (earlier dates after later ones) it still agrees.
    # Thursday to Tuesday over Easter (Good Friday 3 April, Easter Monday 6 April 2026).
    assert wd.between(t(2026, 4, 2, 9, 0), t(2026, 4, 7, 9, 0)) == 1
    assert wd.between(t(2026, 12, 24, 9, 0), t(2026, 12, 29, 9, 0)) == 1
    assert wd.between(t(2026, 5, 1, 9, 0), t(2026, 5, 1, 16, 0)) == 0


def test_percentile_is_nearest_rank_and_suppression() -> None:
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile([5, 1, 3], 90) == 5
    assert percentile([], 90) is None
    assert [suppress(n) for n in (0, 1, 4, 5, 12)] == ["0", "<5", "<5", "5", "12"]
    # One small cell: the next smallest is withheld too, so the total does not give it away.
    assert suppress_breakdown({"a": 20, "b": 3, "c": 7, "d": 0}) == {
        "a": "20",
        "b": "<5",
        "c": "*",
        "d": "0",
    }
    # Two small cells protect each other.
    assert suppress_breakdown({"a": 20, "b": 3, "c": 2}) == {"a": "20", "b": "<5", "c": "<5"}


def test_stage_history_collapses_superseded_rows_and_uses_entry_times() -> None:
    c = case(1, t(2026, 11, 2, 9, 0), stage=3)
    rows = [
        # Cumulative timescale (from case opened): started_at is the opening, not the entry.
        deadline(1, 1, t(2026, 11, 2, 9, 0), t(2026, 11, 3, 17, 0), state="met", id=1,
                 start_event="case_opened", met=t(2026, 11, 3, 10, 0)),
        deadline(1, 2, t(2026, 11, 3, 10, 0), t(2026, 11, 5, 17, 0), state="superseded", id=2,
                 start_event="case_opened", started=t(2026, 11, 2, 9, 0)),
        deadline(1, 2, t(2026, 11, 3, 12, 0), t(2026, 11, 3, 17, 0), state="met", id=3,
                 start_event="flag:significant_harm", met=t(2026, 11, 4, 9, 0)),
        deadline(1, 3, t(2026, 11, 4, 9, 0), None, id=4),
    ]  # fmt: skip
    history = stage_history(c, rows)
    assert [(e.stage, e.at) for e in history] == [
        (1, t(2026, 11, 2, 9, 0)),
        (2, t(2026, 11, 3, 10, 0)),
        (3, t(2026, 11, 4, 9, 0)),
    ]
    assert [(e.stage, e.at) for e in stage_history(c, [])] == [(3, c.opened_at)]


def test_digest_sections_from_rows(solihull_calendar: WorkingCalendar) -> None:
    now = t(2026, 11, 25, 8, 30)  # Wednesday
    period = DigestPeriod("daily", t(2026, 11, 24, 8, 0), t(2026, 11, 25, 8, 0), "2026-11-25")
    cases = [
        case(1, t(2026, 11, 24, 10, 0)),  # new, due today
        case(2, t(2026, 11, 20, 10, 0), stage=2),  # moved in the period, due in 3 days
        case(3, t(2026, 11, 10, 10, 0)),  # overdue
        case(4, t(2026, 11, 16, 10, 0), status="resolved", resolved=t(2026, 11, 24, 15, 0)),
        case(5, t(2026, 11, 16, 10, 0), stage=2),  # no timescale: open, not due
        case(6, t(2026, 11, 26, 10, 0)),  # opened after `now` (not possible, but ignored)
    ]
    rows = [
        deadline(1, 1, t(2026, 11, 24, 10, 0), t(2026, 11, 25, 17, 0)),
        deadline(2, 1, t(2026, 11, 20, 10, 0), t(2026, 11, 23, 17, 0), state="met",
                 met=t(2026, 11, 24, 11, 0)),
        deadline(2, 2, t(2026, 11, 24, 11, 0), t(2026, 11, 27, 17, 0)),
        deadline(3, 1, t(2026, 11, 10, 10, 0), t(2026, 11, 11, 17, 0)),
        deadline(4, 1, t(2026, 11, 16, 10, 0), t(2026, 11, 17, 17, 0), state="met",
                 met=t(2026, 11, 24, 15, 0)),
        deadline(5, 2, t(2026, 11, 16, 10, 0), None),
    ]  # fmt: skip
    d = build_digest(
        "solihull", Dataset(tuple(cases), tuple(rows)), period, now, LONDON,
        WorkingDays(solihull_calendar),
    )  # fmt: skip
    refs = lambda xs: [x.reference[-1] for x in xs]  # noqa: E731
    assert refs(d.new_cases) == ["1"]
    assert [(c.reference[-1], c.from_stage, c.stage) for c in d.stage_changes] == [("2", 1, 2)]
    assert refs(d.resolved) == ["4"] and d.resolved[0].working_days == 6
    assert refs(d.due_today) == ["1"] and refs(d.due_this_week) == ["2"]
    assert refs(d.overdue) == ["3"]
    assert d.overdue[0].overdue_by == now - t(2026, 11, 11, 17, 0)
    assert d.open_by_stage == ((1, 2), (2, 2))  # case 6 opened after `now`
    assert len(d.trend) == 7 and d.trend[-1].day == "2026-11-24"
    assert dict(d.trend[-1].by_stage) == {1: 2, 2: 2}
    assert not d.is_empty
    empty = build_digest(
        "solihull", Dataset(()), period, now, LONDON, WorkingDays(solihull_calendar)
    )
    assert empty.is_empty and empty.open_total == 0


def _quarter_data() -> Dataset:
    cases = []
    rows = []
    n = 0
    # Q3: 4 information-sharing cases; Q4: 12 of them, and 6 thresholds in each.
    for q_start, counts in ((t(2026, 7, 6, 10, 0), 4), (t(2026, 10, 5, 10, 0), 12)):
        for i in range(counts + 6):
            n += 1
            opened = q_start + timedelta(days=i)
            category = "information_sharing_communication" if i < counts else "thresholds"
            resolved = opened + timedelta(days=3)
            cases.append(case(n, opened, status="resolved", resolved=resolved, category=category))
            due = opened + timedelta(days=1)
            rows.append(deadline(n, 1, opened, due, state="met", met=resolved, id=n))
    return Dataset(tuple(cases), tuple(rows))


def test_quarterly_figures_and_themes(solihull_calendar: WorkingCalendar) -> None:
    fig = build_quarterly(
        "solihull",
        _quarter_data(),
        Quarter(2026, 4),
        LONDON,
        t(2027, 1, 5, 9, 0),
        WorkingDays(solihull_calendar),
        stage_count=4,
    )
    assert fig.current.complete and fig.current.opened == 18 and fig.previous.opened == 10
    assert fig.current.by_category == {"information_sharing_communication": 12, "thresholds": 6}
    assert fig.current.timeliness == {1: (18, 0)}
    keys = [th.key for th in themes(fig)]
    assert keys[:2] == ["category_rising", "timeliness_low"]
    report = publish(fig, display_name="SSCP", stage_names={1: "Discussion"})
    # Q3's 4 information-sharing cases are suppressed, and so is what would reveal them.
    category = next(tb for tb in report.breakdowns if tb.key == "category")
    assert [r.values for r in category.rows] == [("6", "*"), ("12", "<5")]
    assert report.themes[0] == (
        "Escalations about information sharing and communication rose to 12 this quarter, "
        "from fewer than 5 last quarter."
    )
    assert "0%" in report.themes[1]


def test_pseudonyms_are_keyed_and_dates_weekly(solihull_calendar: WorkingCalendar) -> None:
    key = b"k" * 32
    assert pseudonym(key, "SSCP-2026-0001") == pseudonym(key, "SSCP-2026-0001")
    assert pseudonym(key, "SSCP-2026-0001") != pseudonym(b"j" * 32, "SSCP-2026-0001")
    assert "0001" not in pseudonym(key, "SSCP-2026-0001")
    assert week_of(t(2026, 11, 29, 23, 30), LONDON) == "2026-11-23"  # Sunday night
    data = _quarter_data()
    names, rows = anonymised_rows(
        data, key, t(2027, 1, 5), lambda _: LONDON, lambda _: WorkingDays(solihull_calendar)
    )
    assert len(rows) == len(data.cases) and names[0] == "case_id"
    assert rows == sorted(rows, key=lambda r: str(r["case_id"]))
    for r in rows:
        assert date.fromisoformat(str(r["opened_week"])).weekday() == 0
        assert r["stages_late"] == 1 and r["stages_within_timescale"] == 0
    with pytest.raises(ValueError):
        anonymised_rows(data, b"short", t(2027, 1, 5), lambda _: LONDON, lambda _: None)  # type: ignore[arg-type,return-value]


def test_long_digest_sections_are_capped_with_the_full_count(
    solihull_calendar: WorkingCalendar,
) -> None:
    now = t(2026, 11, 25, 8, 30)
    period = DigestPeriod("daily", t(2026, 11, 24, 8, 0), t(2026, 11, 25, 8, 0), "2026-11-25")
    n = MAX_ROWS + 7
    cases = tuple(case(i, t(2026, 11, 2, 9, 0)) for i in range(1, n + 1))
    due = t(2026, 11, 3, 17, 0)
    rows = tuple(deadline(i, 1, t(2026, 11, 2, 9, 0), due) for i in range(1, n + 1))
    d = build_digest(
        "solihull", Dataset(cases, rows), period, now, LONDON, WorkingDays(solihull_calendar)
    )
    context = digest_context(d, display_name="SSCP", zone=LONDON, stage_names={}, chart_src="")
    overdue = context["sections"][0]
    assert (overdue.count, len(overdue.rows), overdue.more) == (n, MAX_ROWS, 7)
    assert context["summary"][0] == {"label": "Overdue", "count": n}


def test_agency_challenged_in_the_quarterly_the_digest_and_the_export(
    solihull_calendar: WorkingCalendar,
) -> None:
    """Every consumer shows the challenged agency's type from the row, suppressed in the report."""
    opened = t(2026, 10, 5, 10, 0)
    kinds = ["local_authority"] * 6 + ["health"] * 5 + ["police"] * 2 + ["not_recorded"] * 5
    cases = [
        case(i, opened + timedelta(hours=i), agency="police", challenged=kind)
        for i, kind in enumerate(kinds, 1)
    ]
    data = Dataset(tuple(cases))
    wd = WorkingDays(solihull_calendar)
    fig = build_quarterly("solihull", data, Quarter(2026, 4), LONDON, t(2027, 1, 5), wd,
                          stage_count=4)  # fmt: skip
    assert fig.current.by_challenged == {
        "school": 0, "health": 5, "police": 2, "local_authority": 6, "other": 0,
        "not_recorded": 5,
    }  # fmt: skip
    table = next(
        tb
        for tb in publish(fig, display_name="SSCP", stage_names={}).breakdowns
        if tb.key == "agency_challenged"
    )
    shown = {r.item: r.values[0] for r in table.rows}
    # police's 2 is suppressed, and the smallest other cell (health's 5, first by name of the
    # two 5s) withheld so that it cannot be worked out from the total
    assert shown == {
        "school": "0", "health": "*", "police": "<5", "local_authority": "6", "other": "0",
        "not_recorded": "5",
    }  # fmt: skip
    assert [r.label for r in table.rows][-1] == "Not recorded"

    period = DigestPeriod("daily", t(2026, 10, 5, 8, 0), t(2026, 10, 6, 8, 0), "2026-10-06")
    d = build_digest("solihull", data, period, t(2026, 10, 6, 8, 30), LONDON, wd)
    [new] = [s for s in digest_sections(d, LONDON) if s.key == "new_cases"]
    cells = {row[0]: row[2] for row in new.rows}
    assert cells["SSCP-2026-0001"] == "Police → Local authority"
    assert cells["SSCP-2026-0007"] == "Police → Health"
    assert cells["SSCP-2026-0018"] == "Police → Not recorded"

    _, rows = anonymised_rows(data, b"k" * 32, t(2027, 1, 5), lambda _: LONDON, lambda _: wd)
    assert sorted(str(r["agency_challenged"]) for r in rows) == sorted(kinds)
    assert {r["raising_agency"] for r in rows} == {"police"}
