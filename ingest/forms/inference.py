"""Weak evidence used only when no form says otherwise: a signature's agency, a category.

Everything here is a fallback: it fills an empty field with a low
confidence and never raises a conflict against a value a form gave.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.forms.labels import tidy
from ingest.forms.text_form import Row, is_stop_line

__all__ = ["infer_category", "signature_agency"]

_ORG = re.compile(
    r"\b(?:council|nhs|trust|academy|school|college|nursery|police|constabulary|hospital"
    r"|partnership|foundation|probation|camhs|services?|practice|surgery|charity"
    r"|housing|department|directorate|federation)\b",
    re.IGNORECASE,
)
_ROLE_END = re.compile(
    r"\b(?:nurse|teacher|lead|officer|worker|manager|co-?ordinator|practitioner|visitor"
    r"|head|headteacher|head teacher|designated safeguarding lead|dsl|senco|gp|doctor"
    r"|midwife|assistant|advisor|adviser|sergeant|constable|inspector|director)s?\s*$",
    re.IGNORECASE,
)
_CONTACT = re.compile(r"@|https?:|www\.|\b(?:tel|phone|mob|mobile|ext|fax)\b|\d{4,}", re.I)


def _lines(rows: Sequence[Row]) -> list[str]:
    lines: list[str] = []
    for row in rows:
        if len(row.cells) == 1:
            lines.extend(row.cells[0].split("\n"))
    return lines


def signature_agency(rows: Sequence[Row]) -> str | None:
    """The organisation line of the signature under the last sign-off, if there is one.

    The first line after "Kind regards" is the writer's name; of the next
    five, the first that names an organisation and is not a job title is
    the agency ("School Nurse" is a role, "Northshire Academy" an agency).
    """
    lines = _lines(rows)
    sign_off = None
    for index, line in enumerate(lines):
        if is_stop_line(line):
            sign_off = index
    if sign_off is None:
        return None
    after = [tidy(line) for line in lines[sign_off + 1 :] if line.strip()][:6]
    for line in after[1:]:
        if _CONTACT.search(line) or len(line) > 100:
            continue
        if _ORG.search(line) and not _ROLE_END.search(line):
            return line
    return None


_CATEGORY_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("thresholds", re.compile(r"\bthresholds?\b|did not meet|does not meet|not meet the", re.I)),
    (
        "information_sharing_communication",
        re.compile(
            r"information sharing|shar(?:e|ing) (?:of )?information|not (?:been )?shared", re.I
        ),
    ),
    (
        "decision_making",
        re.compile(
            r"strategy (?:discussion|meeting)|decision to (?:close|end|step)|closed the case", re.I
        ),
    ),
    (
        "service_provision",
        re.compile(r"no service|waiting list|not (?:been )?allocated|unallocated", re.I),
    ),
    ("roles_responsibilities", re.compile(r"lead professional|roles? and responsibilit", re.I)),
    (
        "assessment_outcome",
        re.compile(r"outcome of (?:the )?(?:single |child and family )?assessment", re.I),
    ),
)


def infer_category(texts: Sequence[str]) -> str | None:
    """A category code when exactly one kind of wording appears in ``texts``, else None."""
    hits = {code for code, pattern in _CATEGORY_HINTS for text in texts if pattern.search(text)}
    return hits.pop() if len(hits) == 1 else None
