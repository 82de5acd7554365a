"""HTML to text a caseworker can read (and the quoted-history cutter can recognise).

Much partner-agency mail arrives HTML-only from Outlook, with Word's markup. This
renders it as lines, marks ``<blockquote>`` content with "> ", and never raises.
The input is untrusted, so the work is bounded: the input, the text made from it
and the quote marks per line are capped (README, "Limits"), and the fallback tag
strip used when the stdlib parser gives up reads each "<" once.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["BLOCK_TAGS", "MAX_QUOTE_DEPTH", "SKIP_TAGS", "html_to_text"]

#: Tags that start a new line of text (shared with the forms reader's HTML tables).
BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
#: Tags whose content is never text.
SKIP_TAGS = frozenset({"style", "script", "title", "xml", "template", "noscript", "object"})
_CELL_TAGS = frozenset({"td", "th"})
_VOID_SKIP = frozenset({"meta", "link", "base"})
# A no-break space is content, not layout: Outlook writes "<p>&nbsp;</p>" for
# an empty line, so it is kept until the lines are assembled.
_WS_RUN = re.compile(r"[ \t\r\n\f\v\u200b]+")
# The stdlib parser raises AssertionError on "<![" followed by anything but
# the keywords it knows; such text is data, so escape it before parsing.
_BAD_MARKED_SECTION = re.compile(
    r"<!\[(?!(?:if|else|endif|cdata|temp|ignore|include|rcdata)(?![-_.a-z0-9]))", re.IGNORECASE
)
# Unterminated comments and style blocks run to the end (as in a browser), and a tag stops
# at the next "<": each "<" no longer scans the rest of the text again.
_TAG_FALLBACK = re.compile(
    r"<!--.*?(?:-->|\Z)|<(style|script|head)\b.*?(?:</\1\s*+>|\Z)|<[^<>]*+>", re.S | re.I
)
_MANY_BLANKS = re.compile(r"\n{3,}")

#: Quote levels shown as "> ": deeper <blockquote>s add no more, so each line's prefix stays
#: short (nested quotes made the output grow with depth x lines: quadratic).
MAX_QUOTE_DEPTH = 20
#: Text kept from one HTML body; a person's mail is far shorter, and the cap bounds memory.
MAX_HTML_TEXT_CHARS = 2_000_000
#: HTML read from one body: the parser's time grows with its input, so the input is cut too.
MAX_HTML_INPUT_CHARS = 2_000_000

# Outlook's plain-text rendering of <hr>; split_quoted treats it as a separator.
_HR_LINE = "_" * 32


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML document as lines.

    Whitespace collapses as in a browser; block elements start new lines;
    ``<blockquote>`` content is prefixed with "> " so that quoted history in
    HTML-only replies is recognised by :func:`split_quoted`.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._prefix = ""
        self._skip = 0
        self._in_head = False
        self._pre = 0
        self._quote = 0
        self._cell_open = False
        self._size = 0

    def _quote_prefix(self) -> str:
        return "> " * min(self._quote, MAX_QUOTE_DEPTH)

    def _flush(self) -> None:
        text = "".join(self._current)
        text = text.rstrip(" ") if self._pre else text.strip(" ")
        self._current = []
        if self._size >= MAX_HTML_TEXT_CHARS and not text:
            pass  # past the cap only the text already counted is still written
        elif text or (self.lines and self.lines[-1] != ""):
            self._size += len(self._prefix) + 1
            self.lines.append(self._prefix + text if text else self._prefix.rstrip())
        self._prefix = self._quote_prefix()

    def _break(self) -> None:
        if self._current:
            self._flush()
        else:
            self._prefix = self._quote_prefix()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self._skip += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "br":
            self._flush()
        elif tag == "hr":
            self._break()
            if self._size < MAX_HTML_TEXT_CHARS:
                self._size += len(_HR_LINE) + 1
                self.lines.append(_HR_LINE)
        elif tag in _CELL_TAGS:
            if self._cell_open and self._current:
                self._current.append("\t")
            self._cell_open = True
        elif tag in BLOCK_TAGS:
            self._break()
            if tag == "blockquote":
                self._quote += 1
                self._prefix = self._quote_prefix()
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._current.append("- ")
            elif tag == "tr":
                self._cell_open = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Self-closing forms (<br/>, <hr/>) behave like their start tags, but
        # a self-closed skip tag must not open a skipped region.
        if tag not in SKIP_TAGS and tag not in _VOID_SKIP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "head":
            self._in_head = False
        elif tag in BLOCK_TAGS:
            self._break()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
                self._prefix = self._quote_prefix()
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip or self._in_head or self._size >= MAX_HTML_TEXT_CHARS:
            return
        data = data[: MAX_HTML_TEXT_CHARS - self._size]
        self._size += len(data)
        if self._pre:
            lines = data.replace("\r\n", "\n").split("\n")
            self._current.append(lines[0])
            for line in lines[1:]:
                self._flush()
                self._current.append(line)
            return
        text = _WS_RUN.sub(" ", data)
        if text == " " and (not self._current or self._current[-1].endswith((" ", "\t"))):
            return
        if self._current and self._current[-1].endswith((" ", "\t")) and text.startswith(" "):
            text = text[1:]
        self._current.append(text)

    def finish(self) -> str:
        self._break()
        return "\n".join(line.rstrip() for line in self.lines)


def html_to_text(html: str) -> str:
    """Render HTML as plain text a caseworker can read; never raises.

    Style sheets, scripts, the document head and MSO conditional comments are
    dropped; Outlook's ``<o:p>`` and other unknown tags vanish while their
    text stays; downlevel-revealed ``<![if ...]>`` sections keep their text.
    Bounded for hostile input: the first :data:`MAX_HTML_INPUT_CHARS` are read, at
    most :data:`MAX_QUOTE_DEPTH` quote marks prefix a line, and the text stops after
    about :data:`MAX_HTML_TEXT_CHARS`.
    """
    html = html[:MAX_HTML_INPUT_CHARS]
    parser = _TextExtractor()
    try:
        parser.feed(_BAD_MARKED_SECTION.sub("&lt;![", html))
        parser.close()
        text = parser.finish()
    except AssertionError:
        # The stdlib parser still asserts on some malformed declarations; a
        # crude tag strip is better than losing the body.
        text = _TAG_FALLBACK.sub(" ", html)
        text = "\n".join(_WS_RUN.sub(" ", line).strip() for line in text.splitlines())
    text = text.replace("\u00a0", " ")
    return _MANY_BLANKS.sub("\n\n", text).strip("\n")
