"""decide() from literal snapshots: every outcome, with no database, mailbox or clock.

The messages are written as a practitioner, a business manager or a robot
would send them; the snapshot says what the database is taken to hold.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from ingest.classify import Classification, Verdict
from ingest.forms import Extraction
from ingest.forms.types import FieldValue
from ingest.parse.types import Address
from tests.helpers import make_email
from tracker.intake import CaseView, Context, Snapshot, Work, decide, decide_all
from tracker.kinds import EventKind, Outcome
from tracker.rules.engine import CaseState, OpenDeadline
from tracker.rules.partnerships import Partnerships

RECEIVED = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
PERSON = Classification(Verdict.PERSON, "a person's message", ())
AUTHENTICATED = Classification(
    Verdict.PERSON, "a person's message", (), authenticated=True, origin="dmarc=pass"
)
PRACTITIONER = "p.shah@oakfield.example.sch.uk"
STAFF = "r.khan@solihull.gov.uk"  # staff in the embedded configuration


def work(
    raw_id: int = 1,
    *,
    classification: Classification = PERSON,
    forms: Extraction | None = None,
    mailbox: str = "sscp",
    **email: Any,
) -> Work:
    email.setdefault("from_", Address("Priya Shah", PRACTITIONER))
    return Work(
        raw_id=raw_id,
        mailbox=mailbox,
        received_at=RECEIVED,
        email=make_email(**email),
        classification=classification,
        forms=forms,
    )


def stored_case(
    key: int = 7, *, stage: int = 1, flags: frozenset[str] = frozenset(), **kw: Any
) -> CaseView:
    opened = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    state = CaseState(
        reference="SSCP-2026-0007",
        track="default",
        stage=stage,
        flags=flags,
        status="open",
        category=None,
        opened_at=opened,
        stage_entered_at=opened,
        raised_by=PRACTITIONER,
    )
    return CaseView(
        key=key,
        reference="SSCP-2026-0007",
        partnership="solihull",
        state=state,
        open_deadlines=(OpenDeadline(40, stage, datetime(2026, 11, 11, 17, 0, tzinfo=UTC)),),
        **kw,
    )


def with_case(case: CaseView, **kw: Any) -> Snapshot:
    snap = Snapshot(cases={case.key: case}, by_ref={case.reference: case.key}, **kw)
    return snap


def kinds(d: Any) -> list[str]:
    return [line.kind for line in d.changes.lines]


# -- triage ------------------------------------------------------------------------


def test_already_done_by_another_daemon_writes_nothing(ctx: Context) -> None:
    from tracker.intake import Result

    earlier = Result(1, Outcome.CASE, "opened SSCP-2026-0001", "SSCP-2026-0001")
    d = decide(work(), Snapshot(done={1: earlier}), ctx)
    assert d.already_done and d.result == earlier


def test_unparseable_is_quarantined_with_its_reason(ctx: Context) -> None:
    w = Work(1, "sscp", RECEIVED, None, parse_error="cannot parse: empty message")
    d = decide(w, Snapshot(), ctx)
    assert d.result.outcome is Outcome.QUARANTINED
    assert d.result.reason == "cannot parse: empty message"
    assert kinds(d) == [EventKind.QUARANTINED] and d.changes.lines[0].case is None


def test_duplicate_message_id_is_ignored_and_noted_on_its_case(ctx: Context) -> None:
    snap = with_case(stored_case(), by_mid={"m1@example.org": ("in", 7)})
    d = decide(work(message_id="m1@example.org"), snap, ctx)
    assert d.result.outcome is Outcome.IGNORED
    assert d.result.reason.startswith("duplicate: same Message-ID")
    assert [(x.case, x.kind) for x in d.changes.lines] == [(7, "ignored")]
    assert d.message is None and not d.changes.mails


def test_duplicate_content_without_message_id(ctx: Context) -> None:
    snap = Snapshot(by_hash={"a" * 64: None})
    d = decide(work(message_id=None, content_hash="a" * 64), snap, ctx)
    assert d.result.outcome is Outcome.IGNORED
    assert d.result.reason.startswith("duplicate: same content")


def test_our_own_mail_coming_back(ctx: Context) -> None:
    snap = Snapshot(by_mid={"ack.1@solihull.gov.uk": ("out", None)})
    d = decide(work(message_id="ack.1@solihull.gov.uk", mailbox="cpru"), snap, ctx)
    assert d.result.outcome is Outcome.IGNORED
    assert d.result.reason.startswith("own mail: our outgoing <ack.1@solihull.gov.uk>")


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [
        (Verdict.AUTO_REPLY, "auto-reply: Auto-Submitted: auto-replied"),
        (Verdict.BOUNCE, "bounce: multipart/report; report-type=delivery-status"),
        (Verdict.BULK, "bulk: Precedence: bulk"),
        (Verdict.OWN, "own mail: our tracking header"),
    ],
)
def test_robots_are_ignored_never_answered(ctx: Context, verdict: Verdict, reason: str) -> None:
    case = stored_case()
    w = work(
        classification=Classification(verdict, reason, ()),
        subject="Automatic reply: [SSCP-2026-0007] Escalation received",
    )
    d = decide(w, with_case(case), ctx)
    assert d.result.outcome is Outcome.IGNORED and d.result.reason == reason
    assert not d.changes.mails and d.new_case is None and d.changes.case_change is None
    assert [(x.case, x.kind) for x in d.changes.lines] == [(7, "ignored")]
    assert d.message is not None and d.message.verdict == verdict.value


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [
        (Verdict.SUSPICIOUS, "From imitates solihull.gov.uk"),
        (Verdict.NO_SENDER, "no usable From address"),
    ],
)
def test_suspicious_and_senderless_are_held(ctx: Context, verdict: Verdict, reason: str) -> None:
    d = decide(work(classification=Classification(verdict, reason, ())), Snapshot(), ctx)
    assert d.result.outcome is Outcome.QUARANTINED
    assert d.result.reason == f"held for review: {reason}"
    assert not d.changes.mails and d.new_case is None


# -- a new case ----------------------------------------------------------------------


def test_new_case_opens_with_deadline_and_acknowledgement(ctx: Context) -> None:
    d = decide(work(subject="Escalation about a child"), Snapshot(), ctx)
    assert d.result.outcome is Outcome.CASE and d.result.acknowledged
    assert d.result.reference == "SSCP-2026-0001"
    assert d.new_case is not None and d.new_case.key == -1 and d.new_case.number == 1
    assert d.new_case.raised_by == PRACTITIONER
    assert kinds(d)[:2] == ["opened", "ladder"] and "deadline" in kinds(d)
    [ack] = d.changes.mails
    assert (ack.kind, ack.to, ack.intent, ack.automatic) == (
        "ack",
        PRACTITIONER,
        "ack:{case}",
        True,
    )
    assert b"[SSCP-2026-0001]" in ack.data and b"In-Reply-To: <m1@example.org>" in ack.data
    [opened] = d.changes.opened
    assert opened.key == -1 and opened.spec.stage == 1
    assert d.changes.case_change is not None and d.changes.case_change.state.stage == 1


def test_reference_numbers_continue_from_the_snapshot(ctx: Context) -> None:
    d = decide(work(), Snapshot(sequences={("SSCP", 2026): 41}), ctx)
    assert d.result.reference == "SSCP-2026-0042"


def test_rate_limited_sender_gets_no_acknowledgement(ctx: Context) -> None:
    limit = ctx.config.limits.auto_mail_per_sender_per_hour
    d = decide(work(), Snapshot(auto_counts={PRACTITIONER: limit}), ctx)
    assert d.result.outcome is Outcome.CASE and not d.result.acknowledged
    assert not any(m.kind == "ack" for m in d.changes.mails)
    assert "ack-skipped" in kinds(d)


def test_shared_mailbox_cannot_tell_the_partnership(ctx: Context) -> None:
    shared = ctx.config.mailbox[0].model_copy(update={"partnership": ["solihull", "merton"]})
    merton = ctx.config.partnerships["solihull"].model_copy(update={"staff": []})
    config = ctx.config.model_copy(
        update={
            "mailbox": [shared, *ctx.config.mailbox[1:]],
            "partnerships": {**ctx.config.partnerships, "merton": merton},
        }
    )
    other = replace(ctx, config=config, partnerships=Partnerships.from_config(config))
    d = decide(work(to=(Address("", "someone@else.example"),)), Snapshot(), other)
    assert d.result.outcome is Outcome.QUARANTINED
    assert "cannot tell which partnership" in d.result.reason
    assert "serves solihull, merton" in d.result.reason


def test_forms_record_fields_and_the_child_apart(ctx: Context) -> None:
    forms = Extraction(
        fields={
            "concern": FieldValue("concern", "Case closed too early", "body", 0.9),
            "child_name": FieldValue("child_name", "Leo Hartley", "body", 0.9),
            "child_dob": FieldValue("child_dob", "02/03/2016", "body", 0.9),
        },
        conflicts=(),
        attachments=(),
        original_sender=None,
        original_date=None,
    )
    d = decide(work(forms=forms), Snapshot(), ctx)
    assert [f.name for f in d.changes.fields] == ["concern"]
    child = d.changes.child
    assert child is not None and child.name == "Leo Hartley" and child.dob == "2016-03-02"
    assert child.child_key
    for line in d.changes.lines:
        assert "Leo" not in line.detail and "2016" not in line.detail.split("received")[0]
    for mail in d.changes.mails:
        assert b"Leo" not in mail.data


# -- a follow-up ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "email", "via"),
    [
        ("in-reply-to", {"in_reply_to": ("ack.7@solihull.gov.uk",)}, "in-reply-to"),
        ("references", {"references": ("x@y", "ack.7@solihull.gov.uk")}, "references"),
        ("subject", {"subject": "RE: [SSCP-2026-0007] Escalation received"}, "subject"),
        ("body", {"text": "> Your reference is SSCP-2026-0007.\n"}, "body"),
    ],
)
def test_a_reply_threads_by_each_route(
    ctx: Context, how: str, email: dict[str, Any], via: str
) -> None:
    snap = with_case(stored_case(), by_mid={"ack.7@solihull.gov.uk": ("out", 7)})
    d = decide(work(message_id=f"{how}@school", **email), snap, ctx)
    assert d.result.outcome is Outcome.THREAD and d.result.reference == "SSCP-2026-0007"
    assert d.message is not None and (d.message.case, d.message.threaded_via) == (7, via)
    assert kinds(d) == ["message-in"]
    assert d.changes.case_change is None and not d.changes.mails


def test_a_stage_move_closes_the_deadline_and_opens_the_next(ctx: Context) -> None:
    text = "We are now escalating this to the next managerial level."
    w = work(subject="RE: [SSCP-2026-0007]", new_text=text, text=text)
    d = decide(w, with_case(stored_case()), ctx)
    change = d.changes.case_change
    assert change is not None and change.case == 7 and change.state.stage == 2
    assert [(c.key, c.state) for c in d.changes.closed] == [(40, "met")]
    [opened] = d.changes.opened
    assert opened.case == 7 and opened.spec.stage == 2
    assert "stage" in kinds(d)
    assert {m.kind for m in d.changes.mails} >= {"bm_evidence", "stage_confirmation"}


def test_a_child_protection_plan_notifies_the_iro_securely(ctx: Context) -> None:
    text = "Please note the child is subject to a child protection plan."
    w = work(subject="RE: [SSCP-2026-0007]", new_text=text, text=text)
    case = stored_case(child={"name": "Leo Hartley", "dob": "2016-03-02", "local_ref": None})
    d = decide(w, with_case(case), ctx)
    assert d.changes.case_change is not None
    assert "cp_plan" in d.changes.case_change.state.flags
    [iro] = [m for m in d.changes.mails if m.kind == "iro_secure"]
    assert iro.to == "cpru@solihull.gov.uk" and iro.intent == "notify:{case}:iro_secure:s1/iro"
    mail = message_from_bytes(iro.data, policy=policy.default)
    assert "Leo" not in str(mail["Subject"])
    assert "Leo Hartley" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_command_from_outside_staff_is_recorded_not_applied(ctx: Context) -> None:
    text = "Stage: 1\n"
    w = work(subject="RE: [SSCP-2026-0007]", new_text=text, text=text)
    d = decide(w, with_case(stored_case(stage=2)), ctx)
    assert "not-applied" in kinds(d)
    change = d.changes.case_change
    assert change is None or change.state.stage == 2


def test_staff_may_move_a_case_back(ctx: Context) -> None:
    text = "Stage: 1\n"
    w = work(
        subject="RE: [SSCP-2026-0007]",
        new_text=text,
        text=text,
        from_=Address("R Khan", STAFF),
        classification=AUTHENTICATED,
    )
    d = decide(w, with_case(stored_case(stage=2)), ctx)
    assert d.changes.case_change is not None and d.changes.case_change.state.stage == 1


# -- who may change a case (issue 10) --------------------------------------------------

COPIED = "team.manager@oakfield.example.sch.uk"
CHALLENGED = "sw.manager@socialcare.example.gov.uk"


def participants_case(**kw: Any) -> CaseView:
    return stored_case(
        participants={PRACTITIONER: "raiser", CHALLENGED: "addressed", COPIED: "copied"}, **kw
    )


def reply(sender: str, text: str, **kw: Any) -> Work:
    return work(
        subject="RE: [SSCP-2026-0007] Escalation received",
        new_text=text,
        text=text,
        from_=Address("", sender),
        **kw,
    )


@pytest.mark.parametrize(
    ("sender", "text"),
    [
        ("stranger@evil.example", "Status: resolved"),
        ("stranger@evil.example", "Good news: this has now been resolved."),
        ("stranger@evil.example", "Stage: 4\nFlag: looked_after"),
        # A staff address without authenticated origin is nobody in particular.
        (STAFF, "Flag: -cp_plan\nStage: 1"),
        ("sscp@solihull.gov.uk", "Status: resolved"),
    ],
)
def test_outsiders_change_nothing_and_the_business_manager_is_told(
    ctx: Context, sender: str, text: str
) -> None:
    case = participants_case(stage=2, flags=frozenset({"cp_plan"}))
    d = decide(reply(sender, text), with_case(case), ctx)
    assert d.result.outcome is Outcome.THREAD
    assert d.changes.case_change is None and not d.changes.closed and not d.changes.opened
    assert not d.changes.fields and d.changes.child is None and not d.changes.participants
    assert kinds(d) == ["message-in", "unverified"]
    [notice] = d.changes.mails
    assert (notice.kind, notice.to) == ("outsider", "sscp@solihull.gov.uk")
    assert notice.intent.startswith("outsider:{case}:")
    assert text.split("\n")[0].encode() not in notice.data  # the reference only


def test_the_business_manager_is_told_once_per_outsider(ctx: Context) -> None:
    case = participants_case()
    first = decide_all(
        [
            reply("stranger@evil.example", "Status: resolved"),
            reply("stranger@evil.example", "Stage: 4", raw_id=2, message_id="m2@evil.example"),
        ],
        with_case(case),
        ctx,
    )
    assert [len(d.changes.mails) for d in first] == [1, 0]
    assert [x.kind for x in first[1].changes.lines] == ["message-in", "unverified"]
    # Told in an earlier batch: the outbox holds its intent, and the snapshot knows it.
    key = first[0].changes.mails[0].intent.rpartition(":")[2]
    told = with_case(participants_case(outsiders_told=frozenset({key})))
    again = decide(reply("stranger@evil.example", "Stage: 4", raw_id=3), told, ctx)
    assert not again.changes.mails


def test_someone_copied_in_may_move_the_stage_on_but_not_resolve(ctx: Context) -> None:
    text = "We are now escalating this to the next managerial level.\nStatus: resolved\n"
    d = decide(reply(COPIED, text), with_case(participants_case()), ctx)
    change = d.changes.case_change
    assert change is not None and change.state.stage == 2 and change.state.status == "open"
    refused = [x.detail for x in d.changes.lines if x.kind == "not-applied"]
    assert refused and "only the raiser, the party challenged" in refused[0]


def test_the_raisers_resolution_is_told_to_raiser_bm_and_iro(ctx: Context) -> None:
    case = participants_case(flags=frozenset({"cp_plan"}))
    text = "Thank you, the matter has now been resolved."
    d = decide(reply(PRACTITIONER, text), with_case(case), ctx)
    assert d.changes.case_change is not None
    assert d.changes.case_change.state.status == "resolved"
    told = sorted(m.to for m in d.changes.mails if m.kind == "resolved")
    assert told == ["cpru@solihull.gov.uk", PRACTITIONER, "sscp@solihull.gov.uk"]
    body = message_from_bytes(d.changes.mails[0].data, policy=policy.default)
    assert PRACTITIONER in body.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_the_party_challenged_may_resolve(ctx: Context) -> None:
    d = decide(reply(CHALLENGED, "Status: resolved"), with_case(participants_case()), ctx)
    assert d.changes.case_change is not None
    assert d.changes.case_change.state.status == "resolved"


def test_a_participant_copying_someone_in_makes_them_a_participant(ctx: Context) -> None:
    w = reply(COPIED, "Adding our safeguarding lead.", cc=(Address("", "dsl@school.example"),))
    d = decide(w, with_case(participants_case()), ctx)
    assert [(p.address, p.role) for p in d.changes.participants] == [
        ("dsl@school.example", "added")
    ]


def test_a_quoted_command_in_a_form_field_does_not_act(ctx: Context) -> None:
    quoted = Extraction(
        fields={
            "concern": FieldValue("concern", "Flag: -cp_plan\nStatus: resolved", "forwarded:1", 0.9)
        },
        conflicts=(),
        attachments=(),
        original_sender=None,
        original_date=None,
    )
    w = reply(STAFF, "Noted, thank you.", forms=quoted, classification=AUTHENTICATED)
    case = participants_case(flags=frozenset({"cp_plan"}))
    d = decide(w, with_case(case), ctx)
    assert d.changes.case_change is None
    assert "not-applied" not in kinds(d)


def test_the_escalations_people_become_participants(ctx: Context) -> None:
    w = work(
        to=(Address("", "sscp@solihull.gov.uk"), Address("", CHALLENGED)),
        cc=(Address("", COPIED), Address("", "cpru@solihull.gov.uk")),
    )
    d = decide(w, Snapshot(), ctx)
    assert sorted((p.address, p.role) for p in d.changes.participants) == sorted(
        [(PRACTITIONER, "raiser"), (CHALLENGED, "addressed"), (COPIED, "copied")]
    )


# -- a batch -------------------------------------------------------------------------


def test_a_reply_right_behind_its_escalation_threads_into_it(ctx: Context) -> None:
    reply = work(2, message_id="m2@school", in_reply_to=("m1@example.org",), subject="RE: more")
    both = decide_all([work(1), reply], Snapshot(), ctx)
    assert [d.result.outcome for d in both] == [Outcome.CASE, Outcome.THREAD]
    assert both[1].result.reference == "SSCP-2026-0001"
    assert both[1].message is not None and both[1].message.case == -1


def test_two_escalations_in_a_batch_take_consecutive_numbers(ctx: Context) -> None:
    both = decide_all([work(1), work(2, message_id="m2@school")], Snapshot(), ctx)
    assert [d.result.reference for d in both] == ["SSCP-2026-0001", "SSCP-2026-0002"]
    assert [d.new_case.key for d in both if d.new_case] == [-1, -2]


def test_the_same_message_twice_in_a_batch_is_decided_once(ctx: Context) -> None:
    both = decide_all([work(1), work(1)], Snapshot(), ctx)
    assert both[1].already_done and both[1].result == both[0].result


def test_a_bug_deciding_one_message_quarantines_only_that_one(ctx: Context) -> None:
    broken = work(1, mailbox="gone")  # a mailbox no longer configured raises while deciding
    both = decide_all([broken, work(2, message_id="m2@school")], Snapshot(), ctx)
    assert both[0].result.outcome is Outcome.QUARANTINED
    assert both[0].result.reason == "processing failed: LookupError"
    assert both[0].error and "LookupError" in both[0].error
    assert both[1].result.outcome is Outcome.CASE and both[1].result.reference == "SSCP-2026-0001"
