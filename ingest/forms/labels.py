"""Form labels and their canonical field names; cleaning of the values found beside them.

Partnership forms differ in wording ("Name of Child", "Child's name", "Child
name"; "DOB", "D.O.B.", "Date of birth") and practitioners retype them, so a
label is compared in a normalised form: case, punctuation, parenthesised
hints ("From (Practitioner)") and required-field stars do not count.

The Bedfordshire Appendix C form (spec §2.1) is read as: From → raiser,
Agency/Team → the raiser's agency, Social Worker/Practitioner → the other
party. "To (Manager)" names no canonical field and is ignored, as are the
response and resolution "Date" lines (see :func:`canonical_label`).
"""

from __future__ import annotations

import re
import unicodedata

from ingest.forms.dates import iso_date

__all__ = [
    "NARRATIVE_FIELDS",
    "canonical_label",
    "clean_value",
    "normalise_category",
    "normalise_label",
    "split_name",
]

#: Free-text fields whose value may run over several lines and paragraphs.
NARRATIVE_FIELDS = frozenset({"concern", "requested_action", "response", "resolution"})

_ALIASES: dict[str, tuple[str, ...]] = {
    "child_name": (
        "name of child",
        "name of the child",
        "childs name",
        "child name",
        "childs full name",
        "full name of child",
        "name of child young person",
        "child young person",
        "childs young persons name",
        "name of young person",
        "young persons name",
        "child",
    ),
    "child_dob": (
        "dob",
        "date of birth",
        "childs dob",
        "child dob",
        "childs date of birth",
        "child date of birth",
        "birth date",
        "young persons dob",
    ),
    "child_ref": (
        "child reference",
        "child ref",
        "childs reference",
        "local child reference",
        "la reference",
        "la ref",
        "local authority reference",
        "mosaic id",
        "mosaic number",
        "mosaic no",
        "mosaic ref",
        "lcs id",
        "lcs number",
        "liquidlogic id",
        "liquid logic id",
        "eclipse id",
        "carefirst id",
        "social care id",
        "social care reference",
        "child id",
        "ics id",
        "ics number",
    ),
    "raiser_name": (
        "from",
        "practitioner",
        "practitioner name",
        "name of practitioner",
        "raised by",
        "escalation raised by",
        "referrer",
        "referrer name",
        "your name",
        "name of person raising concern",
        "name of person raising the concern",
        "name of professional raising concern",
        "completed by",
    ),
    "raiser_email": (
        "email",
        "e mail",
        "email address",
        "practitioner email",
        "your email",
        "contact email",
    ),
    "raiser_agency": (
        "agency team",
        "agency",
        "team",
        "your agency",
        "organisation",
        "organization",
        "raising agency",
        "practitioner agency",
        "agency of person raising concern",
    ),
    "other_party": (
        "social worker practitioner",
        "social worker",
        "allocated social worker",
        "other agency",
        "other party",
        "other professional",
        "other agency role",
        "responding agency",
        "receiving agency",
        "agency disagreed with",
        "agency you disagree with",
        "disagreement with",
        "escalated to",
        "agency escalated to",
    ),
    "concern": (
        "summary of concerns",
        "summary of concern",
        "concern",
        "concerns",
        "nature of concern",
        "nature of concerns",
        "nature of the disagreement",
        "nature of the disagreements",
        "nature of disagreement",
        "nature of disagreements",
        "details of concern",
        "details of the concern",
        "details of disagreement",
        "description of concern",
        "reason for escalation",
        "summary of issue",
        "summary of disagreement",
    ),
    "requested_action": (
        "requested action",
        "action requested",
        "actions requested",
        "requested actions",
        "desired outcome",
        "outcome sought",
        "outcome requested",
        "what action are you requesting",
    ),
    "response": ("response", "response received", "managers response", "response from agency"),
    "resolution": (
        "resolution of issues",
        "resolution of issue",
        "resolution",
        "resolution agreed",
        "outcome",
        "agreed outcome",
        "outcome resolution and actions",
    ),
    "category": (
        "category",
        "category of disagreement",
        "category of concern",
        "type of disagreement",
        "disagreement type",
        "area of disagreement",
        "escalation category",
    ),
    "form_date": (
        "date",
        "date raised",
        "date of escalation",
        "escalation date",
        "date form completed",
        "date completed",
    ),
}

_LABELS: dict[str, str] = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
#: Labels read only to know where a field ends; they fill nothing.
_IGNORED = frozenset({"to", "date of response", "date of resolution", "signed", "signature"})

_POSSESSIVE = re.compile(r"['’`]")
_PLURAL_HINT = re.compile(r"\((s|es)\)")
_PARENTHESES = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_NUMBERING = re.compile(r"^(?:\d{1,2}|[a-h]|[ivx]{1,4})[.)]\s+")
#: Blanks before "[2]" are tried once per run of blanks (lookbehind), not from each blank.
_INDEX_SUFFIX = re.compile(r"(?:(?<!\s)\s*+\[\d++\]|[_ ]\d{1,2})$")


