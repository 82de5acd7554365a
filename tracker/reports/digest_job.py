"""Building, previewing, queueing and scheduling business managers' digests.

A digest is queued like every other mail, by :func:`tracker.outbox.enqueue`:
the outbox row, its Message row and a timeline Event are written in one
transaction, under the unique intent ``digest:<partnership>:<kind>:<date>``,
so each period's digest goes out at most once however often the scheduler
fires, the daemon restarts or an operator runs ``tracker digest --send``.
Digests go to the partnership's business manager (the rule file's
``business_manager`` role) and only to a secure-domain address; otherwise
nothing is queued and the result says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker.config import Config, own_header_secret
from tracker.errors import ConfigError
from tracker.model import OutboxItem
from tracker.notify import neutral_subject, new_message_id
from tracker.outbox import OutgoingMail, enqueue
from tracker.reports import charts
from tracker.reports.digest import CHART_DAYS, Digest, build_digest
from tracker.reports.digest_mail import build_digest_mail, chart_cid
from tracker.reports.load import load_dataset
from tracker.reports.periods import (
    DEFAULT_CRON,
    DIGEST_KINDS,
    cron_trigger,
    digest_period,
    local_date,
    local_midnight,
)
from tracker.reports.render import (
    RenderedDigest,
    Templates,
    data_uri,
    digest_context,
    render_digest,
)
from tracker.reports.stats import WorkingDays
from tracker.rules.partnerships import Partnership, Partnerships
from tracker.store import Store

log = logging.getLogger(__name__)

#: The rule-file role that receives digests.
DIGEST_ROLE = "business_manager"


@dataclass(frozen=True)
class BuiltDigest:
    digest: Digest
    #: For the mail: the chart referenced as ``cid:``.
    mail: RenderedDigest
    #: For a browser: the same HTML with the chart inlined as a data URI.
    preview_html: str
    chart_png: bytes
    cid_token: str


@dataclass(frozen=True)
class DigestResult:
    #: ``queued`` | ``already-queued`` | ``nothing-new`` | ``refused``
    status: str
    message: str
    intent: str
    recipient: str | None = None


def schedule_of(config: Config, kind: str) -> str:
    """The crontab line for ``kind`` (the default one when the configuration schedules none)."""
    return str(getattr(config.digests, kind, "") or DEFAULT_CRON[kind])


def digest_partnerships(config: Config, partnerships: Partnerships) -> list[str]:
    names = config.digests.partnerships or sorted(partnerships.by_name)
    unknown = [n for n in names if n not in partnerships.by_name]
    if unknown:
        raise ConfigError(f"digests.partnerships: not configured: {', '.join(unknown)}")
    return list(names)


def recipient(p: Partnership, config: Config) -> tuple[str | None, str]:
    """``(address, "")`` or ``(None, why it cannot be sent)``."""
    address = p.role_address(DIGEST_ROLE)
    if not address:
        return None, f"the rule file for {p.name} names no {DIGEST_ROLE} mailbox"
    out = config.outgoing
    if out.transport == "smtp" and out.tls == "none":
        return None, "outgoing mail is sent without TLS (outgoing.tls = 'none')"
    if not config.is_secure_route(address):
        domains = ", ".join(config.security.secure_domains) or "none configured"
        return None, (
            f"the business manager's address {address} is not in a secure domain "
            f"(security.secure_domains: {domains})"
        )
    return address, ""


def stage_names(p: Partnership) -> dict[int, str]:
    proc = p.engine.rule_file
    return {s.number: s.name for s in proc.track(proc.default_track).stages}


def build(
    store: Store,
    p: Partnership,
    config: Config,
    kind: str,
    now: datetime,
    templates: Templates,
    *,
    cid_token: str = "digest@localhost",
) -> BuiltDigest:
    """Load, decide and render one digest (nothing is written)."""
    zone = p.engine.zone
    period = digest_period(kind, schedule_of(config, kind), zone, now)
    chart_from = local_midnight(
        local_date(period.end, zone) - timedelta(days=CHART_DAYS[kind] + 1), zone
    )
    with store.transaction() as s:
        data = load_dataset(s, partnership=p.name, since=min(period.start, chart_from))
    digest = build_digest(p.name, data, period, now, zone, WorkingDays(p.engine.calendar))
    names = stage_names(p)
    stages = sorted({*names, *(s for d in digest.trend for s, _ in d.by_stage)})
    png = charts.open_by_stage(digest.trend, stages, "Open cases by stage at the end of each day")
    common: dict[str, Any] = {
        "display_name": p.display_name,
        "zone": zone,
        "stage_names": names,
    }
    mail = render_digest(
        templates, p.name, digest_context(digest, chart_src=f"cid:{cid_token}", **common)
    )
    preview = render_digest(
        templates, p.name, digest_context(digest, chart_src=data_uri(png), **common)
    )
    return BuiltDigest(digest, mail, preview.html, png, cid_token)


def _mail_bytes(
    built: BuiltDigest, p: Partnership, config: Config, to: str, message_id: str, now: datetime
) -> bytes:
    return build_digest_mail(
        from_addr=config.outgoing.from_address,
        to=to,
        subject=neutral_subject(p.prefix, built.mail.subject),
        text=built.mail.text,
        html=built.mail.html,
        chart_png=built.chart_png,
        cid=built.cid_token,
        message_id=message_id,
        date=now,
        reply_to=None,
        tracker_header=f"{p.prefix}; kind=digest",
        own_key=own_header_secret(config),
    )


def preview(
    store: Store,
    partnerships: Partnerships,
    config: Config,
    partnership: str,
    kind: str,
    now: datetime,
    out_dir: Path,
) -> list[Path]:
    """Write the digest as ``.html`` (opens in a browser), ``.txt`` and ``.eml``."""
    p = partnerships[partnership]
    to, _ = recipient(p, config)
    message_id = new_message_id("digest", p.prefix, config.outgoing.from_address)
    built = build(
        store,
        p,
        config,
        kind,
        now,
        Templates(config.paths.templates_dir),
        cid_token=chart_cid(message_id),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"digest-{partnership}-{kind}-{built.digest.period.label}"
    paths = [stem.with_suffix(".html"), stem.with_suffix(".txt"), stem.with_suffix(".eml")]
    paths[0].write_text(built.preview_html, encoding="utf-8")
    paths[1].write_text(built.mail.text, encoding="utf-8")
    address = to or p.role_address(DIGEST_ROLE) or "business-manager@invalid"
    paths[2].write_bytes(_mail_bytes(built, p, config, address, message_id, now))
    return paths


def queue(
    store: Store,
    partnerships: Partnerships,
    config: Config,
    partnership: str,
    kind: str,
    now: datetime,
) -> DigestResult:
    """Queue this period's digest once, to the business manager over a secure route."""
    if kind not in DIGEST_KINDS:
        raise ConfigError(f"digest kind must be one of {', '.join(DIGEST_KINDS)}")
    p = partnerships[partnership]
    period = digest_period(kind, schedule_of(config, kind), p.engine.zone, now)
    intent = f"digest:{partnership}:{kind}:{period.label}"
    to, why = recipient(p, config)
    if to is None:
        return DigestResult("refused", f"not sent: {why}", intent)
    with store.transaction() as s:
        if s.scalar(select(OutboxItem.id).where(OutboxItem.intent == intent)) is not None:
            return DigestResult(
                "already-queued", f"already queued: {intent} (one digest per period)", intent, to
            )
    from_addr = config.outgoing.from_address
    message_id = new_message_id("digest", p.prefix, from_addr)
    built = build(
        store,
        p,
        config,
        kind,
        now,
        Templates(config.paths.templates_dir),
        cid_token=chart_cid(message_id),
    )
    if built.digest.is_empty and not config.digests.send_empty:
        return DigestResult(
            "nothing-new",
            "not sent: nothing new in the period (set digests.send_empty = true to send "
            "a short 'nothing new' digest)",
            intent,
            to,
        )
    data = _mail_bytes(built, p, config, to, message_id, now)
    mail = OutgoingMail(
        kind="digest",
        intent=intent,
        to=to,
        message_id=message_id,
        envelope_from=from_addr,
        data=data,
        automatic=False,
        detail=f"{kind} digest {period.label} for {partnership} <{message_id}> queued to {to}",
    )
    try:
        with store.transaction() as s:
            enqueue(s, [mail], now)
    except IntegrityError:
        return DigestResult("already-queued", f"already queued: {intent}", intent, to)
    log.info("digest queued: %s to %s", intent, to)
    return DigestResult("queued", f"queued {intent} to {to}", intent, to)


def add_jobs(
    scheduler: Any,
    config: Config,
    partnerships: Partnerships,
    run: Callable[[str, str], None],
) -> list[str]:
    """Schedule ``run(partnership, kind)`` on the digest crons (when digests are enabled).

    Fired late (daemon busy or restarted within the grace time) it still
    lands on the right period: the period comes from the schedule, not the firing.
    """
    if not config.digests.enabled:
        return []
    ids: list[str] = []
    for name in digest_partnerships(config, partnerships):
        zone = partnerships[name].engine.zone
        for kind in DIGEST_KINDS:
            expression = getattr(config.digests, kind)
            if not expression:
                continue
            job_id = f"digest-{name}-{kind}"
            scheduler.add_job(
                run,
                cron_trigger(expression, zone),
                args=(name, kind),
                id=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=6 * 3600,
            )
            ids.append(job_id)
    return ids
