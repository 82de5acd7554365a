"""Case fields and the child's identifiers from a message's forms, kept apart and minimal.

The first value read for a field is kept; a different later value is a
conflict on the timeline, naming the field and the sources, never the values.
The child's name, date of birth and local reference go to their own row
(``children``) with a keyed pseudonymous child key. Pure: returns
:class:`~tracker.intake.decision.Changes`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingest.forms import CHILD_FIELDS, Extraction, child_key
from ingest.forms.dates import iso_date
from tracker.intake.decision import (
    AttachmentRecord,
    Changes,
    ChildRecord,
    ChildUpdate,
    FieldRecord,
    Line,
)
from tracker.kinds import EventKind

__all__ = ["record_forms", "same_text"]

#: Attachment statuses a person should see on the case's timeline.
_NOTEWORTHY = ("blocked", "too-large", "timeout", "unreadable")
_LABELS = {"name": "name", "dob": "date of birth", "local_ref": "local reference"}


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def record_forms(
    forms: Extraction | None,
    *,
    raw_id: int,
    case: int,
    partnership: str,
    fields: Mapping[str, tuple[str, str]],
    child: Mapping[str, str | None] | None,
    secret: bytes,
) -> Changes:
    """Case fields, child identifiers and attachment records from the message's forms.

    ``fields`` and ``child`` are what the case already holds.
    """
    if forms is None:
        return Changes()
    lines: list[Line] = []
    attachments = []
    for i, a in enumerate(forms.attachments, 1):
        attachments.append(
            AttachmentRecord(
                raw_id, a.filename, a.content_type[:200], a.size, a.sha256, a.status, a.reason
            )
        )
        if a.status in _NOTEWORTHY:
            lines.append(
                Line(case, raw_id, EventKind.ATTACHMENT, f"attachment {i}: {a.status}: {a.reason}")
            )
    for c in forms.conflicts:
        chosen = forms.fields.get(c.name)
        lines.append(
            Line(
                case,
                raw_id,
                EventKind.FIELD_CONFLICT,
                f"{c.name}: {', '.join(v.source for v in c.values)} disagree; "
                f"{chosen.source if chosen else 'none'} kept",
            )
        )
    records = []
    for name, fv in forms.fields.items():
        if name in CHILD_FIELDS or name == "category":
            continue
        have = fields.get(name)
        if have is None:
            records.append(
                FieldRecord(case, name, fv.value[:20000], fv.source[:200], fv.confidence, raw_id)
            )
        elif not same_text(have[0], fv.value):
            lines.append(
                Line(
                    case,
                    raw_id,
                    EventKind.FIELD_CONFLICT,
                    f"{name}: {fv.source} differs from the value recorded from {have[1]}; "
                    "the recorded value is kept",
                )
            )
    if records:
        recorded = ", ".join(r.name for r in records)
        lines.append(Line(case, raw_id, EventKind.FIELDS, f"recorded: {recorded}"))
    own = Changes(lines=tuple(lines), fields=tuple(records), attachments=tuple(attachments))
    return own + _record_child(forms, raw_id, case, partnership, child, secret)


def _record_child(
    forms: Extraction,
    raw_id: int,
    case: int,
    partnership: str,
    have: Mapping[str, str | None] | None,
    secret: bytes,
) -> Changes:
    got = {n: forms.fields[n] for n in CHILD_FIELDS if n in forms.fields}
    if not got:
        return Changes()
    name = got["child_name"].value.strip()[:200] if "child_name" in got else None
    dob = iso_date(got["child_dob"].value) if "child_dob" in got else None
    ref = got["child_ref"].value.strip()[:100] if "child_ref" in got else None
    sources = sorted({fv.source for fv in got.values()})
    if have is None:
        key = child_key(name, dob, partnership, secret)
        what = [_LABELS[k] for k, v in (("name", name), ("dob", dob), ("local_ref", ref)) if v]
        line = Line(
            case,
            raw_id,
            EventKind.CHILD,
            f"child's {', '.join(what)} recorded from {', '.join(sources)}, stored apart"
            + (f"; child key {key[:12]}" if key else ""),
        )
        record = ChildRecord(case, partnership, key, name, dob, ref, ", ".join(sources)[:200])
        return Changes(lines=(line,), child=record)
    new = {"name": name, "dob": dob, "local_ref": ref}
    differs = [
        _LABELS[k] for k, v in new.items() if v and have.get(k) and not same_text(v, have[k] or "")
    ]
    lines = []
    update = None
    gaps = {k: v for k, v in new.items() if v and not have.get(k)}
    if gaps and not differs:
        merged = {**have, **gaps}
        update = ChildUpdate(
            case,
            tuple(gaps.items()),
            child_key(merged["name"], merged["dob"], partnership, secret),
        )
        lines.append(
            Line(
                case,
                raw_id,
                EventKind.CHILD,
                f"child's {', '.join(_LABELS[k] for k in gaps)} added from {', '.join(sources)}",
            )
        )
    if differs:
        lines.append(
            Line(
                case,
                raw_id,
                EventKind.CHILD_CONFLICT,
                f"child's {', '.join(differs)} in {', '.join(sources)} differ from those "
                "recorded; the recorded ones are kept",
            )
        )
    return Changes(lines=tuple(lines), child_update=update)
