"""A realistic, reproducible database of escalations for the report tests and the benchmark.

:func:`generate` decides everything from a fixed random seed and returns
plain :class:`SeedCase` records (what each case *is*: its stages with their
times, its deadlines, its IRO notifications, its child, what its escalation
form said about the agencies); :func:`write` stores them through the ORM,
with free text naming fictional children in every event's ``detail``, and
the form's free text in ``case_fields``, so the tests can prove none of it
reaches a report. The tests compute their expected figures from the records
(the agency types from hand-written labels), never from the code under test.
"""

from __future__ import annotations

import html
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tracker.model import Case, CaseField, Deadline, Event, OutboxItem
from tracker.rules.calendar import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
#: The moment the tests look at the data: Wednesday 16 December 2026, 08:30 GMT.
NOW = datetime(2026, 12, 16, 8, 30, tzinfo=UTC)
FIRST_DAY = date(2026, 7, 1)
LAST_DAY = date(2026, 12, 15)

#: Fictional children, each with a date of birth written two ways.
CHILDREN = [
    ("Jamie Quillfeather", "03/04/2015", "2015-04-03"),
    ("Amelia Thornbury", "12/09/2019", "2019-09-12"),
    ("Kacper Wielgosz", "27/01/2012", "2012-01-27"),
    ("Zainab Okonkwo-Reyes", "08/11/2017", "2017-11-08"),
    ("Oliver Brackenridge", "30/06/2010", "2010-06-30"),
    ("Maisie Featherstonehaugh", "15/02/2021", "2021-02-15"),
    ("Riyaan Mehtani", "19/10/2014", "2014-10-19"),
    ("Tilly-Mae Ashcombe", "02/12/2016", "2016-12-02"),
]
#: Professionals' names (the local part of their addresses).
PEOPLE = [
    "priya.shah",
    "tom.okafor",
    "sinead.mcgrath",
    "dev.patel",
    "hannah.wilmot",
    "gareth.pryce",
    "leah.morrison",
    "yusuf.adeyemi",
]
AGENCY_DOMAINS = {
    "school": ["oakfield.example.sch.uk", "riverside-primary.sch.uk"],
    "health": ["nhs.net", "uhb.nhs.uk"],
    "police": ["westmidlands.police.uk"],
    "local_authority": ["solihull.gov.uk", "birmingham.gov.uk"],
    "other": ["barnardos.org.uk", "example-charity.org"],
}
AGENCY_WEIGHTS = {"school": 35, "health": 25, "police": 15, "local_authority": 15, "other": 10}
#: Categories of the shared taxonomy; information sharing rises sharply in Q4.
CATEGORY_WEIGHTS_Q3 = {
    "thresholds": 20,
    "information_sharing_communication": 6,
    "action_or_inaction": 15,
    "assessment_outcome": 10,
    "plan_adequacy": 8,
    "post_meeting_dissent": 4,
    "case_closure": 2,
    None: 10,
}
CATEGORY_WEIGHTS_Q4 = {**CATEGORY_WEIGHTS_Q3, "information_sharing_communication": 30}
TOP_STAGE_WEIGHTS = {1: 45, 2: 30, 3: 15, 4: 10}
#: Working days each stage allows (Solihull: 1, 2, 2, 3).
WITHIN = {1: 1, 2: 2, 3: 2, 4: 3}
PREFIX = {"solihull": "SSCP", "merton": "MSCP"}
FREE_TEXT = [
    "Mum says {child} (DOB {dob}) was left alone overnight; the school nurse disagrees with CSC.",
    "Health visitor escalating: {child}, born {dob_iso}, still no strategy discussion.",
    "Referral about {child} closed without assessment; I am referring to the Head of Service.",
    "Police PPU feel the plan for {child} ({dob}) does not address the risk from the lodger.",
]

