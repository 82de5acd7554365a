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

from tracker.rules.scope import HEDGE, STAGE_HEDGE, clause_before, hedged, negated

Kind = Literal["stage", "flag", "unflag", "status", "category", "track"]


@dataclass(frozen=True)
class Signal:
    kind: Kind
    value: str
    words: str
    command: bool


_COMMAND = re.compile(
    r"^[ \t]*(stage|flag|unflag|status|category|track)[ \t]*:[ \t]*(\S[^\n]{0,60}?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)

_STAGE_WORDS = re.compile(
    r"\b(?:escalat\w*|refer\w*|mov\w*|progress\w*|tak\w*|rais\w*|pass\w*)\s+"
    r"(?:(?:this|it|the\s+(?:matter|case|issue|concern|disagreement))\s+)?"
    r"(?:up\s+|on\s+|now\s+|forward\s+)?to\s+stage\s*(\d{1,2})\b"
    r"|\bstage\s*(\d{1,2})\s+(?:escalation|referral)\b"
    r"|\b(?:now\s+at|entered|entering|invok\w*|initiat\w*)\s+stage\s*(\d{1,2})\b"
    # "referred this to the Team Manager (stage 2)": the stage in brackets beside the verb.
    # Possessive run of words up to the bracket, so a long clause costs one pass.
    r"|\b(?:escalat\w*|refer\w*|progress\w*|pass\w*)[^()\[\].;:!?]{0,80}+"
    r"[(\[][ \t]*+stage[ \t]*+(\d{1,2})[ \t]*+[)\]]",
    re.IGNORECASE,
)
_SUBJECT_STAGE = re.compile(r"\bstage\s*(\d{1,2})\b", re.IGNORECASE)

#: "Key Stage 2" is a school phase, not an escalation stage: the word just before "stage".
_KEY_STAGE_BEFORE = re.compile(r"\bkey[ \t\n]*+stage[ \t]*+$", re.IGNORECASE)
#: "stage 1 of the assessment", "stage 2 of the plan": a stage of other work, not of the
#: escalation ("stage 2 of the escalation process" stays a stage).
_OTHER_WORK_AFTER = re.compile(
    r"^[ \t\n]*+of[ \t\n]++(?:the[ \t\n]++|this[ \t\n]++|her[ \t\n]++|his[ \t\n]++|their[ \t\n]++)?"
    r"(?:single[ \t\n]++)?(?:assessment|plan|pregnancy|proceedings|court|care|child protection|"
    r"cp|cin|pre-proceedings|pupil|school|curriculum|treatment|programme|program|course)\b",
    re.IGNORECASE,
)


def _other_stage(text: str, number_start: int, number_end: int) -> bool:
    """A numbered "stage" that is not an escalation stage (Key Stage 2, stage 1 of the plan)."""
    before = text[max(0, number_start - 16) : number_start]
    after = text[number_end : number_end + 60]
    return bool(_KEY_STAGE_BEFORE.search(before) or _OTHER_WORK_AFTER.match(after))


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
            if negated(prose, m.start(), m.end()) or hedged(prose, m.start(), m.end(), STAGE_HEDGE):
                continue
            group = next(i for i, g in enumerate(m.groups(), 1) if g)
            if _other_stage(prose, m.start(group), m.end(group)):
                continue
            number = m.group(group)
            if best is None or int(number) > int(best.value):
                best = Signal("stage", number, _squash(m.group(0)), False)
        for number, pat in sorted(vocab.stage_phrases.items()):
            for m in pat.finditer(prose):
                if (
                    not negated(prose, m.start(), m.end())
                    and not hedged(prose, m.start(), m.end(), STAGE_HEDGE)
                    and (best is None or number > int(best.value))
                ):
                    best = Signal("stage", str(number), _squash(m.group(0)), False)
        sm = next(
            (
                m
                for m in _SUBJECT_STAGE.finditer(subject)
                if not _other_stage(subject, m.start(1), m.end(1))
            ),
            None,
        )
        if (
            sm
            and not negated(subject, sm.start(), sm.end())
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
            if not negated(prose, m.start(), m.end()) and _in_status_context(
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
            if not negated(prose, m.start(), m.end()) and not hedged(
                prose, m.start(), m.end(), HEDGE
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
    before = clause_before(text, start)
    if _PLAN_WISH.search(before):
        return False
    return bool(
        _PLAN_STATUS_BEFORE.search(before) or _PLAN_STATUS_AFTER.match(text[end : end + 40])
    )


def _squash(words: str) -> str:
    return " ".join(words.split())[:80]
