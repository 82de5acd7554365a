"""Agency *types* from an email domain, and the labels reports show.

Professional email addresses are personal data (class C): reports and the
anonymised export carry only the kind of agency that raised a case, decided
here by simple domain rules. The agency *challenged* is not stored yet (a
later change adds it to the escalation form), so reports say "not recorded".
"""

from __future__ import annotations

from typing import Final

from tracker.rulebook import TAXONOMY

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


def agency_label(kind: str) -> str:
    return AGENCY_LABELS.get(kind, kind.replace("_", " ").capitalize())


def category_label(category: str | None) -> str:
    key = category or UNCATEGORISED
    return CATEGORY_LABELS_WITH_NONE.get(key, key.replace("_", " ").capitalize())