#: What the form's "agency" box said, by the agency type a reader would give it (the
#: expected answer, written by hand). ``None``: text naming no kind of agency, so the
#: raiser's email domain decides.
RAISER_AGENCY_TEXTS: dict[str | None, list[str]] = {
    "school": [
        "St Alban's C of E Primary School",
        "Oakfield Academy – Pastoral Team",
        "Riverside Primary, Designated Safeguarding Lead",
        "Greenway Sixth Form College",
        "Little Acorns Day Nursery",
    ],
    "health": [
        "Health Visiting Team, Solihull Community Services",
        "School nurse (NHS)",
        "GP, Lode Lane Surgery",
        "Named nurse for safeguarding, Heartlands Hospital",
        "Community midwife, Good Hope",
    ],
    "police": [
        "West Midlands Police, Public Protection Unit",
        "Eastmoor Police – Child Abuse Investigation Team",
        "Safer Schools Police Officer, Chelmsley Wood",
    ],
    "local_authority": [
        "Solihull Children's Services, Assessment Team 2",
        "Kingshurst Early Help Hub",
        "Independent Reviewing Officer, Quality Assurance Unit",
        "Birmingham Children’s Trust",
    ],
    "other": [
        "Barnardo's Family Support, Castle Bromwich",
        "Solihull Domestic Abuse Service",
        "Youth Justice Service",
    ],
    None: ["Pastoral team", "Safeguarding lead (Mrs Ellery)", "Team manager"],
}
#: What the form's "other party" box said, by the expected agency type; ``not_recorded``:
#: a box filled in with a placeholder (several words: a short one such as "N/A" would be
#: found by chance in a chart's base64, and the scan for leaks would cry wolf).
OTHER_PARTY_TEXTS: dict[str, list[str]] = {
    "local_authority": [
        "Duty social worker, Solihull Children's Services",
        "Kerry Pilkington (team manager), Children's Social Care Assessment Team",
        "Solihull MASH",
        "Birmingham Children’s Trust – Children in Care",
        "CSC front door",
        "Virtual School, Solihull Council",
    ],
    "health": [
        "GP practice",
        "Health visitor, Solihull Community Services",
        "Paediatric liaison nurse, Heartlands Hospital",
        "Solihull CAMHS",
    ],
    "police": [
        "Eastmoor Police",
        "West Midlands Police, Public Protection Unit",
        "DS Marwood, Child Abuse Investigation Team, West Midlands Police",
    ],
    "school": ["St Mary's Primary School", "Oakfield Academy DSL", "Little Acorns Day Nursery"],
    "other": ["Barnardo's Family Support, Castle Bromwich", "Solihull Housing Options"],
    "not_recorded": ["Not known"],
}
OTHER_PARTY_WEIGHTS = {
    "local_authority": 50,
    "health": 15,
    "police": 12,
    "school": 10,
    "other": 8,
    "not_recorded": 5,
}
#: Share of cases opened from a form (the others, plain emails, have no form fields).
FORM_SHARE = 0.65


@dataclass
class SeedDeadline:
    stage: int
    start_event: str
    started_at: datetime
    created_at: datetime
    due_at: datetime | None
    state: str
    met_at: datetime | None


@dataclass
class SeedCase:
    reference: str
    partnership: str
    agency: str
    raised_by: str
    category: str | None
    opened_at: datetime
    #: (stage, entered at), the first being the opening.
    stages: list[tuple[int, datetime]]
    status: str
    resolved_at: datetime | None
    flags: list[str]
    deadlines: list[SeedDeadline] = field(default_factory=list)
    iro_at: list[datetime] = field(default_factory=list)
    child: tuple[str, str, str] = CHILDREN[0]
    #: The form's free text (None: no such field); ``agency`` above is the expected
    #: raising agency type, ``challenged`` the expected type of the agency challenged.
    raiser_agency: str | None = None
    other_party: str | None = None
    challenged: str = "not_recorded"
    id: int = 0

    @property
    def stage(self) -> int:
        return self.stages[-1][0]


def _weighted(rng: random.Random, weights: Mapping[Any, int]) -> Any:
    items = list(weights.items())
    return rng.choices([k for k, _ in items], [w for _, w in items])[0]


def generate(
    calendar: WorkingCalendar,
    *,
    n: int = 260,
    seed: int = 1,
    partnerships: Sequence[tuple[str, int]] = (("solihull", 85), ("merton", 15)),
    first_day: date = FIRST_DAY,
    last_day: date = LAST_DAY,
    now: datetime = NOW,
) -> list[SeedCase]:
    """``n`` cases opened on working days between ``first_day`` and ``last_day``."""
    rng = random.Random(seed)
    days = [
        first_day + timedelta(days=i)
        for i in range((last_day - first_day).days + 1)
        if calendar.is_working_day(first_day + timedelta(days=i))
    ]
    opened: list[tuple[datetime, str]] = []
    for _ in range(n):
        day = rng.choice(days)
        minutes = rng.randrange(9 * 60, 16 * 60 + 30)
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=LONDON)
        partnership = _weighted(rng, dict(partnerships))
        opened.append((local.astimezone(UTC), partnership))
    opened.sort()
    numbers = dict.fromkeys(PREFIX, 0)
    cases: list[SeedCase] = []
    for at, partnership in opened:
        numbers[partnership] += 1
        reference = f"{PREFIX[partnership]}-2026-{numbers[partnership]:04d}"
        agency = _weighted(rng, AGENCY_WEIGHTS)
        domain = rng.choice(AGENCY_DOMAINS[agency])
        raised_by = f"{rng.choice(PEOPLE)}@{domain}"
        q4 = at >= datetime(2026, 9, 30, 23, 0, tzinfo=UTC)
        category = _weighted(rng, CATEGORY_WEIGHTS_Q4 if q4 else CATEGORY_WEIGHTS_Q3)
        top = _weighted(rng, TOP_STAGE_WEIGHTS)
        stages = [(1, at)]
        t = at
        for stage in range(2, top + 1):
            t = t + timedelta(hours=rng.randrange(3, 24 * 7))
            if t >= now:
                break
            stages.append((stage, t))
        end = t + timedelta(hours=rng.randrange(2, 24 * 10))
        resolved = end < now and rng.random() < 0.95
        flags = ["cp_plan"] if rng.random() < 0.2 else []
        case = SeedCase(
            reference=reference,
            partnership=partnership,
            agency=agency,
            raised_by=raised_by,
            category=category,
            opened_at=at,
            stages=stages,
            status="resolved" if resolved else "open",
            resolved_at=end if resolved else None,
            flags=flags,
            child=rng.choice(CHILDREN),
        )
        _deadlines(case, calendar, rng, now)
        if flags:
            case.iro_at = [entered for _, entered in stages]
        cases.append(case)
    forms = random.Random(seed + 1_000_003)  # its own stream: the cases above stay the same
    for case in cases:
        _form(case, forms)
    return cases


