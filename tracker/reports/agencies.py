"""Agency *types* from an email domain or a form's free text, and the labels reports show.

Professional email addresses are personal data (class C), and what a
practitioner writes in the form's "agency" and "other party" boxes often
names a person or a team ("Duty social worker Jo Bloggs, Front Door"):
reports and the anonymised export carry only the *kind* of agency, decided
here by simple rules, never the address or the text.

- The raising agency: the type of the form's ``raiser_agency`` text when its
  keywords name one (:func:`agency_type_from_text`), else the raiser's email
  domain (:func:`agency_type`): :func:`raising_agency_type`.
- The agency challenged: the type of the form's ``other_party`` text,
  ``not_recorded`` when the form did not say.
"""

from __future__ import annotations

import re
from typing import Final

from tracker.rules.schema import TAXONOMY

SCHOOL: Final = "school"
HEALTH: Final = "health"
POLICE: Final = "police"
LOCAL_AUTHORITY: Final = "local_authority"
OTHER: Final = "other"
NOT_RECORDED: Final = "not_recorded"

AGENCY_TYPES: Final = (SCHOOL, HEALTH, POLICE, LOCAL_AUTHORITY, OTHER)

AGENCY_LABELS: Final = {
    SCHOOL: "School",
    HEALTH: "Health",
    POLICE: "Police",
    LOCAL_AUTHORITY: "Local authority",
    OTHER: "Other",
    NOT_RECORDED: "Not recorded",
}

#: Suffix rules, first match wins (``.sch.uk`` before anything broader).
_RULES: Final = (
    ("sch.uk", SCHOOL),
    ("nhs.net", HEALTH),
    ("nhs.uk", HEALTH),
    ("police.uk", POLICE),
    ("gov.uk", LOCAL_AUTHORITY),
)

#: Shared-taxonomy labels, for people rather than for machines.
CATEGORY_LABELS: Final = {
    "thresholds": "Thresholds",
    "assessment_outcome": "Assessment outcome",
    "plan_adequacy": "Adequacy of the plan",
    "decision_making": "Decision making",
    "roles_responsibilities": "Roles and responsibilities",
    "service_provision": "Service provision",
    "funding_commissioning": "Funding and commissioning",
    "information_sharing_communication": "Information sharing and communication",
    "action_or_inaction": "Action or inaction",
    "cp_process": "Child protection process",
    "case_closure": "Case closure",
    "professional_philosophy": "Professional philosophy",
    "post_meeting_dissent": "Dissent after a meeting",
    "other": "Other",
}
UNCATEGORISED: Final = "uncategorised"
CATEGORY_LABELS_WITH_NONE: Final = {**CATEGORY_LABELS, UNCATEGORISED: "Not categorised"}
assert set(CATEGORY_LABELS) == set(TAXONOMY), "every taxonomy id needs a label"


def agency_type(address: str) -> str:
    """``school``, ``health``, ``police``, ``local_authority`` or ``other``.

    Takes an address or a bare domain; only the domain is looked at, so the
    result never depends on (or reveals) who the person is.
    """
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    for suffix, kind in _RULES:
        if domain == suffix or domain.endswith("." + suffix):
            return kind
    return OTHER


