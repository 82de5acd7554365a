"""Decide what kind of message a :class:`ParsedEmail` is, before threading; pure.

Only a person's message may open a case or be acknowledged: replying to an
out-of-office, a bounce or a mailing list starts mail loops, and replying to
a forged sender leaks case details. The checks run in a fixed order and the
first that matches decides the verdict, but every signal found is recorded,
so the case timeline can show why a message was treated as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from enum import StrEnum

from ingest.parse.lookalike import domain_skeleton, is_within, lookalike_signal
from ingest.parse.origin import (
    authenticated_origin,
    display_name_spoof,
    dmarc_fail,
    topmost_trusted,
)
from ingest.parse.types import ParsedEmail

__all__ = [
    "OWN_MAIL_HEADER",
    "Classification",
    "Policy",
    "Verdict",
    "classify",
    "domain_skeleton",
    "own_header_signature",
]

OWN_MAIL_HEADER = "X-Escalation-Tracker"
"""Every mail the tracker sends carries it: "SSCP-2026-0001; kind=ack; sig=<32 hex digits>".

``sig`` is :func:`own_header_signature` of the mail's Message-ID: anyone can
write the header, only we can sign it, so unsigned or wrongly signed it is
just a signal and the mail is judged like any other.
"""


def own_header_signature(key: bytes, message_id: str) -> str:
    """HMAC-SHA256 of the Message-ID (without angle brackets), first 32 hex digits."""
    digest = hmac.new(key, message_id.encode("utf-8", "surrogateescape"), hashlib.sha256)
    return digest.hexdigest()[:32]


class Verdict(StrEnum):
    PERSON = "person"  # A human's message: may open a case or thread into one.
    AUTO_REPLY = "auto-reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    OWN = "own"  # Our own outgoing mail come back into a watched mailbox.
    # Held in quarantine for review: forged or spoofed senders, and list or bulk
    # markers on mail that may be a real escalation.
    SUSPICIOUS = "suspicious"
    NO_SENDER = "no-sender"  # No usable From address: cannot be answered, quarantined.


_AUTOMATED = frozenset({Verdict.AUTO_REPLY, Verdict.BOUNCE, Verdict.BULK, Verdict.OWN})


@dataclass(frozen=True)
class Policy:
    """What the classifier needs to know about our side: whom to trust and whom to protect."""

    trusted_authserv_ids: frozenset[str] = frozenset()
    # Partnership and agency domains a look-alike may imitate.
    protected_domains: frozenset[str] = frozenset()
    # Our From address and the watched mailbox addresses, lower-case.
    own_addresses: frozenset[str] = frozenset()
    # The key of our header's signature (:func:`own_header_signature`); empty: none believed.
    own_header_key: bytes = field(default=b"", repr=False)
    # Hook for a mailbox that only receives through the trusted gateway: (header, value)
    # pairs whose topmost occurrence proves internal origin (Exchange's
    # ("x-ms-exchange-organization-authas", "internal")). Empty by default; give it
    # only in such a mailbox's policy, as anyone outside can write the header too.
    internal_origin: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Classification:
    """The verdict, one line saying why, and every signal that matched."""

    verdict: Verdict
    reason: str
    signals: tuple[str, ...]
    #: True only when our trusted gateway vouches for the From domain: the topmost
    #: Authentication-Results from a trusted authserv-id says ``dmarc=pass`` with
    #: ``header.from`` aligned with From (or the policy's internal-origin evidence).
    #: Staff commands by mail count only then.
    authenticated: bool = False
    #: Why ``authenticated`` is True ("dmarc=pass by mx1.example for x.example"), else "".
    origin: str = ""

    @property
    def automated(self) -> bool:
        """True for mail no person wrote: it must never be answered automatically."""
        return self.verdict in _AUTOMATED


# ---------------------------------------------------------------------------
# Signals

_DSN_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|delivery status notification|mail delivery failed"
    r"|returned mail|delivery failure|delivery has failed|failure notice|mail system error"
    r"|message not delivered|nondeliverable|non-delivery|unzustellbar|non remis|onbestelbaar"
    r"|olevererbart|unable to deliver|delivery notification: delivery has failed"
    r"|warning: could not send message)",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(?:matic)?[- ]?(?:reply|response)|out of (?:the )?office"
    r"|autosvar|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique"
    r"|respuesta autom[áa]tica|automatisch antwoord|absence)",
    re.IGNORECASE,
)
_BOUNCE_LOCALPARTS = ("mailer-daemon", "postmaster")
_BOUNCE_FROM_NAME = re.compile(
    r"^\W*(mailer-daemon|postmaster|mail delivery (?:sub)?system)\b", re.IGNORECASE
)


def _first_token(value: str) -> str:
    """The leading token of a header value, lower-cased, without comments or parameters."""
    return re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()


# Signals end up in reasons, timeline events and log lines, so a header's own
# text appears in them only when it is one of the machine values it is known to
# carry: anyone can put a child's name into an X-Autoreply header.
_OWN_VALUE = re.compile(r"^[A-Z][A-Z0-9]{1,9}-\d{4}-\d{4,6}; kind=[a-z-]{1,20}$")
_AUTO_SUBMITTED = frozenset({"auto-generated", "auto-replied", "auto-notified"})
# RFC 3834 §5: a forwarding rule passes a person's mail on; it is no auto-reply.
_FORWARDED = "auto-forwarded"
_REPORT_TYPES = frozenset({"delivery-status", "disposition-notification", "feedback-report"})
_FLAG_WORDS = frozenset({"yes", "true", "1", "on", "auto", "reply"})
_SUPPRESS_WORDS = frozenset({"all", "dr", "ndr", "rn", "nrn", "oof", "autoreply"})


def _flag_text(value: str) -> str:
    token = _first_token(value)
    return token if token in _FLAG_WORDS else "set"


def _suppress_text(value: str) -> str:
    words = [w for w in re.split(r"[\s,;]+", value.strip()) if w.lower() in _SUPPRESS_WORDS]
    return ", ".join(words) if words else "set"


def _own_header(email: ParsedEmail, policy: Policy) -> tuple[list[str], bool]:
    """Our header's signal (value shown only when it has our shape) and whether it is signed."""
    value = email.header(OWN_MAIL_HEADER)
    if value is None:
        return [], False
    parts = [p.strip() for p in value.split(";")]
    sig = next((p[4:] for p in parts if p.startswith("sig=")), "")
    plain = "; ".join(p for p in parts if not p.startswith("sig="))
    shown = plain if _OWN_VALUE.match(plain) else "present"
    signed = bool(policy.own_header_key and email.message_id and sig) and hmac.compare_digest(
        sig.encode("ascii", "replace"),
        own_header_signature(policy.own_header_key, email.message_id or "").encode("ascii"),
    )
    if signed:
        return [f"{OWN_MAIL_HEADER}: {shown}"], True
    return [f"{OWN_MAIL_HEADER}: {shown}, not signed by us (forged or altered)"], False