def _form(case: SeedCase, rng: random.Random) -> None:
    """What the case's escalation form said about the agencies, if it came from one.

    Usually the "agency" box names the raiser's kind of agency; now and then it names
    none ("Pastoral team") or is missing, and the email domain decides. Where the box
    names a kind, the raiser's address sometimes says another (a school on the
    council's domain): the form wins, so ``agency`` stays the expected answer.
    """
    if rng.random() >= FORM_SHARE:
        return
    roll = rng.random()
    if roll < 0.8:
        case.raiser_agency = rng.choice(RAISER_AGENCY_TEXTS[case.agency])
        if case.agency != "other" and rng.random() < 0.3:
            domains = [d for k, ds in AGENCY_DOMAINS.items() if k != case.agency for d in ds]
            case.raised_by = f"{case.raised_by.partition('@')[0]}@{rng.choice(domains)}"
    elif roll < 0.93:
        case.raiser_agency = rng.choice(RAISER_AGENCY_TEXTS[None])
    if rng.random() < 0.9:
        case.challenged = _weighted(rng, OTHER_PARTY_WEIGHTS)
        case.other_party = rng.choice(OTHER_PARTY_TEXTS[case.challenged])


def _deadlines(
    case: SeedCase, calendar: WorkingCalendar, rng: random.Random, now: datetime
) -> None:
    """One row per stage entered; now and then a flag's stricter timescale supersedes one."""
    for i, (stage, entered) in enumerate(case.stages):
        nxt = case.stages[i + 1][1] if i + 1 < len(case.stages) else case.resolved_at
        state, met_at = ("met", nxt) if nxt is not None else ("open", None)
        timed = rng.random() > 0.06
        due = calendar.due(entered, WITHIN[stage], "working_days").due_at if timed else None
        start_event = "case_opened" if stage == 1 else "stage_entered"
        if timed and rng.random() < 0.08:
            # significant harm noted a few hours in: same working day, the first row superseded
            flagged = entered + timedelta(hours=rng.randrange(1, 5))
            if (nxt is None or flagged < nxt) and flagged < now:
                case.deadlines.append(
                    SeedDeadline(stage, start_event, entered, entered, due, "superseded", None)
                )
                case.deadlines.append(
                    SeedDeadline(
                        stage,
                        "flag:significant_harm",
                        flagged,
                        flagged,
                        flagged + timedelta(hours=6),
                        state,
                        met_at,
                    )
                )
                continue
        case.deadlines.append(
            SeedDeadline(stage, start_event, entered, entered, due, state, met_at)
        )


def _details(case: SeedCase) -> Iterable[tuple[datetime, str, str]]:
    name, dob, dob_iso = case.child
    text = FREE_TEXT[int(case.reference[-4:]) % len(FREE_TEXT)].format(
        child=name, dob=dob, dob_iso=dob_iso
    )
    yield case.opened_at, "opened", f"escalation from {case.raised_by}: {text}"
    for (before, _), (stage, at) in pairwise(case.stages):
        who = case.raised_by
        yield at, "stage", f"stage {before} → {stage}: {name} ({dob}) referred on by {who}"
    for flag in case.flags:
        yield case.opened_at, "flag-set", f"{flag}: {name} is on a child protection plan"
    if case.resolved_at is not None:
        yield case.resolved_at, "resolved", f"Agreed plan for {name} (born {dob_iso}); closing."


