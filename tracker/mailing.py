"""Outgoing mail decided by the intake: notices, secure routes, and their outbox rows.

Every mail is rendered from case metadata (never from the incoming message),
given its Message-ID and queued as an outbox row, a ``messages`` row (so a
copy coming back to a watched mailbox is recognised as ours) and a timeline
line, all in the same transaction as the case change that caused it. Content
that may identify a child goes only to an address in a secure domain over
verified TLS; otherwise a version without it goes and the business manager
is told the secure route is missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.classify import Policy
from tracker.batch import LONDON, CaseRef, Intent, Plan, event_row
from tracker.config import Config
from tracker.notify import Renderer, render_mail
from tracker.rules.engine import Effects, Notice
from tracker.rules.partnerships import Partnership


def local_text(t: datetime) -> str:
    return t.astimezone(LONDON).strftime("%A %d %B %Y, %H:%M")


def child_of(plan: Plan, case: CaseRef) -> dict[str, Any] | None:
    """The case's child identifiers, including any this very message recorded."""
    if plan.child is not None and plan.child["case"] is case:
        return {k: plan.child[k] for k in ("name", "dob", "local_ref")}
    return case.child


class Mailer:
    def __init__(self, config: Config, renderer: Renderer, policy: Policy) -> None:
        self.config = config
        self.renderer = renderer
        self.policy = policy

    def context(self, case: CaseRef, partnership: Partnership, fx: Effects) -> dict[str, Any]:
        """What a notification template may show: case metadata only."""
        st = fx.state
        proc = partnership.engine.rule_file
        track = proc.track(st.track)
        stage = track.stage(st.stage)
        due = next((d for d in reversed(fx.deadlines)), None)
        return {
            "reference": case.reference,
            "partnership_name": partnership.display_name,
            "stage": st.stage,
            "stage_name": stage.name if stage else "",
            "stage_count": len(track.stages),
            "track": st.track,
            "track_label": track.label,
            "flags": [proc.flags[f].label if f in proc.flags else f for f in sorted(st.flags)],
            "category": st.category,
            "status": st.status,
            "raised_by": st.raised_by,
            "due_local": local_text(due.due_at) if due and due.due_at else None,
            "due_explanation": due.explanation if due else None,
            "opened_local": local_text(st.opened_at),
            "advice": [a for k, a in fx.events if k == "advice"],
        }

    def queue_notice(
        self,
        plan: Plan,
        case: CaseRef,
        partnership: Partnership,
        fx: Effects,
        notice: Notice,
        now: datetime,
    ) -> None:
        """Queue one notification to each of its roles, secure content only over a secure route."""
        context = self.context(case, partnership, fx)
        for role in notice.roles:
            to = fx.state.raised_by if role == "raiser" else partnership.role_address(role)
            if not to:
                plan.events.append(
                    event_row(
                        case, None, now, "not-sent", f"{notice.name}: no address for role {role}"
                    )
                )
                continue
            secure = self.config.is_secure_route(to)
            if notice.content == "identifiers" and not secure:
                plan.events.append(
                    event_row(
                        case,
                        None,
                        now,
                        "secure-route-missing",
                        f"{notice.name} to {to}: not a secure-domain address over verified TLS; "
                        "sent without identifiers",
                    )
                )
                self.secure_route_missing(plan, case, partnership, notice, to, context, now)
            self.queue_mail(
                plan,
                case,
                partnership,
                kind=notice.name,
                intent=f"notify:{{id}}:{notice.key}/{role}",
                to=to,
                template=notice.template,
                context={
                    **context,
                    "child": child_of(plan, case)
                    if secure and notice.content == "identifiers"
                    else None,
                    "secure": secure and notice.content == "identifiers",
                    "role": role,
                    "trigger": notice.trigger,
                },
                automatic=role == "raiser",
                now=now,
            )

    def secure_route_missing(
        self,
        plan: Plan,
        case: CaseRef,
        partnership: Partnership,
        notice: Notice,
        to: str,
        context: dict[str, Any],
        now: datetime,
    ) -> None:
        bm = partnership.role_address("business_manager")
        if not bm or bm == to or not self.config.is_secure_route(bm):
            return
        self.queue_mail(
            plan,
            case,
            partnership,
            kind="secure-route-missing",
            intent=f"notify:{{id}}:secure-route-missing/{notice.key}",
            to=bm,
            template="business_manager/secure_route_missing",
            context={**context, "notification": notice.name, "recipient": to},
            automatic=False,
            now=now,
        )

    def queue_mail(
        self,
        plan: Plan,
        case: CaseRef,
        partnership: Partnership,
        *,
        kind: str,
        intent: str,
        to: str,
        template: str,
        context: dict[str, Any],
        automatic: bool,
        now: datetime,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
        reply_to: str | None = None,
    ) -> bool:
        """Render one mail into the outbox, with its Message row and a timeline line."""
        if to in self.policy.own_addresses and automatic:
            plan.events.append(event_row(case, None, now, "not-sent", f"{kind}: {to} is our own"))
            return False
        from_addr = self.config.outgoing.from_address
        mail = render_mail(
            self.renderer,
            partnership=partnership.name,
            template=template,
            context=context,
            kind=kind,
            reference=case.reference,
            from_addr=from_addr,
            to=to,
            date=now,
            reply_to=reply_to or partnership.role_address("business_manager"),
            in_reply_to=in_reply_to,
            references=references,
        )
        plan.outbox.append(
            {
                "intent": Intent(intent, case),
                "case": case,
                "kind": kind,
                "message_id": mail.message_id,
                "envelope_from": from_addr,
                "recipients": [to],
                "rate_key": to.lower(),
                "data": mail.data,
                "automatic": automatic,
                "state": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
        plan.messages.append(
            {
                "case": case,
                "raw_id": None,
                "direction": "out",
                "message_id": mail.message_id,
                "content_hash": None,
                "from_addr": from_addr,
                "at": now,
                "verdict": "own",
                "threaded_via": None,
            }
        )
        plan.seen_ids.append((mail.message_id, "out", case))
        plan.events.append(
            event_row(
                case, None, now, f"{kind}-queued", f"{kind} <{mail.message_id}> queued to {to}"
            )
        )
        return True