def _own_signals(email: ParsedEmail, policy: Policy) -> list[str]:
    signals = []
    if email.from_ is not None and email.from_.addr in policy.own_addresses:
        signals.append(f"From is our own address {email.from_.addr}")
    return signals


def _bounce_signals(email: ParsedEmail) -> tuple[list[str], bool]:
    """Bounce signals, and whether one of them is strong enough to decide on its own."""
    signals: list[str] = []
    strong = False
    content_type = email.header("content-type") or ""
    # The declared type counts even when the parser had to read the body as text.
    declared = content_type.partition(";")[0].strip().strip('"').lower()
    if "multipart/report" in (email.content_type, declared):
        report_type = ""
        match = re.search(r"report-type\s*=\s*\"?([\w-]+)", content_type, re.IGNORECASE)
        if match:
            kind = match.group(1).lower()
            report_type = f"; report-type={kind if kind in _REPORT_TYPES else 'other'}"
        signals.append(f"Content-Type: multipart/report{report_type}")
        strong = True
    sender = email.from_.addr if email.from_ else ""
    local = sender.partition("@")[0]
    if local.startswith(_BOUNCE_LOCALPARTS):
        signals.append(f"From: {next(p for p in _BOUNCE_LOCALPARTS if local.startswith(p))}")
        strong = True
    else:
        # "MAILER-DAEMON <>" has no address at all; its display name still tells.
        match = _BOUNCE_FROM_NAME.search(email.header("from") or "")
        if match:
            signals.append(f"From: {match.group(1)}")
            strong = True
    match = _DSN_SUBJECT.match(email.subject)
    if match:
        signals.append(f"Subject: {match.group(1)}")
        strong = True
    if email.return_path == "":
        signals.append("Return-Path: <>")
    return signals, strong


