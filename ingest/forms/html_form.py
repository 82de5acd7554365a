"""HTML bodies as :class:`~ingest.forms.text_form.Row` lists, keeping table cells apart.

:func:`ingest.parse.html_text.html_to_text` flattens a table row into one line;
a form pasted from Word into Outlook is a table whose label and value cells
must stay apart (a value cell may hold several paragraphs). This reader keeps
each ``<tr>`` as a row of cell texts and every other block as a line, in
document order, and marks lines inside ``<blockquote>`` with "> " as the
plain-text quoting that :mod:`ingest.forms.forwards` understands.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.forms.text_form import Row
from ingest.parse.html_text import BLOCK_TAGS, MAX_QUOTE_DEPTH, SKIP_TAGS

__all__ = ["html_to_rows"]

_SKIP = SKIP_TAGS | {"head"}
#: Blocks other than the table structure this reader keeps apart (and "main"/"nav",
#: which only wrap other blocks).
_BLOCKS = (BLOCK_TAGS - {"table", "tbody", "tfoot", "thead", "tr", "main", "nav"}) | {"caption"}
_WS = re.compile(r"[ \t\r\n\f\v\u200b]+")
_MAX_ROWS = 20_000


class _Table:
    __slots__ = ("cell", "row")

    def __init__(self) -> None:
        self.row: list[str] | None = None
        self.cell: list[str] | None = None


class _RowCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self._line: list[str] = []
        self._tables: list[_Table] = []
        self._skip = 0
        self._quote = 0

    # -- output ------------------------------------------------------------

    def _emit_line(self) -> None:
        text = "".join(self._line).replace("\u00a0", " ").strip()
        self._line = []
        if len(self.rows) < _MAX_ROWS:
            # Deeper quotes add no more marks: 3,000 nested <blockquote>s would otherwise
            # give every line 6,000 characters of prefix (quadratic output).
            prefix = "> " * min(self._quote, MAX_QUOTE_DEPTH)
            self.rows.append(Row((prefix + text if text else "",)))

    def _target(self) -> list[str]:
        if self._tables and self._tables[-1].cell is not None:
            return self._tables[-1].cell
        return self._line

    def _newline(self) -> None:
        if self._tables and self._tables[-1].cell is not None:
            self._tables[-1].cell.append("\n")
        elif self._line:
            self._emit_line()

    def _close_cell(self, table: _Table) -> None:
        if table.cell is not None:
            if table.row is None:
                table.row = []
            text = "".join(table.cell).replace("\u00a0", " ")
            lines = (" ".join(line.split()) for line in text.split("\n"))
            table.row.append("\n".join(line for line in lines if line))
            table.cell = None

    def _close_row(self, table: _Table) -> None:
        self._close_cell(table)
        if table.row is not None:
            if any(cell for cell in table.row) and len(self.rows) < _MAX_ROWS:
                self.rows.append(Row(tuple(table.row)))
            table.row = None

    # -- parser callbacks --------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "table":
            if not self._tables and self._line:
                self._emit_line()
            self._tables.append(_Table())
        elif tag == "tr" and self._tables:
            self._close_row(self._tables[-1])
            self._tables[-1].row = []
        elif tag in ("td", "th") and self._tables:
            table = self._tables[-1]
            self._close_cell(table)
            table.cell = []
        elif tag == "br":
            self._newline()
        elif tag in _BLOCKS:
            self._newline()
            if tag == "blockquote":
                self._quote += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "table" and self._tables:
            self._close_row(self._tables.pop())
        elif tag == "tr" and self._tables:
            self._close_row(self._tables[-1])
        elif tag in ("td", "th") and self._tables:
            self._close_cell(self._tables[-1])
        elif tag in _BLOCKS:
            self._newline()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        target = self._target()
        text = _WS.sub(" ", data)
        if text == " " and (not target or target[-1].endswith((" ", "\n"))):
            return
        target.append(text)

    def finish(self) -> list[Row]:
        while self._tables:
            self._close_row(self._tables.pop())
        if self._line:
            self._emit_line()
        return self.rows


def html_to_rows(html: str) -> list[Row]:
    """Rows of the document; a parser failure gives the rows read up to that point."""
    collector = _RowCollector()
    try:
        collector.feed(html)
        collector.close()
    except (AssertionError, ValueError):
        pass
    return collector.finish()