#: Keyword rules for free text, in order: the first rule with a match decides.
#: Patterns are matched as whole words on the normalised text (see :func:`_normalise`:
#: lower case, apostrophes dropped, other punctuation a space).
#:
#: The order settles texts naming two kinds of agency:
#:
#: 1. Roles that say who employs someone wherever they work: a school nurse is
#:    health staff (NHS or public-health commissioned), a social worker is the
#:    local authority's, in a hospital or a MASH too.
#: 2. Police ("Safer Schools Police Officer", "Police officer, MASH").
#: 3. Health ("Named nurse, Children's Hospital", "CAMHS school in-reach",
#:    "Health and Social Care Trust").
#: 4. The local authority (the "Virtual School" is the council's).
#: 5. Schools and early-years settings.
_TEXT_RULES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (HEALTH, (r"school nurs(?:e|es|ing)",)),
    (LOCAL_AUTHORITY, (r"social work(?:er|ers)?",)),
    (
        POLICE,
        (
            r"polic(?:e|ing)",
            r"constabulary",
            r"public protection unit",
            r"ppu",
            r"child abuse investigation(?: team| unit)?",
            r"cait",
            r"pcso",
        ),
    ),
    (
        HEALTH,
        (
            r"nhs",
            r"hospitals?",
            r"gps?",
            r"general practi(?:ce|tioner)",
            r"health(?:care)?",
            r"midwi(?:fe|ves|fery)",
            r"camhs",
            r"nurs(?:e|es|ing)",
            r"paediatric(?:s|ian|ians)?",
            r"pediatric(?:s|ian|ians)?",
            r"icb",
            r"primary care",
            r"surgery",
            r"doctors?",
            r"medical (?:centre|center|practice)",
            r"a&e",
            r"emergency department",
        ),
    ),
    (
        LOCAL_AUTHORITY,
        (
            r"childrens services",
            r"childrens social care",
            r"childrens trust",
            r"children in care",
            r"social care",
            r"councils?",
            r"local authority",
            r"mbc",
            r"lado",
            r"csc",
            r"early help",
            r"mash",
            r"multi agency safeguarding hub",
            r"virtual school",
            r"independent reviewing officers?",
            r"iros?",
            r"looked after childrens? (?:team|service)",
        ),
    ),
    (
        SCHOOL,
        (
            r"schools?",
            r"academ(?:y|ies)",
            r"colleges?",
            r"nurser(?:y|ies)",
            r"pre ?schools?",
            r"primary",
            r"infants?",
            r"sixth form",
            r"senco",
            r"pupil referral unit",
            r"pru",
            r"head ?teachers?",
        ),
    ),
)
_COMPILED: Final = tuple(
    (kind, re.compile(r"(?<![a-z0-9&])(?:" + "|".join(words) + r")(?![a-z0-9&])"))
    for kind, words in _TEXT_RULES
)
#: What forms hold when the box was left "blank" in words.
_PLACEHOLDERS: Final = frozenset(
    {"n a", "na", "none", "nil", "unknown", "not known", "tbc", "not applicable", "not recorded"}
)


def _normalise(text: str) -> str:
    """Lower case; apostrophes (straight or curly) dropped, so "children's", "children’s" and
    "childrens" are one word; every other character but letters, digits and ``&`` a space."""
    lowered = re.sub(r"['\u2018\u2019`]", "", text.casefold())
    return " ".join(re.sub(r"[^a-z0-9&]+", " ", lowered).split())


def agency_type_from_text(text: str | None) -> str:
    """The agency type a form's free text names, by keywords (see :data:`_TEXT_RULES`).

    ``not_recorded`` for no text, an empty or punctuation-only one, or a
    placeholder such as "N/A" or "Not known"; ``other`` for a text with none
    of the keywords (a charity, housing, probation, a person's name alone).
    Pure: the text is looked at here and nowhere else, and never returned.
    """
    if text is None:
        return NOT_RECORDED
    words = _normalise(text)
    if not words or words in _PLACEHOLDERS:
        return NOT_RECORDED
    for kind, pattern in _COMPILED:
        if pattern.search(words):
            return kind
    return OTHER


def raising_agency_type(form_type: str, address: str | None) -> str:
    """The raising agency's type: ``form_type`` (the type of the form's ``raiser_agency``
    text, :func:`agency_type_from_text`) when it names one, else the raiser's email domain
    (``other`` when neither says).

    A text without keywords ("Pastoral team", so ``other``) does not overrule
    a domain that does say (``oakfield.sch.uk``): it says nothing about the
    kind of agency.
    """
    if form_type in AGENCY_TYPES and form_type != OTHER:
        return form_type
    return agency_type(address or "")


def agency_label(kind: str) -> str:
    return AGENCY_LABELS.get(kind, kind.replace("_", " ").capitalize())


def category_label(category: str | None) -> str:
    key = category or UNCATEGORISED
    return CATEGORY_LABELS_WITH_NONE.get(key, key.replace("_", " ").capitalize())
