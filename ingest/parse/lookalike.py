"""Look-alike domains: what a sender's domain looks like to a reader; pure.

A forged escalation comes from "so1ihull.gov.uk" or a Cyrillic "о", not from
the real partnership domain; the classifier holds such mail for review. Kept
apart from :mod:`ingest.classify` because folding characters is its own craft
(Unicode's confusables data, punycode), tested on its own.
"""

from __future__ import annotations

import contextlib
import unicodedata
from functools import lru_cache

__all__ = ["domain_skeleton", "is_within", "lookalike_signal"]


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


def is_within(domain: str, parent: str) -> bool:
    """True when ``domain`` is ``parent`` or one of its subdomains."""
    return domain == parent or domain.endswith("." + parent)


def _original_case_domain(raw_from: str, domain: str) -> str:
    """The sender's domain as written in the From header, so that "I" for "l" is visible."""
    index = raw_from.lower().rfind(domain)
    if index >= 0 and len(raw_from.lower()) == len(raw_from):
        return raw_from[index : index + len(domain)]
    return domain


def lookalike_signal(domain: str, raw_from: str, protected_domains: frozenset[str]) -> str | None:
    """``sender domain X imitates Y`` when ``domain`` only looks like a protected domain.

    ``raw_from`` is the From header as written (its case tells "I" from "l").
    """
    domain = domain.strip().rstrip(".")
    if not domain or not protected_domains:
        return None
    unicode_domain = _idna_decode(domain).lower()
    protected = [p.lower().strip().rstrip(".") for p in protected_domains]
    if any(is_within(d, p) for p in protected for d in (domain, unicode_domain)):
        return None
    skeleton = domain_skeleton(_original_case_domain(raw_from, domain))
    for target in sorted(protected):
        if is_within(skeleton, domain_skeleton(target)):
            return f"sender domain {unicode_domain} imitates {target}"
    return None
