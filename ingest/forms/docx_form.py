"""Word ``.docx`` forms: label/value tables, "Label: value" paragraphs, content controls.

python-docx gives the document's tables and their cells; a merged cell
appears once per grid column it spans, so repeated cells are dropped. The
text of a paragraph or cell is read from the XML itself (``w:t``, tabs and
breaks) because python-docx skips text inside content controls, which
partnership templates use for their fields. A content control also names
its field (its title or tag), and an unfilled one shows placeholder text
that must not be taken for a value.

The package's unpacked size is checked before python-docx sees it: a zip
bomb is refused, not inflated.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

from ingest.forms.labels import canonical_label, clean_value
from ingest.forms.text_form import Row, read_rows
from ingest.forms.types import Blob, RawField, ReadResult

__all__ = ["read_docx"]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_Q = "{" + _W + "}"
_MAX_UNPACKED = 200 * 1024 * 1024
_MAX_RATIO = 200
_MAX_PARTS = 2_000
_CONFIDENCE_CONTROL = 0.95


def _package_problem(data: bytes) -> str | None:
    """Why the zip must not be unpacked (bomb, not a zip), or None."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "not a valid Word package"
    if len(infos) > _MAX_PARTS:
        return "Word package has too many parts"
    unpacked = sum(info.file_size for info in infos)
    if unpacked > _MAX_UNPACKED or unpacked > _MAX_RATIO * max(len(data), 1) + 10_000_000:
        return "Word package unpacks to far more than its size (zip bomb?)"
    return None


def _is_placeholder_control(element: Any) -> bool:
    """True inside a content control that still shows its placeholder text."""
    node = element
    while node is not None:
        if node.tag == _Q + "sdt":
            properties = node.find(_Q + "sdtPr")
            if properties is not None and properties.find(_Q + "showingPlcHdr") is not None:
                return True
        node = node.getparent()
    return False


def _text(element: Any) -> str:
    """The visible text under ``element``: runs, tabs and breaks; paragraphs end lines."""
    parts: list[str] = []
    for node in element.iter(_Q + "t", _Q + "tab", _Q + "br", _Q + "cr", _Q + "p"):
        if node.tag == _Q + "p":
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            continue
        if _is_placeholder_control(node):
            continue
        if node.tag == _Q + "t":
            parts.append(node.text or "")
        elif node.tag == _Q + "tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts).strip("\n")


def _table_rows(table: Any) -> Iterator[Row]:
    """Rows of a python-docx table, each merged cell once; nested tables follow their row."""
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        nested: list[Any] = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            nested.extend(cell.tables)
            own = [child for child in cell._tc if child.tag == _Q + "p" or child.tag == _Q + "sdt"]
            cells.append("\n".join(_text(child) for child in own).strip())
        if any(cells):
            yield Row(tuple(cells))
        for inner in nested:
            yield from _table_rows(inner)


def _controls(document: Any) -> list[RawField]:
    """Fields from content controls whose title or tag is a known label."""
    found: list[RawField] = []
    for sdt in document.element.body.iter(_Q + "sdt"):
        properties = sdt.find(_Q + "sdtPr")
        content = sdt.find(_Q + "sdtContent")
        if (
            properties is None
            or content is None
            or properties.find(_Q + "showingPlcHdr") is not None
        ):
            continue
        for key in ("alias", "tag"):
            node = properties.find(_Q + key)
            label = node.get(_Q + "val") if node is not None else None
            field = canonical_label(label) if label else None
            if field:
                value = clean_value(field, _text(content))
                if value:
                    found.append(RawField(field, value, _CONFIDENCE_CONTROL))
                break
    return found


def _body_rows(document: Any) -> list[Row]:
    """The body in reading order: paragraphs as lines, tables as rows."""
    from docx.table import Table

    rows: list[Row] = []
    for child in document.element.body.iterchildren():
        if child.tag == _Q + "tbl":
            rows.extend(_table_rows(Table(child, document)))
        elif child.tag in (_Q + "p", _Q + "sdt"):
            rows.append(Row((_text(child),)))
    return rows


def read_docx(blob: Blob) -> ReadResult:
    """Read a Word form; content controls first, then tables and paragraphs."""
    problem = _package_problem(blob.data)
    if problem:
        return ReadResult("unreadable", problem)
    import docx

    try:
        document = docx.Document(io.BytesIO(blob.data))
    except Exception as exc:
        return ReadResult("unreadable", f"not a readable Word document ({type(exc).__name__})")
    fields = _controls(document)
    have = {f.name for f in fields}
    for found in read_rows(_body_rows(document)):
        if found.name not in have:
            fields.append(RawField(found.name, found.value, found.confidence))
    if not fields:
        return ReadResult("no-form", "no form fields found")
    return ReadResult("read", f"{len(fields)} field(s) read", tuple(fields))
