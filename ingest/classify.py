"""Decide what kind of message a :class:`ParsedEmail` is, before threading; pure.

Only a person's message may open a case or be acknowledged: replying to an
out-of-office, a bounce or a mailing list starts mail loops, and replying to
a forged sender leaks case details. The checks run in a fixed order and the
first that matches decides the verdict, but every signal found is recorded,
so the case timeline can show why a message was treated as it was.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ingest.parse.types import ParsedEmail

__all__ = [
    "OWN_MAIL_HEADER",
    "Classification",
    "Policy",
    "Verdict",
    "classify",
    "domain_skeleton",
]

OWN_MAIL_HEADER = "X-Escalation-Tracker"
"""Every mail the tracker sends carries it (value like "SSCP-2026-0001; kind=ack")."""


class Verdict(StrEnum):
    PERSON = "person"  # A human's message: may open a case or thread into one.
    AUTO_REPLY = "auto-reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    OWN = "own"  # Our own outgoing mail come back into a watched mailbox.
    SUSPICIOUS = "suspicious"  # Held in quarantine for review.
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


@dataclass(frozen=True)
class Classification:
    """The verdict, one line saying why, and every signal that matched."""

    verdict: Verdict
    reason: str
    signals: tuple[str, ...]

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
_DMARC_RESULT = re.compile(r"(?:^|;)\s*dmarc\s*=\s*([a-z]+)", re.IGNORECASE)


def _first_token(value: str) -> str:
    """The leading token of a header value, lower-cased, without comments or parameters."""
    return re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()


# Signals end up in reasons, timeline events and log lines, so a header's own
# text appears in them only when it is one of the machine values it is known to
# carry: anyone can put a child's name into an X-Autoreply header.
_OWN_VALUE = re.compile(r"^[A-Z][A-Z0-9]{1,9}-\d{4}-\d{4,6}; kind=[a-z-]{1,20}$")
_AUTO_SUBMITTED = frozenset({"auto-generated", "auto-replied", "auto-notified"})
_REPORT_TYPES = frozenset({"delivery-status", "disposition-notification", "feedback-report"})
_FLAG_WORDS = frozenset({"yes", "true", "1", "on", "auto", "reply"})
_SUPPRESS_WORDS = frozenset({"all", "dr", "ndr", "rn", "nrn", "oof", "autoreply"})


def _flag_text(value: str) -> str:
    token = _first_token(value)
    return token if token in _FLAG_WORDS else "set"


def _suppress_text(value: str) -> str:
    words = [w for w in re.split(r"[\s,;]+", value.strip()) if w.lower() in _SUPPRESS_WORDS]
    return ", ".join(words) if words else "set"


def _own_signals(email: ParsedEmail, policy: Policy) -> list[str]:
    signals = []
    value = email.header(OWN_MAIL_HEADER)
    if value is not None:
        shown = value.strip() if _OWN_VALUE.match(value.strip()) else "present"
        signals.append(f"{OWN_MAIL_HEADER}: {shown}")
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
        if token and token != "no":
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


def _dmarc_signal(email: ParsedEmail, policy: Policy) -> str | None:
    """``dmarc=fail reported by <authserv-id>`` from the topmost trusted Authentication-Results.

    Headers from other authserv-ids are ignored: anyone can write an
    Authentication-Results header into a message before it reaches us.
    """
    if not policy.trusted_authserv_ids:
        return None
    trusted = {t.lower() for t in policy.trusted_authserv_ids}
    for value in email.header_all("authentication-results"):
        head, _, results = value.partition(";")
        tokens = head.split()
        authserv = tokens[0].lower() if tokens else ""
        if authserv not in trusted:
            continue
        match = _DMARC_RESULT.search(";" + results)
        if match and match.group(1).lower() == "fail":
            return f"dmarc=fail reported by {authserv}"
        return None
    return None


# ---------------------------------------------------------------------------
# Look-alike domains

# Multi-letter shapes first: "rn" reads as "m", "vv" as "w".
_ASCII_PAIRS = (("rn", "m"), ("vv", "w"))
_ASCII_SINGLE = str.maketrans({"0": "o", "1": "l", "5": "s"})


@lru_cache(maxsize=4096)
def _char_skeleton(char: str) -> str:
    """The ASCII letters a non-ASCII character imitates, from Unicode's confusables data."""
    from confusable_homoglyphs.confusables import confusables_data

    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    if base.isascii() and base:
        return base.lower()
    candidates: list[str] = [
        str(entry["c"]) for entry in confusables_data.get(char, ()) if str(entry["c"]).isascii()
    ]
    letters = [c for c in candidates if c.isalnum()]
    if letters:
        return sorted(letters, key=lambda c: (not c.islower(), len(c), c))[0].lower()
    return char


