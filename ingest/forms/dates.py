"""Dates as practitioners write them, read day first (UK), returned as ISO ``YYYY-MM-DD``.

Forms carry "12/03/2015", "12.3.15", "12th March 2015", "March 12, 2015" or
"2015-03-12"; e-mail header blocks add a weekday and a time. Anything that is
not clearly one date gives ``None``: a wrong date of birth would link the
wrong child, so guessing is worse than leaving the field empty.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["iso_date", "search_date"]

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_PATTERNS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)"),
    re.compile(
        r"(?<!\d)(?P<d>\d{1,2})\s*[/.\-]\s*(?P<m>\d{1,2})\s*[/.\-]\s*(?P<y>\d{4}|\d{2})(?!\d)"
    ),
    re.compile(
        rf"(?<!\d)(?P<d>\d{{1,2}}){_ORD}(?:\s+of)?[\s\-]+{_MONTH}[\s,\-]+(?P<y>\d{{4}})(?!\d)",
        re.I,
    ),
    re.compile(rf"\b{_MONTH}\s+(?P<d>\d{{1,2}}){_ORD},?\s+(?P<y>\d{{4}})(?!\d)", re.I),
)


def _build(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year = int(groups["y"])
    if len(groups["y"]) == 2:
        # Two-digit years on children's forms: a birth or form date is never
        # far in the future, so "15" is 2015 and "98" is 1998.
        year += 2000 if year <= 40 else 1900
    month = _MONTHS[groups["mon"].lower()[:3]] if groups.get("mon") else int(groups["m"])
    try:
        value = date(year, month, int(groups["d"]))
    except ValueError:
        return None
    if not 1900 <= value.year <= 2100:
        return None
    return value.isoformat()


def iso_date(text: str) -> str | None:
    """The one date ``text`` consists of (a weekday or time around it is allowed), or ``None``."""
    text = text.strip()
    if not text or len(text) > 80:
        return None
    found = {iso for iso in _match_all(text) if iso}
    return found.pop() if len(found) == 1 else None


def search_date(text: str) -> str | None:
    """The first date anywhere in ``text`` (for "Sent:" lines and prose), or ``None``."""
    best: tuple[int, str] | None = None
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            iso = _build(match)
            if iso and (best is None or match.start() < best[0]):
                best = (match.start(), iso)
    return best[1] if best else None


def _match_all(text: str) -> list[str | None]:
    return [_build(m) for pattern in _PATTERNS for m in pattern.finditer(text)]