def normalise_label(text: str) -> str:
    """``text`` reduced to lower-case words: "Child's Name:*" → "childs name".

    Also splits camelCase and snake_case, so that PDF field names such as
    "NameOfChild" or "child_dob" compare like printed labels.
    """
    text = _INDEX_SUFFIX.sub("", text.strip())
    text = _CAMEL.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _NUMBERING.sub("", text.strip())
    text = _PLURAL_HINT.sub(r"\1", text)
    text = _PARENTHESES.sub(" ", text)
    text = _POSSESSIVE.sub("", text).replace(".", "")
    return _NOT_WORD.sub(" ", text).strip()


def canonical_label(text: str) -> str | None:
    """The field a label stands for; "" for a known label that fills nothing; None if unknown."""
    if len(text) > 120:
        return None
    key = normalise_label(text)
    if key in _IGNORED:
        return ""
    return _LABELS.get(key)


# ---------------------------------------------------------------------------
# Values

_PLACEHOLDERS = frozenset(
    {
        "",
        "n a",
        "na",
        "none",
        "nil",
        "tbc",
        "tba",
        "not known",
        "unknown",
        "not applicable",
        "see below",
        "see above",
        "see attached",
        "click or tap here to enter text",
        "click here to enter text",
        "click or tap to enter a date",
        "choose an item",
        "enter text",
        "dd mm yyyy",
        "dd mm yy",
    }
)
#: Child "names" that are deliberately not names: keying them would link unrelated children.
_ANONYMOUS_CHILD = re.compile(
    r"^(?:child|baby|young person|yp|sibling|infant|unborn(?: baby)?)(?:\s+[a-z0-9]{1,2})?$"
    r"|withheld|not disclosed|redacted|anonymised|see (?:attached|below|above)|initials only",
)
#: Starts only where a run of address characters starts, and reads that run once: a long
#: word without "@" is one failed attempt, not one per character.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+'\-])[A-Za-z0-9._%+'\-]++@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_INSTRUCTION = re.compile(r"^\((?:if |please |practitioner|manager|dd/mm)[^)]*\)\s*", re.I)


def tidy(value: str) -> str:
    """Blanks collapsed within each line, empty lines dropped, ends stripped."""
    lines = (_SPACES.sub(" ", line).strip() for line in value.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def is_placeholder(value: str) -> bool:
    """True for "N/A", "TBC", Word's "Click or tap here to enter text." and the like."""
    return _NOT_WORD.sub(" ", value.casefold()).strip() in _PLACEHOLDERS


def split_name(display: str) -> str:
    """A person's display name as "First Last": Outlook's "Doe, Jane (Team)" → "Jane Doe"."""
    name = _PARENTHESES.sub(" ", display).strip().strip("'\"").strip()
    name = _SPACES.sub(" ", name)
    if name.count(",") == 1 and "@" not in name:
        last, first = (part.strip() for part in name.split(","))
        if last and first and len(last.split()) <= 2 and len(first.split()) <= 3:
            name = f"{first} {last}"
    return name


def clean_value(name: str, value: str) -> str | None:
    """The value as a case field stores it, or None when it is empty or not a value.

    Dates become ISO dates (None if not one clear date); an e-mail field keeps
    only the address; a category becomes one of the tracker's codes; names
    and short fields are one line; narratives keep their line breaks.
    """
    value = _INSTRUCTION.sub("", tidy(value))
    if is_placeholder(value):
        return None
    if name in ("child_dob", "form_date"):
        return iso_date(value)
    if name == "raiser_email":
        match = _EMAIL.search(value)
        return match.group(0).lower() if match else None
    if name == "category":
        return normalise_category(value)
    if name in NARRATIVE_FIELDS:
        return value[:20_000]
    value = " ".join(value.split("\n"))
    if len(value) > 200:
        return None
    if name == "child_name":
        folded = _NOT_WORD.sub(" ", value.casefold()).strip()
        if _ANONYMOUS_CHILD.search(folded) or any(ch.isdigit() for ch in value):
            return None
        if not any(ch.isalpha() for ch in value):
            return None
    if name == "raiser_name":
        value = split_name(_EMAIL.sub("", value).replace("<>", "").replace("[mailto:]", ""))
        return value or None
    return value


# ---------------------------------------------------------------------------
# Categories (DESIGN.md §3)

_CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("thresholds", ("threshold",)),
    (
        "assessment_outcome",
        ("assessment outcome", "outcome of assessment", "outcome of the assessment"),
    ),
    ("decision_making", ("decision making", "decision-making", "decision")),
    ("roles_responsibilities", ("roles", "role", "responsibilit")),
    ("service_provision", ("service provision", "provision of service", "service")),
    (
        "information_sharing_communication",
        ("information sharing", "sharing information", "share information"),
    ),
    ("other", ("other",)),
)


def normalise_category(value: str) -> str | None:
    """The shared-taxonomy category id for a form's category text; None when it names none.

    The first matching entry wins, so "Thresholds (decision making)" is
    thresholds: practitioners put the main category first.
    """
    folded = " ".join(_NOT_WORD.sub(" ", value.casefold()).split())
    best: tuple[int, str] | None = None
    for code, words in _CATEGORY_WORDS:
        for word in words:
            position = folded.find(word.replace("-", " "))
            if position >= 0 and (best is None or position < best[0]):
                best = (position, code)
    return best[1] if best else None
