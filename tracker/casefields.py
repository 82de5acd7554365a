"""Case fields and the child's identifiers from a message's forms, kept apart and minimal.

The first value read for a field is kept; a different later value is a
conflict on the timeline, naming the field and the sources, never the values.
The child's name, date of birth and local reference go to their own row
(``children``) with a keyed pseudonymous child key.
"""

from __future__ import annotations

from datetime import datetime

from ingest.forms import CHILD_FIELDS, child_key
from ingest.forms.dates import iso_date
from tracker.batch import CaseRef, Plan, Work, event_row
from tracker.rules.partnerships import Partnership


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def record_forms(
    plan: Plan, w: Work, case: CaseRef, partnership: Partnership, now: datetime, secret: bytes
) -> None:
    """Case fields, child identifiers and attachment records from the message's forms.

    The first value of a field is kept; a different later value is a
    conflict on the timeline (field and sources named, values never).
    """
    forms = w.forms
    if forms is None:
        return
    for i, a in enumerate(forms.attachments, 1):
        plan.attachments.append(
            {
                "raw_id": w.raw_id,
                "filename": a.filename,
                "content_type": a.content_type[:200],
                "size": a.size,
                "sha256": a.sha256,
                "status": a.status,
                "reason": a.reason,
            }
        )
        if a.status in ("blocked", "too-large", "timeout", "unreadable"):
            plan.events.append(
                event_row(
                    case, w.raw_id, now, "attachment", f"attachment {i}: {a.status}: {a.reason}"
                )
            )
    for c in forms.conflicts:
        chosen = forms.fields.get(c.name)
        plan.events.append(
            event_row(
                case,
                w.raw_id,
                now,
                "field-conflict",
                f"{c.name}: {', '.join(v.source for v in c.values)} disagree; "
                f"{chosen.source if chosen else 'none'} kept",
            )
        )
    recorded = []
    for name, fv in forms.fields.items():
        if name in CHILD_FIELDS or name == "category":
            continue
        have = case.fields.get(name)
        if have is None:
            plan.fields.append(
                {
                    "case": case,
                    "name": name,
                    "value": fv.value[:20000],
                    "source": fv.source[:200],
                    "confidence": fv.confidence,
                    "raw_id": w.raw_id,
                    "recorded_at": now,
                }
            )
            recorded.append(name)
        elif not same_text(have[0], fv.value):
            plan.events.append(
                event_row(
                    case,
                    w.raw_id,
                    now,
                    "field-conflict",
                    f"{name}: {fv.source} differs from the value recorded from {have[1]}; "
                    "the recorded value is kept",
                )
            )
    if recorded:
        plan.events.append(
            event_row(case, w.raw_id, now, "fields", f"recorded: {', '.join(recorded)}")
        )
    record_child(plan, w, case, partnership, now, secret)


def record_child(
    plan: Plan, w: Work, case: CaseRef, partnership: Partnership, now: datetime, secret: bytes
) -> None:
    assert w.forms is not None
    got = {n: w.forms.fields[n] for n in CHILD_FIELDS if n in w.forms.fields}
    if not got:
        return
    name = got["child_name"].value.strip()[:200] if "child_name" in got else None
    dob = iso_date(got["child_dob"].value) if "child_dob" in got else None
    ref = got["child_ref"].value.strip()[:100] if "child_ref" in got else None
    sources = sorted({fv.source for fv in got.values()})
    if case.child is None:
        key = child_key(name, dob, partnership.name, secret)
        plan.child = {
            "case": case,
            "partnership": partnership.name,
            "child_key": key,
            "name": name,
            "dob": dob,
            "local_ref": ref,
            "source": ", ".join(sources)[:200],
            "recorded_at": now,
        }
        what = [
            label
            for label, v in (("name", name), ("date of birth", dob), ("local reference", ref))
            if v
        ]
        plan.events.append(
            event_row(
                case,
                w.raw_id,
                now,
                "child",
                f"child's {', '.join(what)} recorded from {', '.join(sources)}, stored apart"
                + (f"; child key {key[:12]}" if key else ""),
            )
        )
        return
    differs = [
        label
        for label, new, old in (
            ("name", name, case.child.get("name")),
            ("date of birth", dob, case.child.get("dob")),
            ("local reference", ref, case.child.get("local_ref")),
        )
        if new and old and not same_text(new, old)
    ]
    gaps = {
        key: new
        for key, new in (("name", name), ("dob", dob), ("local_ref", ref))
        if new and not case.child.get(key)
    }
    if gaps and not differs:
        merged = {**case.child, **gaps}
        plan.child_update = {
            "case": case,
            **gaps,
            "child_key": child_key(merged["name"], merged["dob"], partnership.name, secret),
        }
        labels = {"name": "name", "dob": "date of birth", "local_ref": "local reference"}
        plan.events.append(
            event_row(
                case,
                w.raw_id,
                now,
                "child",
                f"child's {', '.join(labels[k] for k in gaps)} added from {', '.join(sources)}",
            )
        )
    if differs:
        plan.events.append(
            event_row(
                case,
                w.raw_id,
                now,
                "child-conflict",
                f"child's {', '.join(differs)} in {', '.join(sources)} differ from those "
                "recorded; the recorded ones are kept",
            )
        )
