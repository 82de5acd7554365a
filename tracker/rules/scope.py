"""Where a phrase's scope ends: negation and hedging around a matched phrase (pure).

A phrase such as "significant harm" or "escalating to stage 3" means nothing on its
own: "I do not believe he is at risk of significant harm" and "should we escalate to
stage 3?" say the opposite. The reader looks at the clause around the phrase. Plain-text
mail is hard-wrapped at about 72 columns, so a single line break does not end a clause;
a blank line, a list item, or punctuation does. Every window is bounded, so the cost per
phrase is constant whatever the message holds.
"""

from __future__ import annotations

import re

_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|none|isn't|isnt|wasn't|aren't|don't|doesn't|didn't|won't|"
    r"without|neither|ended|removed from|ceased|no longer|longer)\b[^.;:!?]*$",
    re.IGNORECASE,
)
_AFTER_NEGATION = re.compile(
    r"^[^.;:!?]{0,30}\b(?:ended|ceased|was removed|were removed|has been removed|"
    r"discontinued|stepped down|is not|was not|isn't|wasn't)\b",
    re.IGNORECASE,
)
_WINDOW = 60

#: Where a negation's scope ends. A single line break is not one: plain-text mail is
#: hard-wrapped at about 72 columns, so "I do not believe he is at" / "risk of significant
#: harm" is one sentence. A blank line, or a new line opening a list item, ends it.
_CLAUSE = re.compile(
    r"[,;.:!?]|\n[ \t>]*+(?:\n|[-*\u2022]|\d{1,2}[.)])"
    r"|\b(?:and|but|so|because|however|therefore|although)\b",
    re.I,
)


#: "We hope it is resolved soon" is not a resolution.
HEDGE = re.compile(
    r"\b(?:hope|hopefully|if|once|until|unless|when|whether|can|could|should|would|will|"
    r"may|might|need|needs|want|wants|expect|expected|aim|trying)\b",
    re.IGNORECASE,
)


def clause_before(text: str, start: int) -> str:
    """The clause ending at ``start``: at most 60 characters, cut at the last clause end."""
    before = text[max(0, start - _WINDOW) : start]
    cuts = list(_CLAUSE.finditer(before))
    return before[cuts[-1].end() :] if cuts else before


def _clause_after(text: str, end: int) -> str:
    after = text[end : end + 40]
    cut = _CLAUSE.search(after)
    return after[: cut.start()] if cut else after


def negated(text: str, start: int, end: int) -> bool:
    """A negation in the same clause just before the phrase, or "ended" just after it."""
    before = clause_before(text, start)
    return bool(_NEGATION.search(before) or _AFTER_NEGATION.match(_clause_after(text, end)))


#: "Should we escalate to stage 3?", "if needed we will escalate to stage 3": not a move.
STAGE_HEDGE = re.compile(
    r"\b(?:if|should|could|would|whether|may|might|unless|consider|considering|shall we)\b",
    re.IGNORECASE,
)
_CONFIRM = re.compile(
    r"\b(?:can|could|would like to|am pleased to|am happy to|want to)\s+confirm\b", re.IGNORECASE
)


#: A sentence ends at its punctuation or a blank line, not at a hard wrap.
_SENTENCE_STOP = re.compile(r"[.!?]|\n[ \t>]*+\n")


def hedged(text: str, start: int, end: int, hedge: re.Pattern[str]) -> bool:
    """A hedge word before the phrase in its clause, or a sentence that ends in "?"."""
    clause = _CONFIRM.sub(" ", clause_before(text, start))
    if hedge.search(clause):
        return True
    rest = text[end : end + 80]
    stop = _SENTENCE_STOP.search(rest)
    return bool(stop and stop.group(0) == "?")