def _idna_decode(domain: str) -> str:
    """Unicode form of a domain whose labels may be punycode ("xn--"); bad labels are kept."""
    labels = []
    for label in domain.split("."):
        if label[:4].lower() == "xn--":
            with contextlib.suppress(UnicodeError, ValueError):
                label = label[4:].encode("ascii").decode("punycode")
        labels.append(label)
    return ".".join(labels)


@lru_cache(maxsize=4096)
def domain_skeleton(domain: str) -> str:
    """What a domain looks like to a reader: confusable characters folded to ASCII.

    "so1ihull.gov.uk", "sоlihull.gov.uk" (Cyrillic о), its "xn--" form and
    "SoIihull.gov.uk" all give "solihull.gov.uk"; "rnerton" gives "merton".
    Case matters only for "I", which is read as "l" before lower-casing.
    """
    text = _idna_decode(domain.strip().rstrip("."))
    text = text.replace("I", "l")
    text = "".join(c if c.isascii() else _char_skeleton(c) for c in text).lower()
    for pair, single in _ASCII_PAIRS:
        text = text.replace(pair, single)
    return text.translate(_ASCII_SINGLE)


def _is_within(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def _original_case_domain(email: ParsedEmail, domain: str) -> str:
    """The sender's domain as written in the From header, so that "I" for "l" is visible."""
    raw = email.header("from") or ""
    index = raw.lower().rfind(domain)
    if index >= 0 and len(raw.lower()) == len(raw):
        return raw[index : index + len(domain)]
    return domain


def _lookalike_signal(email: ParsedEmail, policy: Policy) -> str | None:
    """``sender domain X imitates Y`` when From's domain only looks like a protected domain."""
    if email.from_ is None or not policy.protected_domains:
        return None
    domain = email.from_.domain.strip().rstrip(".")
    if not domain:
        return None
    unicode_domain = _idna_decode(domain).lower()
    protected = [p.lower().strip().rstrip(".") for p in policy.protected_domains]
    if any(_is_within(d, p) for p in protected for d in (domain, unicode_domain)):
        return None
    skeleton = domain_skeleton(_original_case_domain(email, domain))
    for target in sorted(protected):
        if _is_within(skeleton, domain_skeleton(target)):
            return f"sender domain {unicode_domain} imitates {target}"
    return None


# ---------------------------------------------------------------------------
# The decision


def classify(email: ParsedEmail, policy: Policy) -> Classification:
    """Classify ``email``: OWN, BOUNCE, AUTO_REPLY, BULK, NO_SENDER, SUSPICIOUS, else PERSON.

    A From address among ``policy.own_addresses`` is not enough for OWN
    without our header, because colleagues send from the shared mailbox. A
    null Return-Path alone means BOUNCE only when no auto-reply signal is
    present: RFC 3834 asks auto-responders to use the null path too.
    """
    own = _own_signals(email, policy)
    bounce, bounce_strong = _bounce_signals(email)
    auto, auto_hints = _auto_reply_signals(email)
    bulk = _bulk_signals(email)
    has_sender = email.from_ is not None and "@" in email.from_.addr
    dmarc = _dmarc_signal(email, policy)
    lookalike = _lookalike_signal(email, policy) if has_sender else None
    suspicious = [s for s in (dmarc, lookalike) if s]
    signals = (*own, *bounce, *auto, *auto_hints, *bulk, *suspicious)
    if not has_sender:
        signals = (*signals, "no From address with @")

    def result(verdict: Verdict, reason: str) -> Classification:
        return Classification(verdict=verdict, reason=reason, signals=signals)

    if email.header(OWN_MAIL_HEADER) is not None:
        return result(Verdict.OWN, f"own mail ({own[0]})")
    if bounce_strong or (bounce and not auto):
        return result(Verdict.BOUNCE, f"bounce ({'; '.join(bounce)})")
    if auto:
        return result(Verdict.AUTO_REPLY, f"auto-reply ({'; '.join(auto)})")
    if bulk:
        return result(Verdict.BULK, f"bulk ({'; '.join(bulk)})")
    if not has_sender:
        return result(Verdict.NO_SENDER, "no usable From address")
    if suspicious:
        return result(Verdict.SUSPICIOUS, suspicious[0])
    return result(Verdict.PERSON, "person")
