"""PDF forms: AcroForm fields first, then the text layer; a PDF without text is unreadable.

Fillable partnership forms keep their answers in AcroForm fields, named
after the printed label ("Name of Child", "NameOfChild", "child_dob") or
with the label as tooltip (``/TU``). Only fields still missing are then
looked for in the page text, so one file cannot contradict itself. A
scanned form has no text layer at all: it is reported as unreadable for a
person to read, never guessed at (no OCR).
"""

from __future__ import annotations

import io
from typing import Any

from ingest.forms.labels import canonical_label, clean_value, normalise_category
from ingest.forms.text_form import read_rows, rows_from_text
from ingest.forms.types import Blob, RawField, ReadResult

__all__ = ["read_pdf"]

_MAX_PAGES = 30
_MAX_TEXT = 500_000
_CONFIDENCE_FIELD = 0.95
_CONFIDENCE_CHECKBOX = 0.9
_OFF = frozenset({"", "/off", "off", "/no", "no", "false", "0"})


def _field_label(name: str, field: Any) -> list[str]:
    """Names a field may be known by: its tooltip, then the last part of its full name."""
    labels: list[str] = []
    tooltip = field.get("/TU")
    if tooltip:
        labels.append(str(tooltip))
    short = name.rsplit(".", 1)[-1]
    labels.append(short)
    return labels


def _acroform_fields(reader: Any) -> list[RawField]:
    found: list[RawField] = []
    fields = reader.get_fields() or {}
    for name, field in list(fields.items())[:1000]:
        value = field.get("/V")
        kind = field.get("/FT")
        if value is None:
            continue
        labels = _field_label(str(name), field)
        if kind == "/Btn":
            # A ticked box whose name is a category ("Thresholds") sets the category.
            if str(value).strip().lower() in _OFF:
                continue
            for label in labels:
                code = normalise_category(label) if canonical_label(label) is None else None
                if code:
                    found.append(RawField("category", code, _CONFIDENCE_CHECKBOX))
                    break
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        for label in labels:
            canonical = canonical_label(label)
            if canonical:
                cleaned = clean_value(canonical, str(value))
                if cleaned:
                    found.append(RawField(canonical, cleaned, _CONFIDENCE_FIELD))
                break
    return found


def _page_text(reader: Any) -> str:
    pieces: list[str] = []
    total = 0
    for page in reader.pages[:_MAX_PAGES]:
        text = page.extract_text() or ""
        pieces.append(text)
        total += len(text)
        if total > _MAX_TEXT:
            break
    return "\n".join(pieces)[:_MAX_TEXT]


def read_pdf(blob: Blob) -> ReadResult:
    """Read a PDF form: fields, then text; "unreadable" for encrypted or image-only files."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(blob.data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return ReadResult("unreadable", "PDF is password-protected")
            except Exception:
                return ReadResult("unreadable", "PDF is encrypted")
        fields = _acroform_fields(reader)
        text = _page_text(reader)
    except Exception as exc:
        return ReadResult("unreadable", f"not a readable PDF ({type(exc).__name__})")
    have = {f.name for f in fields}
    for found in read_rows(rows_from_text(text)):
        if found.name not in have:
            fields.append(RawField(found.name, found.value, found.confidence))
    if fields:
        return ReadResult("read", f"{len(fields)} field(s) read", tuple(fields))
    if not text.strip():
        return ReadResult("unreadable", "PDF has no text layer (scanned image?); needs a person")
    return ReadResult("no-form", "no form fields found")
