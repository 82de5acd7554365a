"""Agency types from a form's free text (pure): realistic variants, and the tricky ones decided."""

from __future__ import annotations

import pytest

from tracker.reports.agencies import (
    AGENCY_LABELS,
    AGENCY_TYPES,
    NOT_RECORDED,
    agency_type_from_text,
    raising_agency_type,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # schools and early years
        ("St Mary's Primary School", "school"),
        ("Northshire Academy – Pastoral Team", "school"),
        ("Riverside Primary", "school"),
        ("Solihull Sixth Form College", "school"),
        ("Little Acorns Day Nursery", "school"),
        ("Oakfield Pre-School", "school"),
        ("Headteacher, Greenway Infants", "school"),
        ("Eastmoor Pupil Referral Unit", "school"),
        ("SENCO", "school"),
        # health
        ("GP practice", "health"),
        ("Dr Ahmed, Lode Lane Surgery", "health"),
        ("Westvale Community Health – Health Visiting", "health"),
        ("Health visitor", "health"),
        ("University Hospitals Birmingham NHS Foundation Trust", "health"),
        ("Community midwife", "health"),
        ("Midwifery safeguarding team", "health"),
        ("Northshire CAMHS", "health"),
        ("Named nurse for safeguarding", "health"),
        ("Community paediatrician", "health"),
        ("Solihull Healthcare Partnership", "health"),
        ("A&E, Heartlands", "health"),
        # police
        ("Eastmoor Police", "police"),
        ("West Midlands Police, Public Protection Unit", "police"),
        ("Eastmoor Police – Child Abuse Investigation Team", "police"),
        ("Warwickshire Constabulary", "police"),
        ("PPU", "police"),
        ("PCSO, Chelmsley Wood neighbourhood team", "police"),
        # local authority
        ("Duty social worker, Solihull Children's Services", "local_authority"),
        ("Duty Social Worker, Northshire Children's Services Front Door", "local_authority"),
        ("Southdale Children's Social Care, Assessment Team 2", "local_authority"),
        ("Northshire Childrens Services, Child in Need Team", "local_authority"),
        ("Eastmoor Children’s Services Strategy Team", "local_authority"),  # curly apostrophe
        ("Solihull Council", "local_authority"),
        ("Birmingham City Council – Housing", "local_authority"),
        ("Local Authority Designated Officer", "local_authority"),
        ("CSC", "local_authority"),
        ("Westvale Early Help Hub", "local_authority"),
        ("MASH", "local_authority"),
        ("Eastmoor Looked After Children Team", "local_authority"),
        ("IRO", "local_authority"),
        ("Birmingham Children’s Trust – Children in Care", "local_authority"),
        ("Adult social care", "local_authority"),
        # nothing that names a kind of agency
        ("Barnardo's", "other"),
        ("Westvale Housing Options Service", "other"),
        ("National Probation Service", "other"),
        ("Eastmoor Fostering Service", "other"),  # could be an independent agency
        ("Team manager", "other"),
        ("Jo Bloggs", "other"),
    ],
)
def test_realistic_texts(text: str, kind: str) -> None:
    assert agency_type_from_text(text) == kind


@pytest.mark.parametrize(
    ("text", "kind", "why"),
    [
        ("School nurse (NHS)", "health", "school nurses are health staff"),
        ("School Nursing Team", "health", "... with or without 'NHS'"),
        ("Safer Schools Police Officer", "police", "police before schools"),
        ("Police officer seconded to the MASH", "police", "police before the MASH"),
        ("Hospital social worker", "local_authority", "social workers are the council's"),
        ("Social worker, Birmingham Children's Hospital", "local_authority", "... wherever"),
        ("Named nurse, Birmingham Children's Hospital", "health", "'children's' alone is no LA"),
        (
            "Birmingham Women's and Children's NHS Foundation Trust",
            "health",
            "not a children's trust",
        ),
        ("CAMHS school in-reach team", "health", "health before schools"),
        ("Health and Social Care Trust", "health", "health before 'social care'"),
        ("Virtual School, Solihull Council", "local_authority", "the virtual school is the LA's"),
        ("Oak Tree Nursery", "school", "'nursery' is not 'nurse'"),
        ("Safeguarding policy team", "other", "'policy' is not 'police'"),
        ("Practice manager", "other", "'practice' alone is not a GP"),
        ("Designated Safeguarding Lead", "other", "DSLs are in every agency"),
        ("Head of Service", "other", "not a headteacher"),
        ("Hospitality and catering", "other", "keywords match whole words only"),
    ],
)
def test_tricky_texts(text: str, kind: str, why: str) -> None:
    assert agency_type_from_text(text) == kind, why


def test_gps_plural_is_health() -> None:
    assert agency_type_from_text("Local GPs") == "health"


@pytest.mark.parametrize(
    "text", [None, "", "   ", "-", "—", "N/A", "n/a", "None", "Not known", "unknown", "TBC"]
)
def test_empty_or_placeholder_is_not_recorded(text: str | None) -> None:
    assert agency_type_from_text(text) == NOT_RECORDED


def test_every_answer_is_a_type_with_a_label_and_never_the_text() -> None:
    texts = ["St Mary's Primary School", "Jo Bloggs", "", "Eastmoor Police", "x" * 10_000]
    for text in texts:
        kind = agency_type_from_text(text)
        assert kind in (*AGENCY_TYPES, NOT_RECORDED) and kind in AGENCY_LABELS


@pytest.mark.parametrize(
    ("raiser_agency", "address", "kind"),
    [
        # the form's text wins when it names a kind ...
        ("St Mary's Primary School", "head@solihull.gov.uk", "school"),
        ("Health visitor", "hv@solihull.gov.uk", "health"),
        ("West Midlands Police, Public Protection Unit", "x@gmail.com", "police"),
        # ... else the email domain, as before the form was read
        (None, "head@oakfield.example.sch.uk", "school"),
        ("", "sw@solihull.gov.uk", "local_authority"),
        ("N/A", "a.b@uhb.nhs.uk", "health"),
        ("Pastoral team", "head@oakfield.example.sch.uk", "school"),
        ("Barnardo's", "x@barnardos.org.uk", "other"),
        (None, None, "other"),
    ],
)
def test_raising_agency_prefers_the_form(
    raiser_agency: str | None, address: str | None, kind: str
) -> None:
    assert raising_agency_type(agency_type_from_text(raiser_agency), address) == kind
