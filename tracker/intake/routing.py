"""Which partnership a new escalation in a mailbox serving several partnerships is for.

Behind an MX the final ``Delivered-To`` is the watched mailbox's own address,
which is usually also one partnership's intake address; deciding on it would
put every escalation in that partnership, or (as before) match "several" and
quarantine every escalation for the others. So the envelope is read first,
address by address in the order :attr:`ParsedEmail.envelope_recipients` gives
(X-Original-To, Delivered-To, Received ``for``, topmost first): the first address
that is some candidate's intake address decides. Only then ``To`` and ``Cc``,
as one group, as the sender wrote them. When the mailbox serves several
partnerships its own address is left out everywhere: it never decides alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ingest.parse import ParsedEmail


def partnership_for(
    addresses: Mapping[str, frozenset[str]], email: ParsedEmail, mailbox_address: str
) -> str | None:
    """The one partnership (a key of ``addresses``) the mail was sent to, or None.

    ``addresses`` maps each partnership the mailbox serves, in configured order,
    to its lower-cased intake addresses. None means nothing matched, or an
    address or the To/Cc group matched several: the caller quarantines.
    """
    names = list(addresses)
    if len(names) == 1:
        return names[0]
    own = mailbox_address.lower()
    for address in email.envelope_recipients:
        if address == own:
            continue
        hits = _matching(addresses, (address,))
        if hits:
            return hits[0] if len(hits) == 1 else None
    written = [a.addr for a in (*email.to, *email.cc) if a.addr != own]
    hits = _matching(addresses, written)
    return hits[0] if len(hits) == 1 else None


def _matching(addresses: Mapping[str, frozenset[str]], recipients: Iterable[str]) -> Sequence[str]:
    wanted = {r.lower() for r in recipients}
    return [name for name, own in addresses.items() if own & wanted]
