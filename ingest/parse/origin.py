"""Who really sent a message: the gateway's verdict on the From domain, and spoofed names; pure.

Staff powers must not rest on the From header alone: anyone can write any
From. What counts is what our own receiving gateway (a trusted authserv-id)
wrote at the top of the message after checking DMARC. Headers from other
authserv-ids, and results lower in the stack, were written by someone else
before the mail reached us, so they prove nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingest.parse.headers import AuthResult, parse_authentication_results
from ingest.parse.types import Address

__all__ = ["authenticated_origin", "display_name_spoof", "dmarc_fail", "topmost_trusted"]


def topmost_trusted(
    values: Iterable[str], trusted_authserv_ids: frozenset[str]
) -> tuple[str, tuple[AuthResult, ...]] | None:
    """``(authserv-id, results)`` of the topmost Authentication-Results from a trusted id.

    ``values`` in header order (top first). None when no trusted id is
    configured or none of the headers carries one.
    """
    if not trusted_authserv_ids:
        return None
    trusted = {t.lower() for t in trusted_authserv_ids}
    for value in values:
        authserv, results = parse_authentication_results(value)
        if authserv in trusted:
            return authserv, results
    return None


def _dmarc(results: tuple[AuthResult, ...]) -> AuthResult | None:
    return next((r for r in results if r.method == "dmarc"), None)


def dmarc_fail(found: tuple[str, tuple[AuthResult, ...]] | None) -> str | None:
    """``dmarc=fail reported by <authserv-id>`` when the trusted gateway says so."""
    if found is None:
        return None
    dmarc = _dmarc(found[1])
    if dmarc is not None and dmarc.result == "fail":
        return f"dmarc=fail reported by {found[0]}"
    return None


def _aligned(from_domain: str, header_from: str) -> bool:
    """The gateway judged our From domain, or its organisational parent (relaxed alignment)."""
    header_from = header_from.strip().rstrip(".")
    return bool(header_from) and (
        from_domain == header_from or from_domain.endswith("." + header_from)
    )


def authenticated_origin(
    found: tuple[str, tuple[AuthResult, ...]] | None,
    sender: Address | None,
    headers: tuple[tuple[str, str], ...],
    internal_origin: tuple[tuple[str, str], ...] = (),
) -> str:
    """Why the From domain is vouched for ("dmarc=pass by <id> for <domain>"), or "".

    ``dmarc=none``, ``dmarc=pass`` for another domain than From's (the
    gateway read a different From than we do) or no ``header.from`` at all
    vouch for nothing. ``internal_origin`` pairs (header name, value) count
    when the topmost header of that name has that value: only for a mailbox
    that receives through the gateway alone.
    """
    if sender is None or "@" not in sender.addr:
        return ""
    domain = sender.domain.strip().rstrip(".")
    if found is not None:
        dmarc = _dmarc(found[1])
        header_from = (dmarc.prop("header.from") or "") if dmarc else ""
        if dmarc is not None and dmarc.result == "pass" and _aligned(domain, header_from):
            return f"dmarc=pass by {found[0]} for {domain}"
    for name, expected in internal_origin:
        key = name.lower()
        top = next((v for k, v in headers if k == key), None)
        if top is not None and top.strip().lower() == expected.strip().lower():
            return f"internal origin ({key})"
    return ""


def _addresses_in(name: str) -> list[tuple[str, str]]:
    """``(address, domain)`` of whatever looks like an address in a display name; linear."""
    found = []
    for token in name.replace('"', " ").replace("<", " ").replace(">", " ").split():
        address = token.strip(".,;:'()[]").lower()
        local, at, domain = address.rpartition("@")
        if at and local and "." in domain and len(domain) <= 100:
            found.append((address, domain))
    return found


def display_name_spoof(sender: Address | None) -> str | None:
    """A display name that shows another address than the one the mail is from.

    ``"sscp@solihull.gov.uk" <attacker@evil.example>`` reads as sscp@ in a
    mail client. The signal names the two domains only (no local parts: the
    name is free text). A name repeating the sender's own address is fine.
    """
    if sender is None or "@" not in sender.addr or "@" not in sender.name:
        return None
    for address, domain in _addresses_in(sender.name):
        if address != sender.addr:
            return f"display name shows an address at {domain} but the mail is from {sender.domain}"
    return None