def _auto_reply_signals(email: ParsedEmail) -> tuple[list[str], list[str]]:
    """(deciding signals, hints): hints such as X-Loop never decide on their own."""
    deciding: list[str] = []
    hints: list[str] = []
    for submitted in email.header_all("auto-submitted"):
        token = _first_token(submitted)
        if token == _FORWARDED:
            hints.append(f"Auto-Submitted: {_FORWARDED}")
        elif token and token != "no":
            shown = token if token in _AUTO_SUBMITTED else "other"
            deciding.append(f"Auto-Submitted: {shown}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        flag = email.header(name)
        if flag is not None and _first_token(flag) not in ("no", "false", "0"):
            deciding.append(f"{name}: {_flag_text(flag)}")
    precedence = _first_token(email.header("precedence") or "")
    if precedence in ("auto_reply", "auto-reply"):
        deciding.append(f"Precedence: {precedence}")
    apple = email.header("x-apple-action")
    if apple is not None and _first_token(apple) == "vacation":
        # iCloud's vacation responder marks its replies only this way.
        deciding.append("X-Apple-Action: VACATION")
    autogenerated = email.header("x-autogenerated")
    if autogenerated is not None and _first_token(autogenerated) == "reply":
        deciding.append("X-Autogenerated: Reply")
    subject = _AUTO_SUBJECT.match(email.subject)
    suppress = email.header("x-auto-response-suppress")
    if subject:
        hints.append(f"Subject: {subject.group(1)}")
    if suppress is not None:
        if subject:
            deciding.append(
                f"X-Auto-Response-Suppress: {_suppress_text(suppress)} with an auto-reply subject"
            )
        else:
            hints.append(f"X-Auto-Response-Suppress: {_suppress_text(suppress)}")
    for name in ("X-Loop", "X-MS-Exchange-Inbox-Rules-Loop"):
        if email.header(name) is not None:
            hints.append(f"{name} present")
    mailer = re.search(r"vacation|autorespond|auto-reply", email.header("x-mailer") or "", re.I)
    if mailer:
        hints.append(f"X-Mailer: {mailer.group(0).lower()}")
    return deciding, hints


def _bulk_signals(email: ParsedEmail) -> list[str]:
    signals = []
    precedence = _first_token(email.header("precedence") or "")
    if precedence in ("bulk", "list", "junk"):
        signals.append(f"Precedence: {precedence}")
    for name in ("List-Id", "List-Unsubscribe", "List-Post"):
        if email.header(name) is not None:
            signals.append(f"{name} present")
    return signals


# Words that make list or bulk mail read as a possible escalation: such mail is
# held for review, never silently ignored. Plain alternations of literals, and
# the text is capped: linear time whatever the message.
_ESCALATION_SUBJECT = re.compile(
    r"escalat|disagree|child protection|safeguarding concern|professional challenge",
    re.IGNORECASE,
)
_ESCALATION_BODY = re.compile(
    r"escalate|escalating|escalated|disagree|child protection|safeguarding concern"
    r"|professional challenge",
    re.IGNORECASE,
)
_MAX_BODY_LOOKED_AT = 20_000


def _held_bulk(email: ParsedEmail, policy: Policy, bulk: list[str]) -> str | None:
    """Why list or bulk mail must be held rather than ignored, or None.

    A partnership or agency sends people's mail through list servers and
    bulk-mail tools too; ignoring it would lose an escalation without a trace.
    """
    markers = "; ".join(bulk)
    domain = email.from_.domain.strip().rstrip(".") if email.from_ else ""
    if domain and any(is_within(domain, p.lower()) for p in policy.protected_domains):
        return f"bulk or list markers on mail from a partnership or agency domain ({markers})"
    if _ESCALATION_SUBJECT.search(email.subject[:1000]) or _ESCALATION_BODY.search(
        email.new_text[:_MAX_BODY_LOOKED_AT]
    ):
        return f"bulk or list markers on mail that reads as an escalation ({markers})"
    return None


# ---------------------------------------------------------------------------
# The decision


def classify(email: ParsedEmail, policy: Policy) -> Classification:
    """Classify ``email``: OWN, BOUNCE, AUTO_REPLY, BULK, NO_SENDER, SUSPICIOUS, else PERSON.

    OWN needs our header signed for this Message-ID; a From address among
    ``policy.own_addresses`` is not enough, because colleagues send from the
    shared mailbox. A null Return-Path alone means BOUNCE only when no
    auto-reply signal is present: RFC 3834 asks auto-responders to use the
    null path too. ``Auto-Submitted: auto-forwarded`` is a person's mail
    passed on by a rule. List or bulk markers on mail from a protected domain
    or that reads as an escalation are held (SUSPICIOUS), not ignored.
    """
    header, signed = _own_header(email, policy)
    own = [*header, *_own_signals(email, policy)]
    bounce, bounce_strong = _bounce_signals(email)
    auto, auto_hints = _auto_reply_signals(email)
    bulk = _bulk_signals(email)
    has_sender = email.from_ is not None and "@" in email.from_.addr
    trusted = topmost_trusted(
        email.header_all("authentication-results"), policy.trusted_authserv_ids
    )
    origin = authenticated_origin(trusted, email.from_, email.headers, policy.internal_origin)
    spoof = display_name_spoof(email.from_)
    lookalike = (
        lookalike_signal(email.from_.domain, email.header("from") or "", policy.protected_domains)
        if has_sender and email.from_ is not None
        else None
    )
    suspicious = [s for s in (dmarc_fail(trusted), lookalike, spoof) if s]
    if suspicious:
        origin = ""  # a vouched-for domain dressed up as another sender vouches for nothing
    signals = (*own, *bounce, *auto, *auto_hints, *bulk, *suspicious)
    if not has_sender:
        signals = (*signals, "no From address with @")

    def result(verdict: Verdict, reason: str) -> Classification:
        return Classification(verdict, reason, signals, authenticated=bool(origin), origin=origin)

    if signed:
        return result(Verdict.OWN, f"own mail ({own[0]})")
    if bounce_strong or (bounce and not auto):
        return result(Verdict.BOUNCE, f"bounce ({'; '.join(bounce)})")
    if auto:
        return result(Verdict.AUTO_REPLY, f"auto-reply ({'; '.join(auto)})")
    if bulk:
        held = _held_bulk(email, policy, bulk) if has_sender else None
        if held:
            return result(Verdict.SUSPICIOUS, held)
        return result(Verdict.BULK, f"bulk ({'; '.join(bulk)})")
    if not has_sender:
        return result(Verdict.NO_SENDER, "no usable From address")
    if suspicious:
        return result(Verdict.SUSPICIOUS, suspicious[0])
    return result(Verdict.PERSON, "person")
