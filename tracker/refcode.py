"""Case reference codes: ``<PREFIX>-<YYYY>-<NNNN>``, e.g. ``SSCP-2026-0042``.

One regular expression finds them, tolerant of what mail clients do to a
subject or a quoted body: lower case, Unicode dashes (Outlook and Word turn
``-`` into ``‑`` or ``–``), spaces around the dashes, or the brackets lost.
Only prefixes we issue are recognised, so ``ISO-2026-0001`` in a signature
never threads a message into a case.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

#: Possessive blanks: a run of spaces after a prefix is read once, never re-split.
_DASH = r"\s*+[-\u2010\u2011\u2012\u2013\u2014\u2212]\s*+"


def format_reference(prefix: str, year: int, number: int) -> str:
    """``format_reference("SSCP", 2026, 42) == "SSCP-2026-0042"``."""
    return f"{prefix}-{year:04d}-{number:04d}"


@lru_cache(maxsize=32)
def _pattern(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(
        rf"(?<![A-Za-z0-9])({alternatives}){_DASH}(\d{{4}}){_DASH}(\d{{4,6}})(?!\d)",
        re.IGNORECASE,
    )


#: References are looked for in a subject and the new text of a message; a reference past
#: the first 200,000 characters is not one a person meant, and the cap bounds the cost.
MAX_REFERENCE_TEXT_CHARS = 200_000


def find_references(text: str, prefixes: Collection[str]) -> list[str]:
    """Every reference in ``text`` in order of appearance, normalised, without repeats.

    Only the first :data:`MAX_REFERENCE_TEXT_CHARS` characters are read.
    """
    if not prefixes or not text:
        return []
    found: dict[str, None] = {}
    for m in _pattern(tuple(sorted(prefixes))).finditer(text[:MAX_REFERENCE_TEXT_CHARS]):
        found[format_reference(m.group(1).upper(), int(m.group(2)), int(m.group(3)))] = None
    return list(found)


def subject_tag(reference: str) -> str:
    """The tag our outgoing subjects start with."""
    return f"[{reference}]"
