"""The mail a decision sends: the acknowledgement, notices, and the secure-route warning.

Every mail is rendered from case metadata (never from the incoming message)
and given its Message-ID here, so a copy coming back to a watched mailbox is
recognised as ours even within the same batch. Content that may identify a
child goes only to an address in a secure domain over verified TLS;
otherwise a version without it goes and the business manager is told the
secure route is missing. Automatic mail never goes to one of the tracker's
own addresses (checked here, once, for every mail). Pure: returns
:class:`~tracker.intake.decision.Changes`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tracker.intake.context import Context
from tracker.intake.decision import Changes, Line, PlannedMail
from tracker.intake.snapshot import OUTSIDER_KIND
from tracker.kinds import EventKind
from tracker.notify import render_mail
from tracker.rules.engine import Effects, Notice
from tracker.rules.partnerships import Partnership

__all__ = [
    "compose",
    "local_text",
    "notices",
    "outsider_notice",
    "resolution_notices",
    "template_context",
]

LONDON = ZoneInfo("Europe/London")


def local_text(t: datetime) -> str:
    return t.astimezone(LONDON).strftime("%A %d %B %Y, %H:%M")


def template_context(reference: str, partnership: Partnership, fx: Effects) -> dict[str, Any]:
    """What a notification template may show: case metadata only."""
    st = fx.state
    rules = partnership.engine.rule_file
    track = rules.track(st.track)
    stage = track.stage(st.stage)
    due = next((d for d in reversed(fx.deadlines)), None)
    return {
        "reference": reference,
        "partnership_name": partnership.display_name,
        "stage": st.stage,
        "stage_name": stage.name if stage else "",
        "stage_count": len(track.stages),
        "track": st.track,
        "track_label": track.label,
        "flags": [rules.flags[f].label if f in rules.flags else f for f in sorted(st.flags)],
        "category": st.category,
        "status": st.status,
        "raised_by": st.raised_by,
        "due_local": local_text(due.due_at) if due and due.due_at else None,
        "due_explanation": due.explanation if due else None,
        "opened_local": local_text(st.opened_at),
        "advice": [a for k, a in fx.events if k == EventKind.ADVICE],
    }


def notices(
    ctx: Context,
    *,
    case: int,
    reference: str,
    partnership: Partnership,
    fx: Effects,
    child: Mapping[str, str | None] | None,
) -> Changes:
    """Each notice the rules ask for, to each of its roles; identifiers only over a secure route.

    ``child`` is the case's child as known after this message (it may have
    recorded the child just now).
    """
    out = Changes()
    context = template_context(reference, partnership, fx)
    for notice in fx.notices:
        for role in notice.roles:
            out += _notice(ctx, case, reference, partnership, fx, notice, role, context, child)
    return out


def _notice(
    ctx: Context,
    case: int,
    reference: str,
    partnership: Partnership,
    fx: Effects,
    notice: Notice,
    role: str,
    context: dict[str, Any],
    child: Mapping[str, str | None] | None,
) -> Changes:
    to = fx.state.raised_by if role == "raiser" else partnership.role_address(role)
    if not to:
        detail = f"{notice.name}: no address for role {role}"
        return Changes(lines=(Line(case, None, EventKind.NOT_SENT, detail),))
    secure = ctx.config.is_secure_route(to)
    identifiers = notice.content == "identifiers"
    out = Changes()
    if identifiers and not secure:
        detail = (
            f"{notice.name} to {to}: not a secure-domain address over verified TLS; "
            "sent without identifiers"
        )
        out += Changes(lines=(Line(case, None, EventKind.SECURE_ROUTE_MISSING, detail),))
        bm = partnership.role_address("business_manager")
        if bm and bm != to and ctx.config.is_secure_route(bm):
            out += compose(
                ctx,
                case=case,
                reference=reference,
                partnership=partnership,
                kind="secure-route-missing",
                intent=f"notify:{{case}}:secure-route-missing/{notice.key}",
                to=bm,
                template="business_manager/secure_route_missing",
                context={**context, "notification": notice.name, "recipient": to},
                automatic=False,
            )
    return out + compose(
        ctx,
        case=case,
        reference=reference,
        partnership=partnership,
        kind=notice.name,
        intent=f"notify:{{case}}:{notice.key}/{role}",
        to=to,
        template=notice.template,
        context={
            **context,
            "child": dict(child) if child is not None and secure and identifiers else None,
            "secure": secure and identifiers,
            "role": role,
            "trigger": notice.trigger,
        },
        automatic=role == "raiser",
    )


#: Flags that bring the Independent Reviewing Officer in (as the procedures' IRO notices do).
IRO_FLAGS = frozenset({"cp_plan", "looked_after"})


def resolution_notices(
    ctx: Context,
    *,
    case: int,
    reference: str,
    partnership: Partnership,
    fx: Effects,
    resolved_by: str,
    raw_id: int,
) -> Changes:
    """A resolution is always told: the raiser, the business manager, the IRO if flagged.

    Metadata only (who resolved it and when), whatever the route: a resolution
    needs no identifiers. One mail per role per resolving message.
    """
    roles = ["raiser", "business_manager"]
    if fx.state.flags & IRO_FLAGS:
        roles.append("iro")
    context = {
        **template_context(reference, partnership, fx),
        "resolved_by": resolved_by,
        "resolved_local": local_text(fx.at),
    }
    out = Changes()
    seen: set[str] = set()
    for role in roles:
        to = fx.state.raised_by if role == "raiser" else partnership.role_address(role)
        if not to or to.lower() in seen:
            continue
        seen.add(to.lower())
        out += compose(
            ctx,
            case=case,
            reference=reference,
            partnership=partnership,
            kind="resolved",
            intent=f"resolved:{{case}}/{role}/{raw_id}",
            to=to,
            template="case/resolved",
            context={**context, "role": role},
            automatic=role == "raiser",
        )
    return out


def outsider_notice(
    ctx: Context,
    *,
    case: int,
    reference: str,
    partnership: Partnership,
    sender: str,
    told: Collection[str],
) -> Changes:
    """Tell the business manager, once per case and sender, that someone outside the case wrote.

    ``told`` holds the senders already told about (as keys). The mail carries
    the reference only; who wrote and when is on the case's timeline.
    """
    bm = partnership.role_address("business_manager")
    key = hashlib.sha256(sender.lower().encode()).hexdigest()[:16]
    if not bm or key in told:
        return Changes()
    return compose(
        ctx,
        case=case,
        reference=reference,
        partnership=partnership,
        kind=OUTSIDER_KIND,
        intent=f"outsider:{{case}}:{key}",
        to=bm,
        template="business_manager/outsider",
        context={"reference": reference, "partnership_name": partnership.display_name},
        automatic=False,
    )


def compose(
    ctx: Context,
    *,
    case: int,
    reference: str,
    partnership: Partnership,
    kind: str,
    intent: str,
    to: str,
    template: str,
    context: Mapping[str, object],
    automatic: bool,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    reply_to: str | None = None,
) -> Changes:
    """Render one mail for the outbox, or a ``not-sent`` line if it must not go."""
    if automatic and to.lower() in ctx.own_addresses:
        detail = f"{kind}: {to} is one of the tracker's own addresses"
        return Changes(lines=(Line(case, None, EventKind.NOT_SENT, detail),))
    from_addr = ctx.config.outgoing.from_address
    mail = render_mail(
        ctx.renderer,
        partnership=partnership.name,
        template=template,
        context=context,
        kind=kind,
        reference=reference,
        from_addr=from_addr,
        to=to,
        date=ctx.now,
        reply_to=reply_to or partnership.role_address("business_manager"),
        in_reply_to=in_reply_to,
        references=references,
    )
    planned = PlannedMail(case, kind, intent, to, mail.message_id, from_addr, mail.data, automatic)
    return Changes(mails=(planned,))
