"""The forms reader as the tracker calls it: parse the bytes once, then read the parsed message."""

from __future__ import annotations

from ingest.forms import Extraction, FormLimits, extract
from ingest.parse import parse


def extract_raw(raw: bytes, limits: FormLimits | None = None) -> Extraction:
    """Parse ``raw`` under the limits' attachment size, then extract its forms."""
    limits = limits or FormLimits()
    return extract(parse(raw, max_attachment_bytes=limits.max_attachment_bytes), limits)
