"""Reading "Label: value" forms from rows of text and table cells.

Every format is reduced to the same shape before it gets here: a list of
:class:`Row`, where a plain-text line is a row of one cell and a table row
keeps its cells. That way a form pasted into a plain body, an Outlook HTML
table, a Word table and a PDF's text layer are read by one set of rules:

* a cell or line holding only a known label takes its value from the next
  cell, or else from the following line(s) ("Name of Child:" / "Jo Bloggs",
  as Outlook renders a table in plain text);
* "Label: value" (or a tab, or " - ") on one line gives the value at once;
* narrative fields (concern, requested action, response, resolution) run on
  over lines and blank lines while another label follows further down, and
  stop at the first blank line after the form's last label, at a sign-off
  ("Kind regards") or at a signature separator, so the e-mail's closing
  words do not become part of the form;
* a row that holds only labels over a row without labels is read column by
  column (a form laid out as a header row).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.forms.labels import NARRATIVE_FIELDS, canonical_label, clean_value, normalise_label

__all__ = [
    "Found",
    "Row",
    "count_table_labels",
    "is_stop_line",
    "read_rows",
    "rows_from_text",
    "split_label",
]


@dataclass(frozen=True)
class Row:
    """One line of text (one cell) or one table row (several cells)."""

    cells: tuple[str, ...]


@dataclass(frozen=True)
class Found:
    """A canonical field value read from rows; ``in_table`` says whether cells gave it."""

    name: str
    value: str
    confidence: float
    in_table: bool


#: A separator is tried from the start of a run of blanks only (lookbehind), so a long run
#: of blanks is read once per run rather than once per blank.
_SEPARATORS = re.compile(r"(?<!\s)\s*(?::|\t|\s[-–—]\s)\s*+")
_LEAD = re.compile(r"^[\s>*•·▪\-–]*")
_STARS = re.compile(r"^\*++|(?<!\*)\*++$")
_SIGN_OFF = re.compile(
    r"^(?:(?:kind|best|warm|many|warmest)\s+(?:regards|wishes|thanks)|regards|thanks|thank you"
    r"|many thanks|best|cheers|yours (?:sincerely|faithfully)|with thanks|sent from my)\b[\s,.!]*$",
    re.IGNORECASE,
)
_SIGNATURE_SEPARATOR = re.compile(r"^(?:--\s*|_{5,}|-{5,}|={5,})$")
_INSTRUCTION_LINE = re.compile(r"^\([^()]{0,80}\)$")
#: Lines read per body: real forms and chains are far shorter; hostile text is cut here.
MAX_LINES = 20_000
_CONFIDENCE_INLINE = 0.85
_CONFIDENCE_NEXT_LINE = 0.75
_CONFIDENCE_CELL = 0.9
_CONFIDENCE_COLUMN = 0.85


def rows_from_text(text: str) -> list[Row]:
    """Plain text as rows of one cell each."""
    return [Row((line,)) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def is_stop_line(line: str) -> bool:
    """A sign-off or signature separator: the form, if any, has ended above it."""
    stripped = line.strip()
    return bool(_SIGN_OFF.match(stripped) or _SIGNATURE_SEPARATOR.match(stripped))


def _label_cell(text: str) -> str | None:
    """The field a cell holding only a label names ("" for ignored labels), else None."""
    stripped = _STARS.sub("", text.strip()).strip().rstrip(":*").strip()
    if not stripped or "\n" in stripped:
        return None
    return canonical_label(stripped)


def split_label(line: str) -> tuple[str, str, str] | None:
    """(field, raw label, value) for a line that starts with a known label, else None.

    Only the first separator is tried as the label's end, so a value may hold
    colons ("Time: 10:30") and a sentence starting "Response was slow" is prose.
    """
    text = _LEAD.sub("", line).strip()
    if not text or len(text) > 20_000:
        return None
    match = _SEPARATORS.search(text, 0, 130)
    if match is not None and match.start() > 0:
        label = _STARS.sub("", text[: match.start()]).strip()
        field = canonical_label(label)
        if field is not None:
            return field, label, _STARS.sub("", text[match.end() :]).strip()
    field = _label_cell(text)
    if field is not None:
        return field, text.rstrip(":* "), ""
    return None


class _Reader:
    """The state of one pass over rows: the field being filled and what was seen."""

    def __init__(self) -> None:
        self.found: list[Found] = []
        self.seen: set[str] = set()
        self.field: str | None = None
        self.lines: list[str] = []
        self.confidence = 0.0
        self.in_table = False
        self.blank = False

    # -- fields ----------------------------------------------------------

    def start(self, field: str, label: str, value: str, confidence: float, in_table: bool) -> None:
        self.finish()
        # The Bedfordshire form has three "Date" lines; only the one above
        # the response is the date the form was raised.
        if (
            field == "form_date"
            and normalise_label(label) == "date"
            and self.seen & {"form_date", "response", "resolution"}
        ):
            field = ""
        if field == "":
            return
        self.field = field
        self.lines = [value] if value else []
        self.confidence = confidence
        self.in_table = in_table
        self.blank = False

    def finish(self) -> None:
        if self.field is not None:
            self.seen.add(self.field)
            cleaned = clean_value(self.field, "\n".join(self.lines)) if self.lines else None
            if cleaned:
                self.found.append(Found(self.field, cleaned, self.confidence, self.in_table))
        self.field = None
        self.lines = []
        self.blank = False

    # -- lines -----------------------------------------------------------

    def line(self, text: str, labelled: tuple[str, str, str] | None, label_ahead: bool) -> None:
        if not text.strip():
            if self.field is None:
                return
            if not self.lines:
                # A label still waiting for its value: Outlook's plain-text
                # tables put a blank line between label and value, but after
                # the form's last label a blank line means the form has ended.
                if not label_ahead:
                    self.finish()
            elif self.field not in NARRATIVE_FIELDS:
                self.finish()
            else:
                self.blank = True
            return
        if is_stop_line(text):
            self.finish()
            return
        if labelled is not None:
            field, label, value = labelled
            confidence = _CONFIDENCE_INLINE if value else _CONFIDENCE_NEXT_LINE
            self.start(field, label, value, confidence, in_table=False)
            return
        if self.field is None or _INSTRUCTION_LINE.match(text.strip()):
            return
        if self.field not in NARRATIVE_FIELDS:
            if self.lines:
                self.finish()
            else:
                self.lines.append(text)
                self.finish()
            return
        if self.blank and not label_ahead:
            self.finish()
            return
        self.lines.append("" if self.blank else text)
        if self.blank:
            self.lines.append(text)
        self.blank = False

    # -- table rows ------------------------------------------------------

    def cells(self, cells: Sequence[str]) -> None:
        self.finish()
        i = 0
        while i < len(cells):
            field = _label_cell(cells[i])
            if field is not None:
                label = cells[i].strip().rstrip(":* ")
                has_value = i + 1 < len(cells) and _label_cell(cells[i + 1]) is None
                value = cells[i + 1] if has_value else ""
                self.start(field, label, value, _CONFIDENCE_CELL, in_table=True)
                if value.strip():
                    self.finish()
                # An empty value cell leaves the field open: the next row may
                # hold its value (a label row over a merged value row).
                i += 2 if has_value else 1
                continue
            text_lines = cells[i].split("\n")
            labelled = split_label(text_lines[0])
            if labelled is not None:
                field, label, value = labelled
                rest = "\n".join([value, *text_lines[1:]]).strip()
                self.start(field, label, rest, _CONFIDENCE_CELL, in_table=True)
                if rest:
                    self.finish()
            i += 1

    def columns(self, labels: Sequence[str], values: Sequence[str]) -> None:
        self.finish()
        for label, value in zip(labels, values, strict=False):
            field = _label_cell(label)
            if field:
                self.start(field, label.strip().rstrip(":* "), value, _CONFIDENCE_COLUMN, True)
                self.finish()


def _is_label_row(cells: Sequence[str]) -> bool:
    filled = [c for c in cells if c.strip()]
    return len(filled) >= 2 and all(_label_cell(c) is not None for c in filled)


def _has_label(cells: Sequence[str]) -> bool:
    return any(_label_cell(c) is not None or split_label(c.split("\n")[0]) for c in cells)


def read_rows(rows: Iterable[Row]) -> list[Found]:
    """Every canonical field the rows hold, in reading order (duplicates kept)."""
    items: list[tuple[str, ...]] = []
    for row in rows:
        if len(row.cells) == 1:
            items.extend((line,) for line in row.cells[0].split("\n"))
        elif row.cells:
            items.append(tuple(row.cells))
        if len(items) > MAX_LINES:
            del items[MAX_LINES:]
            break
    labelled = [split_label(item[0]) if len(item) == 1 else None for item in items]
    # For each position: is there a label further down before the form ends?
    ahead = [False] * (len(items) + 1)
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if len(item) == 1 and is_stop_line(item[0]):
            ahead[index] = False
        elif len(item) == 1:
            ahead[index] = ahead[index + 1] or labelled[index] is not None
        else:
            ahead[index] = ahead[index + 1] or _has_label(item)
    reader = _Reader()
    index = 0
    while index < len(items):
        item = items[index]
        if len(item) == 1:
            reader.line(item[0], labelled[index], ahead[index + 1])
        elif (
            _is_label_row(item)
            and index + 1 < len(items)
            and len(items[index + 1]) == len(item)
            and not _has_label(items[index + 1])
        ):
            reader.columns(item, items[index + 1])
            index += 1
        else:
            reader.cells(item)
        index += 1
    reader.finish()
    return reader.found


def count_table_labels(rows: Iterable[Row]) -> int:
    """How many cells of multi-cell rows are known labels: is this a form laid out as a table?"""
    return sum(1 for row in rows if len(row.cells) > 1 for cell in row.cells if _label_cell(cell))
