"""A pseudonymous key linking cases about the same child without storing who the child is.

Spec §2.4 prefers a pseudonymous child reference to matching on name and
date of birth. The key is an HMAC-SHA256 over the partnership, the
normalised name and the ISO date of birth, with a secret from configuration:
without the secret nobody can test guesses of a name and birthday against
stored keys, and the same child in another partnership gets another key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from ingest.forms.dates import iso_date

__all__ = ["child_key", "normalise_name"]

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_VERSION = b"child-key-v1"


def normalise_name(name: str) -> str:
    """Case, accents, spacing, punctuation removed: "Zoë  O’Neill-Smith" → "zoe o neill smith"."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", plain.casefold()).strip()


def child_key(name: str | None, dob: str | None, partnership: str, secret: bytes) -> str | None:
    """Hex HMAC-SHA256 of (partnership, name, date of birth); None if name or DOB is missing.

    ``dob`` may be an ISO date or any form :func:`ingest.forms.dates.iso_date`
    reads. An empty ``secret`` is a configuration error and raises ValueError:
    an unkeyed hash of a name and birthday is not a pseudonym.
    """
    if not secret:
        raise ValueError("child_key needs a non-empty secret from configuration")
    clean_name = normalise_name(name or "")
    clean_dob = iso_date(dob or "")
    if not clean_name or not clean_dob:
        return None
    message = b"\x1f".join(
        (
            _VERSION,
            normalise_name(partnership).encode("utf-8"),
            clean_name.encode("utf-8"),
            clean_dob.encode("ascii"),
        )
    )
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