def write(s: Session, cases: Sequence[SeedCase]) -> None:
    """Store the cases, their deadlines, timeline and outbox rows (ids are set on ``cases``)."""
    rows = [
        Case(
            reference=c.reference,
            partnership=c.partnership,
            status=c.status,
            stage=c.stage,
            flags=c.flags,
            category=c.category,
            opened_at=c.opened_at,
            raised_by=c.raised_by,
            mailbox="sscp" if c.partnership == "solihull" else "mscp",
            track="default",
            stage_entered_at=c.stages[-1][1],
            resolved_at=c.resolved_at,
        )
        for c in cases
    ]
    s.add_all(rows)
    s.flush()
    for c, row in zip(cases, rows, strict=True):
        c.id = row.id
    deadlines: list[Deadline] = []
    events: list[Event] = []
    outbox: list[OutboxItem] = []
    fields: list[CaseField] = []
    for c in cases:
        fields.extend(
            CaseField(
                case_id=c.id,
                name=name,
                value=value,
                source="form",
                confidence=0.9,
                recorded_at=c.opened_at,
            )
            for name, value in _form_fields(c)
        )
        for d in c.deadlines:
            deadlines.append(
                Deadline(
                    case_id=c.id,
                    track="default",
                    stage=d.stage,
                    unit="working_days",
                    within=float(WITHIN[d.stage]),
                    basis="stated" if d.due_at else "not_stated",
                    start_event=d.start_event,
                    started_at=d.started_at,
                    due_at=d.due_at,
                    out_of_hours=False,
                    rule="solihull@seed tracks.default",
                    explanation=f"Stage {d.stage}: seeded",
                    state=d.state,
                    met_at=d.met_at,
                    created_at=d.created_at,
                )
            )
        events.extend(
            Event(case_id=c.id, at=at, kind=kind, detail=detail) for at, kind, detail in _details(c)
        )
        mails = [("ack", c.opened_at, c.raised_by)]
        mails += [("iro_secure", at, "cpru@solihull.gov.uk") for at in c.iro_at]
        mails += [("bm_evidence", at, "sscp@solihull.gov.uk") for _, at in c.stages[1:]]
        for i, (kind, at, to) in enumerate(mails):
            outbox.append(
                OutboxItem(
                    intent=f"seed:{c.id}:{kind}:{i}",
                    case_id=c.id,
                    kind=kind,
                    message_id=f"seed.{c.id}.{i}.{kind}@solihull.gov.uk",
                    envelope_from="sscp@solihull.gov.uk",
                    recipients=[to],
                    rate_key=to,
                    data=b"Subject: seeded\r\n\r\nseeded\r\n",
                    automatic=kind == "ack",
                    state="sent",
                    attempts=1,
                    created_at=at,
                    next_attempt_at=at,
                    sent_at=at,
                )
            )
    s.add_all(deadlines)
    s.add_all(events)
    s.add_all(outbox)
    s.add_all(fields)


def _form_fields(case: SeedCase) -> Iterable[tuple[str, str]]:
    """The case's ``case_fields``: the two agency boxes, and (for a form) fields reports must
    never read: the child's name and the concern."""
    if case.raiser_agency is None and case.other_party is None:
        return
    name, dob, _ = case.child
    yield "child_name", name
    yield "child_dob", dob
    yield "concern", f"{name} was left alone overnight; no strategy discussion yet."
    if case.raiser_agency is not None:
        yield "raiser_agency", case.raiser_agency
    if case.other_party is not None:
        yield "other_party", case.other_party


def secrets(cases: Sequence[SeedCase]) -> list[str]:
    """Everything that must never appear in a digest, report or export."""
    out: set[str] = set()
    for name, dob, dob_iso in CHILDREN:
        out |= {name, name.split()[-1], dob, dob_iso}
    for c in cases:
        out.add(c.raised_by)
    out |= set(PEOPLE)
    out |= {"left alone overnight", "strategy discussion", "Head of Service", "lodger"}
    out |= {"child protection plan", "closing."}
    # Every agency text a form could hold (seeded or not), and the people named in them.
    out |= {t for texts in RAISER_AGENCY_TEXTS.values() for t in texts}
    out |= {t for texts in OTHER_PARTY_TEXTS.values() for t in texts}
    out |= {"Ellery", "Pilkington", "Marwood"}
    return sorted(out)


def leaks(secrets: Iterable[str], text: str) -> list[str]:
    """The secrets found in ``text``, case-insensitively, as written or HTML-escaped
    (``St Mary&#39;s`` must not slip through an HTML scan)."""
    plain = html.unescape(text).lower()
    lowered = text.lower()
    return [s for s in secrets if s.lower() in lowered or s.lower() in plain]


def form_texts(cases: Sequence[SeedCase]) -> list[str]:
    """The ``raiser_agency`` and ``other_party`` texts actually seeded."""
    return sorted({t for c in cases for t in (c.raiser_agency, c.other_party) if t is not None})
