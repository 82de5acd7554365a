"""A procedure in plain English, with an example timeline (pure: ``tracker rules explain``).

Business managers check a rule file by reading this, not the YAML: every
stage with who acts and its timescale (and whether the procedure states it,
or it is inferred, a local setting or not stated at all), the flags and what
they do, who is told what, and when each stage would fall due for an
escalation arriving at a given moment.
"""

from __future__ import annotations

from datetime import date, datetime

from tracker.rules.engine import CaseState, Engine
from tracker.rules.sections import Timescale

_UNIT_WORDS = {
    "working_days": ("working day", "working days"),
    "calendar_days": ("calendar day", "calendar days"),
    "hours": ("hour", "hours"),
}
_BASIS = {
    "stated": "stated in the procedure",
    "inferred": "inferred from the procedure",
    "local_setting": "a local setting, not in the procedure",
    "not_stated": "the procedure states no timescale",
}
_FROM = {"case_opened": "the case being opened", "stage_entered": "the stage being entered"}


def timescale(d: Timescale) -> str:
    if d.basis == "not_stated":
        return "no timescale stated"
    if d.unit == "qualitative":
        return (d.term or "no fixed timescale").replace("_", " ")
    if d.unit == "same_working_day":
        return f"the same working day as {_FROM[d.start]}"
    if d.unit == "immediate":
        return "immediately"
    value = d.within or 0
    one, many = _UNIT_WORDS[d.unit or "working_days"]
    n = int(value) if value == int(value) else value
    return f"within {n} {one if value == 1 else many} of {_FROM[d.start]}"


def _time(t: datetime, engine: Engine) -> str:
    return t.astimezone(engine.zone).strftime("%a %d %b %Y %H:%M")


def explain(engine: Engine, start: datetime, today: date, track: str | None = None) -> list[str]:
    """The lines ``tracker rules explain`` prints."""
    p = engine.rule_file
    cal = p.calendar
    out = [f"{p.partnership.name} ({p.partnership.short}): {p.title}"]
    src = p.provenance
    out.append(
        f"Source: {src.document}"
        + (f", version {src.version}" if src.version else "")
        + f"; status {src.status}"
        + (f"; review due {src.review_due.isoformat()}" if src.review_due else "")
    )
    if src.review_due and src.review_due < today:
        out.append(f"  WARNING: this procedure was due for review on {src.review_due.isoformat()}.")
    if src.incomplete:
        out.append("  WARNING: the source document is incomplete (see the notes below).")
    for note in src.notes:
        out.append(f"  note: {note}")
    hours = cal.business_hours
    out.append(
        f"Calendar: {cal.nation} bank holidays, business hours {hours.start}-{hours.end}"
        + (f" (Friday to {hours.friday_end})" if hours.friday_end else "")
        + f", same-day cut-off {cal.same_day_cutoff or 'close of business'}"
        + f", hours counted as {'clock hours' if cal.hours_policy == 'clock' else 'working days'}"
    )
    out.append(
        f"References: {p.partnership.reference_prefix}-YYYY-NNNN; intake addresses: "
        f"{', '.join(p.partnership.addresses)}; staff who can steer cases: "
        f"{', '.join(sorted(engine.staff)) or 'none'}"
    )
    for name, tr in p.tracks.items():
        default = " (default)" if name == p.default_track else ""
        out.append("")
        out.append(f"Track {name}{default}: {tr.label}")
        for st in tr.stages:
            out.append(f"  Stage {st.number}: {st.name}")
            out.append(f"    who: {', '.join(a.replace('_', ' ') for a in st.actors)}")
            d = st.deadline
            line = f"    when: {timescale(d)} [{_BASIS[d.basis]}]"
            out.append(line)
            if d.quote:
                out.append(f'    source: "{d.quote.strip()}"')
            if d.note:
                out.append(f"    note: {d.note.strip()}")
    if p.flags:
        out.append("")
        out.append("Flags:")
        for name, f in p.flags.items():
            parts = [f"  {name}: {f.label}"]
            if f.deadline_override:
                o = f.deadline_override
                ov = Timescale.model_validate(
                    {"within": o.within, "unit": o.unit, "basis": o.basis, "from": "stage_entered"}
                )
                parts.append(
                    f"; shortens the current stage to {timescale(ov)}".replace(
                        "the stage being entered", "the flag being set"
                    )
                )
            if f.notify:
                parts.append(f"; notifies {', '.join(f.notify)}")
            out.append("".join(parts))
            if f.advice:
                out.append(f"    advice shown: {f.advice.strip()}")
    if p.notifications:
        out.append("")
        out.append("Notifications:")
        for name, n in p.notifications.items():
            who = []
            for role in n.to:
                addr = "the person who raised it" if role == "raiser" else p.role_address(role)
                who.append(f"{role} ({addr or 'NO ADDRESS CONFIGURED'})")
            when = ", ".join(t.replace("_", " ") for t in n.on)
            cond = ""
            if n.stages:
                cond += f" at stage {', '.join(map(str, n.stages))}"
            if n.when_flags_any:
                cond += f" while {' or '.join(n.when_flags_any)}"
            content = (
                "may identify the child: secure route only"
                if n.content == "identifiers"
                else "reference, stage and due time only"
            )
            out.append(f"  {name}: to {', '.join(who)} on {when}{cond}; {content}")
    ch = p.chasers
    out.append("")
    out.append("Chasers (only in business hours, once each):")
    if ch.reminder:
        when = (
            "at the start of business on the day a stage falls due"
            if ch.reminder.when == "due_day"
            else f"{ch.reminder.hours:g} hours before a stage falls due"
        )
        out.append(f"  reminder {when}, to {', '.join(ch.reminder.to)}")
    out.append(f"  overdue notice when a stage deadline passes, to {', '.join(ch.overdue_to)}")
    out.append(f"  daily overdue roll-up to {', '.join(ch.rollup_to)}")

    name = track or p.default_track
    tr = p.track(name)
    out.append("")
    out.append(
        f"Example timeline (track {name}): an escalation arriving {_time(start, engine)}, "
        "each stage entered when the one before falls due"
    )
    at = start
    for st in tr.stages:
        state = CaseState(
            reference="EXAMPLE",
            track=name,
            stage=st.number,
            flags=frozenset(),
            status="open",
            category=None,
            opened_at=start,
            stage_entered_at=at,
            raised_by="",
        )
        nd = engine.stage_deadline(state, at)
        if nd is None or nd.due_at is None:
            out.append(f"  Stage {st.number}: no deadline ({timescale(st.deadline)})")
            continue
        warn = "  [out of hours]" if nd.out_of_hours else ""
        out.append(f"  Stage {st.number}: due {_time(nd.due_at, engine)}{warn}")
        at = nd.due_at
    for flag_name, flag in p.flags.items():
        if flag.deadline_override is None:
            continue
        state = CaseState(
            reference="EXAMPLE",
            track=name,
            stage=1,
            flags=frozenset({flag_name}),
            status="open",
            category=None,
            opened_at=start,
            stage_entered_at=start,
            raised_by="",
        )
        nd = engine.stage_deadline(state, start)
        if nd is not None and nd.due_at is not None:
            warn = "  [out of hours: use the out-of-hours service]" if nd.out_of_hours else ""
            out.append(
                f"  With {flag_name} on arrival: stage 1 due {_time(nd.due_at, engine)}{warn}"
            )
    return out
