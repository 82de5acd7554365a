"""Readable body text: charset decoding, HTML to text, and cutting quoted history.

Mail from partner agencies is mostly written in Outlook. Much of it arrives
HTML-only, with Word's markup (``<o:p>``, ``<style>`` blocks, MSO conditional
comments), and charset labels that lie (windows-1252 labelled iso-8859-1,
UTF-8 labelled us-ascii, or "unknown-8bit"). None of that may stop a case from
being opened, so every function here returns its best effort and never raises.
HTML to text lives in :mod:`ingest.parse.html_text` (with its caps) and is named
here too, because the body's readers reach it through this module.
"""

from __future__ import annotations

import codecs
import re

from ingest.parse.html_text import html_to_text

__all__ = ["decode_bytes", "html_to_text", "split_quoted"]

# Labels that in practice mean "some 8-bit Western text": browsers decode all
# of them as windows-1252 (WHATWG Encoding Standard), and so do we, after first
# checking whether the bytes are really valid UTF-8.
_WESTERN_LABELS = frozenset(
    {
        "us-ascii",
        "ascii",
        "us",
        "ansi_x3.4-1968",
        "iso-8859-1",
        "iso8859-1",
        "iso_8859-1",
        "iso-ir-100",
        "latin1",
        "latin-1",
        "l1",
        "cp819",
        "ibm819",
        "windows-1252",
        "cp1252",
        "x-cp1252",
        "cp-1252",
    }
)

# Labels that say nothing about the bytes at all.
_UNKNOWN_LABELS = frozenset(
    {
        "",
        "unknown",
        "unknown-8bit",
        "x-unknown",
        "x-user-defined",
        "default",
        "charset",
        "binary",
        "8bit",
        "7bit",
        "none",
        "null",
    }
)

_UTF8_LABELS = frozenset({"utf-8", "utf8", "x-utf-8", "utf_8", "unicode-1-1-utf-8"})

# Labels Python does not know, or knows by a narrower name than mail uses.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "cp-850": "cp850",
}

# Python codecs that accept bytes but are not character sets a mail can use.
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)


def _normalise_label(charset: str | None) -> str:
    """Lower-case a charset label and drop the quoting and junk mailers add."""
    if not charset:
        return ""
    return charset.strip().strip("\"'").strip().lower()


def _western(data: bytes) -> str:
    """Decode 8-bit Western text: UTF-8 if the bytes are valid UTF-8, else windows-1252.

    Valid multi-byte UTF-8 sequences practically never occur by chance in
    windows-1252 text, so trying UTF-8 first fixes the common "UTF-8 labelled
    iso-8859-1" mistake without breaking genuine Latin-1 mail.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode ``data`` labelled with ``charset``; return the text and a defect note or ``None``.

    Never raises: unknown labels fall back to UTF-8 / windows-1252 and bad
    bytes become U+FFFD, because a message must still be readable by a person
    even if its sender's software got the label wrong.
    """
    if data.isascii():
        # ASCII is the same in every charset mail uses in practice (UTF-7 and
        # the ISO-2022 family are the exceptions, handled by their codecs).
        label = _normalise_label(charset)
        if not label.startswith(("utf-7", "unicode-1-1-utf-7", "iso-2022", "hz")):
            return data.decode("ascii"), None
    label = _normalise_label(charset)
    if label in _UTF8_LABELS:
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace"), "invalid utf-8 bytes replaced"
    if label in _WESTERN_LABELS:
        return _western(data), None
    if label in _UNKNOWN_LABELS:
        note = None if not label else f"charset {label!r} guessed"
        return _western(data), note
    name = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return _western(data), f"unknown charset {label[:40]!r}"
    if info.name in _NOT_CHARSETS:
        return _western(data), f"unusable charset {label[:40]!r}"
    try:
        text = data.decode(info.name)
    except UnicodeDecodeError:
        return data.decode(info.name, "replace"), f"invalid {info.name} bytes replaced"
    except (LookupError, ValueError, TypeError):
        # A codec that is not a text encoding (zlib, base64 ...) raises LookupError.
        return _western(data), f"unusable charset {label[:40]!r}"
    return text, None


# ---------------------------------------------------------------------------
# Quoted history


_WROTE = re.compile(
    r"^\s*+(?:on|am|le|el|op|il|den|på|em)\s.{0,400}?"
    r"(?:wrote|schrieb|a écrit|escribió|schreef|ha scritto|skrev|escreveu)\s*+:\s*+$",
    re.IGNORECASE,
)
_WROTE_START = re.compile(r"^\s*+(?:on|am|le|el|op|il|den|på|em)\s", re.IGNORECASE)
_HARD_MARKERS = re.compile(
    r"^\s*+(?:"
    r"-{2,}+\s*+(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"oorspronkelijk bericht|originalmeddelande|opprinnelig melding|alkuperäinen viesti|"
    r"messaggio originale|mensagem original)\s*+-{2,}"
    r"|_{10,}+\s*+$"
    r"|begin forwarded message\s*+:"
    r"|-{3,}+\s*+forwarded message\s*+-{3,}"
    r"|-{3,}+\s*+(?:weitergeleitete nachricht|message transféré)\s*+-{3,}"
    r")",
    re.IGNORECASE,
)
_FROM_LINE = re.compile(r"^\s*+\**+(?:from|von|de|van|från|fra|da)\s*+:\**\s*+\S", re.IGNORECASE)
_BLOCK_FIELD = re.compile(
    r"^\s*+\**+(?:(sent|date|gesendet|datum|envoyé|enviado|verzonden|skickat|sendt|inviato|data)"
    r"|(to|an|à|a|aan|till|til|para|cc)"
    r"|(subject|betreff|objet|onderwerp|asunto|ämne|emne|oggetto|assunto))\s*+:",
    re.IGNORECASE,
)
# Every line any marker above can start with; a text without one is all new.
_CANDIDATE = re.compile(
    r"^[ \t]*+(?:[>_-]|\**+(?:from|von|de|van|från|fra|da)\s*:|begin forwarded"
    r"|(?:on|am|le|el|op|il|den|på|em)\s)",
    re.MULTILINE | re.IGNORECASE,
)


def _is_header_block(lines: list[str], index: int) -> bool:
    """True if ``lines[index]`` starts a "From: / Sent: / To: / Subject:" block.

    Outlook writes that block above the quoted message; two of the three
    field kinds (date, recipients, subject) within the next six lines are
    required, so that a sentence starting "From:" in the new text is kept.
    """
    kinds: set[int] = set()
    for line in lines[index + 1 : index + 7]:
        match = _BLOCK_FIELD.match(line)
        if match:
            kinds.add(match.lastindex or 0)
    return len(kinds) >= 2


def split_quoted(text: str) -> str:
    """The new part of a message: ``text`` without quoted history or forwarded chains.

    Cuts at the first "On ... wrote:" line (possibly wrapped over three
    lines), Outlook's "-----Original Message-----", a "From: ... Sent: ...
    To: ... Subject:" block, a "____" separator or "Begin forwarded message:";
    lines quoted with ">" above that point are dropped, so that interleaved
    answers survive.
    """
    if not _CANDIDATE.search(text):
        # Most new messages hold no marker at all; skip the line loop.
        return text.strip()
    lines = text.split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if not line or line.isspace():
            continue
        if _HARD_MARKERS.match(line):
            cut = i
            break
        if _FROM_LINE.match(line) and _is_header_block(lines, i):
            cut = i
            break
        if _WROTE_START.match(line) and any(
            _WROTE.match(" ".join(lines[i : i + n])) for n in (1, 2, 3)
        ):
            cut = i
            break
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()
