"""Plain text from RTF message bodies (Outlook's TNEF and .msg files often hold only RTF).

Only what a form needs is kept: paragraphs become lines, table cells are
separated by tabs and rows end lines, escaped characters are decoded in the
document's code page, and destinations that are not body text (font and
colour tables, pictures, document info, ``\\*`` extensions) are skipped.
HTML that Outlook wrapped in RTF (``\\fromhtml1``) is unwrapped to its HTML
so that the HTML reader sees the tables.
"""

from __future__ import annotations

import re

__all__ = ["rtf_to_text", "rtf_wrapped_html"]

_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z])"
    rb"|([{}])|([^\\{}\r\n]+)|[\r\n]+"
)
_SKIP_DESTINATIONS = frozenset(
    {
        b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"header", b"footer",
        b"headerl", b"headerr", b"headerf", b"footerl", b"footerr", b"footerf", b"object",
        b"themedata", b"datastore", b"latentstyles", b"listtable", b"listoverridetable",
        b"rsidtbl", b"generator", b"xmlnstbl", b"mmathpr", b"fldinst", b"filetbl",
        b"revtbl", b"pgdsctbl", b"operator", b"author", b"title", b"company",
    }
)  # fmt: skip
_MAX_INPUT = 4 * 1024 * 1024
_MAX_DEPTH = 200


def _codepage(rtf: bytes) -> str:
    match = re.search(rb"\\ansicpg(\d{3,5})", rtf[:2048])
    name = f"cp{int(match.group(1))}" if match else "cp1252"
    try:
        b"".decode(name)
    except LookupError:
        return "cp1252"
    return name


def rtf_to_text(rtf: bytes) -> str:
    """The readable text of an RTF document; never raises."""
    rtf = rtf[:_MAX_INPUT]
    codepage = _codepage(rtf)
    out: list[str] = []
    pending = bytearray()
    stack: list[tuple[bool, int]] = []
    skip = False
    uc = 1
    drop = 0  # fallback characters still to drop after a \uN

    def flush() -> None:
        if pending:
            out.append(pending.decode(codepage, "replace"))
            pending.clear()

    first_in_group = False
    for match in _TOKEN.finditer(rtf):
        word, arg, hex_byte, symbol, brace, text = match.groups()
        if brace == b"{":
            if len(stack) >= _MAX_DEPTH:
                break
            stack.append((skip, uc))
            first_in_group = True
            continue
        if brace == b"}":
            flush()
            if stack:
                skip, uc = stack.pop()
            first_in_group = False
            continue
        starting = first_in_group
        first_in_group = False
        if symbol is not None:
            if symbol == b"*" and starting:
                skip = True
            elif not skip and symbol in (b"\\", b"{", b"}"):
                pending.extend(symbol)
            elif not skip and symbol == b"~":
                pending.extend(b" ")
            continue
        if word is not None:
            name = word.lower()
            if starting and name in _SKIP_DESTINATIONS:
                skip = True
            if skip:
                continue
            if name == b"uc" and arg is not None:
                uc = max(0, int(arg))
            elif name == b"u" and arg is not None:
                flush()
                code = int(arg)
                out.append(chr(code + 65536 if code < 0 else code))
                drop = uc
            elif name in (b"par", b"line", b"row", b"sect", b"page"):
                flush()
                out.append("\n")
            elif name in (b"tab", b"cell"):
                flush()
                out.append("\t")
            continue
        if skip:
            continue
        if hex_byte is not None:
            if drop:
                drop -= 1
            else:
                pending.append(int(hex_byte, 16))
            continue
        if text:
            if drop:
                skipped = min(drop, len(text))
                text = text[skipped:]
                drop -= skipped
            pending.extend(text)
    flush()
    lines = ("".join(out)).split("\n")
    return "\n".join(line.rstrip("\t ").strip() for line in lines).strip()


def rtf_wrapped_html(rtf: bytes) -> str | None:
    """The HTML that Outlook encapsulated in ``rtf`` (``\\fromhtml1``), or None."""
    if b"\\fromhtml1" not in rtf[:4096]:
        return None
    try:
        from RTFDE.deencapsulate import DeEncapsulator

        unwrapper = DeEncapsulator(rtf[:_MAX_INPUT])
        unwrapper.deencapsulate()
        html = unwrapper.html
    except Exception:
        return None
    if isinstance(html, bytes):
        return html.decode("utf-8", "replace")
    return html if isinstance(html, str) else None
