"""Reading a case from mail: stage moves, flags, category and resolution (pure).

Practitioners do not fill in fields; they write "I am escalating this to
stage 2" or "the child is subject to a child protection plan". This module
turns the *new* text of a message (quoted history already cut off) and its
subject into :class:`Signal` values. It only reads; whether a signal may
change the case is decided by :mod:`tracker.rules.engine`.

Two kinds of signal:

* **commands**: ``Key: value`` lines (``Stage: 3``, ``Flag: cp_plan``,
  ``Flag: -cp_plan``, ``Status: resolved``, ``Category: thresholds``,
  ``Track: c1_nfa``). From partnership staff they are authoritative;
* **inferences**: phrases in running text, read conservatively. Negations
  such as "not at risk of significant harm" or "is no longer on a child
  protection plan" produce nothing.

Each signal carries ``words``: the matched phrase only (never the sentence
around it), because the timeline shows it and the text around a phrase may
name the child.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["stage", "flag", "unflag", "status", "category", "track"]


@dataclass(frozen=True)
class Signal:
    kind: Kind
    value: str
    words: str
    command: bool


_COMMAND = re.compile(
    r"^[ \t>]*(stage|flag|unflag|status|category|track)[ \t]*:[ \t]*(\S[^\n]{0,60}?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)

_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|none|isn't|isnt|wasn't|aren't|don't|doesn't|didn't|won't|"
    r"without|neither|ended|removed from|ceased|no longer|longer)\b[^.;:!?\n]*$",
    re.IGNORECASE,
)
_AFTER_NEGATION = re.compile(
    r"^[^.;:!?\n]{0,30}\b(?:ended|ceased|was removed|were removed|has been removed|"
    r"discontinued|stepped down|is not|was not|isn't|wasn't)\b",
    re.IGNORECASE,
)
_WINDOW = 60

_STAGE_WORDS = re.compile(
    r"\b(?:escalat\w*|refer\w*|mov\w*|progress\w*|tak\w*|rais\w*|pass\w*)\s+"
    r"(?:(?:this|it|the\s+(?:matter|case|issue|concern|disagreement))\s+)?"
    r"(?:up\s+|on\s+|now\s+|forward\s+)?to\s+stage\s*(\d{1,2})\b"
    r"|\bstage\s*(\d{1,2})\s+(?:escalation|referral)\b"
    r"|\b(?:now\s+at|entered|entering|invok\w*|initiat\w*)\s+stage\s*(\d{1,2})\b",
    re.IGNORECASE,
)
_SUBJECT_STAGE = re.compile(r"\bstage\s*(\d{1,2})\b", re.IGNORECASE)
_REFER_LEAD = (
    r"\b(?:escalat\w*|refer\w*|pass\w*|rais\w*|tak\w*|mov\w*)\s+"
    r"(?:(?:this|it|the\s+(?:matter|case|issue|concern|disagreement))\s+)?"
    r"(?:up\s+|on\s+|now\s+)?to\s+(?:the\s+|a\s+|our\s+|my\s+|their\s+)?"
)

#: Built-in phrases for the shared flags; rule files may add their own.
FLAG_PHRASES: dict[str, tuple[str, ...]] = {
    "cp_plan": (
        r"child protection plan",
        r"\bcp plan\b",
        r"\bcpp\b",
        r"subject to a plan",
    ),
    "looked_after": (
        r"\blooked[ -]after child\b",
        r"\bchild looked after\b",
        r"\bis looked after\b",
        r"\bare looked after\b",
        r"\bchild in care\b",
        r"\bchildren in care\b",
        r"in the care of the local authority",
        r"\bcla\b",
        r"\blac\b",
        r"\bcare order\b",
    ),
    "significant_harm": (r"significant harm",),
    "immediate_danger": (r"immediate danger", r"imminent harm", r"immediate risk"),
}

#: "has now been resolved": at most three linking words, each matched once (possessive),
#: so a long run of "now been now been ..." costs one pass, not a backtracking tree.
_RESOLVED = re.compile(
    r"\b(?:has|have|is|was|were|now|been)\s++(?:(?:now|been)\s++){0,3}+resolved\b"
    r"|^[ \t]*+resolved\b"
    r"|\bagreed\s+outcome\b|\boutcome\s+(?:was\s+|has\s+been\s+)?agreed\b"
    r"|\bagreement\s+(?:has\s+been\s+|was\s+|have\s+)?reached\b"
    r"|\bwe\s+(?:have\s+)?(?:now\s+)?agreed\s+(?:a\s+|the\s+)?way\s+forward\b",
    re.IGNORECASE | re.MULTILINE,
)


_CLAUSE = re.compile(r"[,;.:!?\n]|\b(?:and|but|so|because|however|therefore|although)\b", re.I)


#: "We hope it is resolved soon" is not a resolution.
_HEDGE = re.compile(
    r"\b(?:hope|hopefully|if|once|until|unless|when|whether|can|could|should|would|will|"
    r"may|might|need|needs|want|wants|expect|expected|aim|trying)\b",
    re.IGNORECASE,
)


def _clause_before(text: str, start: int) -> str:
    before = text[max(0, start - _WINDOW) : start]
    cuts = list(_CLAUSE.finditer(before))
    return before[cuts[-1].end() :] if cuts else before


def _clause_after(text: str, end: int) -> str:
    after = text[end : end + 40]
    cut = _CLAUSE.search(after)
    return after[: cut.start()] if cut else after


def _negated(text: str, start: int, end: int) -> bool:
    """A negation in the same clause just before the phrase, or "ended" just after it."""
    before = _clause_before(text, start)
    return bool(_NEGATION.search(before) or _AFTER_NEGATION.match(_clause_after(text, end)))


#: "Should we escalate to stage 3?", "if needed we will escalate to stage 3": not a move.
_STAGE_HEDGE = re.compile(
    r"\b(?:if|should|could|would|whether|may|might|unless|consider|considering|shall we)\b",
    re.IGNORECASE,
)
_CONFIRM = re.compile(
    r"\b(?:can|could|would like to|am pleased to|am happy to|want to)\s+confirm\b", re.IGNORECASE
)


def _hedged(text: str, start: int, end: int, hedge: re.Pattern[str]) -> bool:
    clause = _CONFIRM.sub(" ", _clause_before(text, start))
    if hedge.search(clause):
        return True
    rest = text[end : end + 80]
    stop = re.search(r"[.!?\n]", rest)
    return bool(stop and stop.group(0) == "?")


def _compile(phrases: Iterable[str], literal: bool) -> re.Pattern[str] | None:
    parts = [re.escape(p) if literal else p for p in phrases if p]
    if not parts:
        return None
    if literal:
        parts = [rf"\b{p}\b" for p in parts]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)


@dataclass(frozen=True)
class Vocabulary:
    """What a procedure adds to the built-in phrases (prepared once per rule file)."""

    stage_phrases: dict[int, re.Pattern[str]]
    flag_phrases: dict[str, re.Pattern[str]]
    categories: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def build(
        cls,
        stage_phrases: Mapping[int, Sequence[str]],
        flag_phrases: Mapping[str, Sequence[str]],
        categories: Sequence[tuple[str, Sequence[str]]],
    ) -> Vocabulary:
        stages: dict[int, re.Pattern[str]] = {}
        for number, phrases in stage_phrases.items():
            if phrases:
                alts = "|".join(re.escape(p) for p in phrases)
                stages[number] = re.compile(_REFER_LEAD + rf"(?:{alts})\b", re.IGNORECASE)
        flags: dict[str, re.Pattern[str]] = {}
        for name in {*FLAG_PHRASES, *flag_phrases}:
            builtin = _compile(FLAG_PHRASES.get(name, ()), literal=False)
            extra = _compile(flag_phrases.get(name, ()), literal=True)
            pats = [p.pattern for p in (builtin, extra) if p is not None]
            if pats:
                flags[name] = re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
        cats = tuple(
            (cat, pat)
            for cat, words in categories
            if (pat := _compile(words, literal=True)) is not None
        )
        return cls(stages, flags, cats)


#: A category or track value shown on the timeline: one short identifier, nothing else.
_PLAIN_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


def _commands(text: str) -> list[Signal]:
    out: list[Signal] = []
    for m in _COMMAND.finditer(text):
        key, value = m.group(1).lower(), m.group(2).strip()
        # ``words`` names only what the command means, never the rest of its line,
        # which may go on to name a child ("Stage: 3 following Jamie's meeting").
        if key == "stage":
            num = re.match(r"(?:stage\s*)?(\d{1,2})\b", value, re.IGNORECASE)
            if num:
                out.append(Signal("stage", num.group(1), f"Stage: {num.group(1)}", True))
        elif key in ("flag", "unflag"):
            token = value.lower().replace(" ", "_").replace("-", "_")
            negative = key == "unflag" or value.startswith(("-", "no ", "not "))
            name = re.sub(r"^(?:_+|no_|not_)", "", token)
            if re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
                sign = "-" if negative else ""
                out.append(
                    Signal("unflag" if negative else "flag", name, f"Flag: {sign}{name}", True)
                )
        elif key == "status":
            v = value.lower()
            if v in ("resolved", "closed", "agreed"):
                out.append(Signal("status", "resolved", "Status: resolved", True))
            elif v in ("open", "reopen", "reopened", "unresolved"):
                out.append(Signal("status", "open", "Status: open", True))
        elif key == "category":
            shown = value if _PLAIN_VALUE.fullmatch(value) else "(a value)"
            out.append(Signal("category", value, f"Category: {shown}", True))
        else:
            shown = value.lower() if _PLAIN_VALUE.fullmatch(value) else "(a value)"
            out.append(Signal("track", value.lower(), f"Track: {shown}", True))
    return out


#: The new text of a reply is a few paragraphs; 100,000 characters is far beyond any real one
#: and keeps signal reading (linear patterns) in the milliseconds whatever a message holds.
MAX_SIGNAL_TEXT_CHARS = 100_000
#: A subject longer than this is not a person's subject line; only its start is read.
MAX_SUBJECT_CHARS = 1_000


def read_signals(text: str, subject: str, vocab: Vocabulary) -> list[Signal]:
    """Every command and inference in ``text`` (the new part of a message) and ``subject``.

    Only the first :data:`MAX_SIGNAL_TEXT_CHARS` of the text and :data:`MAX_SUBJECT_CHARS`
    of the subject are read: this runs on untrusted text, so its cost must have a bound.
    """
    text = text[:MAX_SIGNAL_TEXT_CHARS]
    subject = subject[:MAX_SUBJECT_CHARS]
    signals = _commands(text)
    commanded = {s.kind for s in signals}
    # Running text without the command lines, so "Stage: 2" is not read twice.
    prose = _COMMAND.sub("", text)

    if "stage" not in commanded:
        best: Signal | None = None
        for m in _STAGE_WORDS.finditer(prose):
            if _negated(prose, m.start(), m.end()) or _hedged(
                prose, m.start(), m.end(), _STAGE_HEDGE
            ):
                continue
            number = next(g for g in m.groups() if g)
            if best is None or int(number) > int(best.value):
                best = Signal("stage", number, _squash(m.group(0)), False)
        for number, pat in sorted(vocab.stage_phrases.items()):
            for m in pat.finditer(prose):
                if (
                    not _negated(prose, m.start(), m.end())
                    and not _hedged(prose, m.start(), m.end(), _STAGE_HEDGE)
                    and (best is None or number > int(best.value))
                ):
                    best = Signal("stage", str(number), _squash(m.group(0)), False)
        sm = _SUBJECT_STAGE.search(subject)
        if (
            sm
            and not _negated(subject, sm.start(), sm.end())
            and (best is None or int(sm.group(1)) > int(best.value))
        ):
            best = Signal("stage", sm.group(1), f"subject: {_squash(sm.group(0))}", False)
        if best is not None:
            signals.append(best)

    flagged = {s.value for s in signals if s.kind in ("flag", "unflag")}
    for name, pat in sorted(vocab.flag_phrases.items()):
        if name in flagged:
            continue
        for m in pat.finditer(prose):
            if not _negated(prose, m.start(), m.end()) and _in_status_context(
                name, prose, m.start(), m.end()
            ):
                signals.append(Signal("flag", name, _squash(m.group(0)), False))
                break

    if "category" not in commanded:
        for cat, pat in vocab.categories:
            found = pat.search(prose)
            if found:
                signals.append(Signal("category", cat, _squash(found.group(0)), False))
                break

    if "status" not in commanded:
        for m in _RESOLVED.finditer(prose):
            if not _negated(prose, m.start(), m.end()) and not _hedged(
                prose, m.start(), m.end(), _HEDGE
            ):
                signals.append(Signal("status", "resolved", _squash(m.group(0)), False))
                break
    return signals


#: A plan is a status only in words such as "subject to", "on", "has"; "a child protection
#: plan is needed" or "we request a CP plan" ask for one, which the child does not have.
_PLAN_STATUS_BEFORE = re.compile(
    r"\b(?:subject to|on|under|has|have|had|with|remains?|placed on|made subject to)"
    r"(?:\s+(?:a|an|the|her|his|their|its|current|existing|an existing))*\s*$",
    re.IGNORECASE,
)
_PLAN_STATUS_AFTER = re.compile(
    r"^\s*(?:is |was |has been )?(?:in place|since|started|began|was made|review)\b",
    re.IGNORECASE,
)
_PLAN_WISH = re.compile(
    r"\b(?:request\w*|seek\w*|consider\w*|whether|should|need\w*|ask\w*|recommend\w*|"
    r"want\w*|argu\w*|believe|think|hold|convene|initial)\b",
    re.IGNORECASE,
)


def _in_status_context(flag: str, text: str, start: int, end: int) -> bool:
    """For ``cp_plan``: the words say the child has a plan, not that one is wanted."""
    if flag != "cp_plan":
        return True
    before = _clause_before(text, start)
    if _PLAN_WISH.search(before):
        return False
    return bool(
        _PLAN_STATUS_BEFORE.search(before) or _PLAN_STATUS_AFTER.match(text[end : end + 40])
    )


def _squash(words: str) -> str:
    return " ".join(words.split())[:80]
