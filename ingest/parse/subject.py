"""Subject decoding and the reply/forward prefixes that must not split a thread.

Threading falls back to the subject's reference tag, and deduplication
compares subjects, so "RE: FW: [EXTERNAL] Escalation" and "Escalation" must
normalise to the same text. Mail clients localise the prefixes (AW:, WG:,
SV:, VS:, TR:, Antw:) and gateways add warnings ("[EXTERNAL]") and UK
government protective markings ("OFFICIAL-SENSITIVE:") in front of them.
"""

from __future__ import annotations

import re

from ingest.parse.headers import decode_words

__all__ = ["decode_subject", "strip_prefixes"]

_PREFIXES = re.compile(
    r"""
    ^(?:\s*(?:
        # Reply and forward prefixes, with an optional counter: "Re[2]:", "RE (3):".
        (?:re|fw|fwd|aw|wg|sv|vs|tr|antw|rv|enc|odp|doorst)
            \s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*[:：]
        # Gateway warnings: "[EXTERNAL]", "[EXT]", "[External Email]", "[CAUTION: ...]".
      | \[\s*(?:ext(?:ernal)?(?:[\s_-]*(?:email|e-mail|mail|sender|message))?
               |caution[^\]]{0,60}|warning:[^\]]{0,60}|suspected\ spam|spam)\s*\]
      | \*{1,3}\s*external(?:\s+(?:email|sender))?\s*\*{1,3}:?
      | external(?:\s+(?:email|sender))?\s*:
        # UK protective markings: "OFFICIAL:", "[OFFICIAL-SENSITIVE]", "OFFICIAL - SENSITIVE:".
      | \[\s*official(?:\s*[-:_]?\s*sensitive)?\s*\]\s*:?
      | official(?:\s*[-:_]?\s*sensitive)?\s*:
    ))+\s*
    """,
    re.IGNORECASE | re.VERBOSE,
)
_WHITESPACE = re.compile(r"\s+")
#: A subject a person wrote fits in a line; a longer one is cut here, so that everything
#: reading subjects (prefixes, references, signals, deduplication) reads a bounded text.
MAX_SUBJECT_CHARS = 1_000


def decode_subject(raw: str | None) -> str:
    """The subject as a person reads it: RFC 2047 decoded, runs of blanks collapsed.

    At most :data:`MAX_SUBJECT_CHARS` characters (the raw header is cut first, at a
    multiple of that, because encoded words are longer than the text they carry).
    """
    if not raw:
        return ""
    decoded = decode_words(raw[: MAX_SUBJECT_CHARS * 16])
    return _WHITESPACE.sub(" ", decoded).strip()[:MAX_SUBJECT_CHARS]


def strip_prefixes(subject: str) -> str:
    """``subject`` without leading reply/forward prefixes, gateway tags and markings.

    Only the front is stripped, repeatedly and in any case: "RE: FW: [EXTERNAL]
    RE: Escalation" becomes "Escalation". A reference tag such as
    "[SSCP-2026-0042]" is not a prefix and is kept.
    """
    stripped = _PREFIXES.sub("", subject, count=1)
    return _WHITESPACE.sub(" ", stripped).strip()
