"""Choosing one value per field from every source, and recording disagreements.

Each candidate is either evidence (a form field, a labelled line) or a
fallback (the e-mail's From header, a signature line, a category guessed
from wording). Fallbacks only fill fields no evidence speaks to, and never
conflict with evidence: a business-support officer sending a practitioner's
form is not a disagreement about who raised it. Between pieces of evidence
that differ, the most confident is chosen (the earliest read on a tie) and
all distinct values are kept in a :class:`~ingest.forms.types.Conflict`, so
a person can decide; nothing is silently overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.forms.types import CANONICAL_FIELDS, Conflict, FieldValue

__all__ = ["Candidate", "merge"]

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Candidate:
    """A value offered for a field, and whether it is only a fallback."""

    value: FieldValue
    fallback: bool = False


def _key(value: str) -> str:
    """Values that differ only in case, spacing or punctuation are the same value."""
    return _NOT_WORD.sub("", value.casefold())


def merge(candidates: list[Candidate]) -> tuple[dict[str, FieldValue], tuple[Conflict, ...]]:
    """The chosen value per field and the conflicts, in canonical field order."""
    fields: dict[str, FieldValue] = {}
    conflicts: list[Conflict] = []
    for name in CANONICAL_FIELDS:
        offered = [c for c in candidates if c.value.name == name]
        evidence = [c.value for c in offered if not c.fallback]
        pool = evidence or [c.value for c in offered]
        if not pool:
            continue
        best_per_value: dict[str, FieldValue] = {}
        for value in pool:
            key = _key(value.value)
            kept = best_per_value.get(key)
            if kept is None or value.confidence > kept.confidence:
                best_per_value[key] = value
        chosen = max(pool, key=lambda v: v.confidence)  # max keeps the first on ties
        fields[name] = best_per_value[_key(chosen.value)]
        if evidence and len(best_per_value) > 1:
            conflicts.append(Conflict(name, tuple(best_per_value.values())))
    return fields, tuple(conflicts)
