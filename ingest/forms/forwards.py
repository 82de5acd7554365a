"""Forwarded and quoted chains: who first wrote, and which text is theirs.

Practitioners' managers forward escalations ("see below"), and Outlook,
Gmail and Apple Mail each mark the forwarded message differently:

* ``-----Original Message-----`` followed by From/Sent/To/Subject lines;
* a bare Outlook header block ``From: … Sent: … To: … Subject: …``;
* ``---------- Forwarded message ---------`` (Gmail) or ``Begin forwarded
  message:`` (Apple) followed by From/Date/Subject/To lines;
* ``On <date>, <name> <address> wrote:`` above ">"-quoted text.

:func:`split_segments` cuts the rows at each marker. Segment 0 is what the
sender wrote; segment *n* is the *n*-th message down the chain, with the
sender and date its header block gives. The last segment with a sender is
the original escalation: its practitioner is the raiser, not the forwarder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.forms.dates import search_date
from ingest.forms.labels import split_name
from ingest.forms.text_form import MAX_LINES, Row

__all__ = ["FORWARD_SUBJECT", "REPLY_SUBJECT", "Segment", "parse_sender", "split_segments"]

_HARD = re.compile(
    r"^\s*+(?:-{2,}+\s*+original message\s*+-{2,}+"
    r"|-{3,}+\s*+forwarded message\s*+-{3,}+"
    r"|begin forwarded message\s*+:"
    r"|-{2,}+\s*+forwarded by .{0,120}-{2,}+)\s*+$",
    re.IGNORECASE,
)
_HEADER = re.compile(
    r"^\s*+(?:\*++\s*+)?(?P<key>from|sent|date|to|cc|subject|importance|reply-to)"
    r"\s*+(?:\*++\s*+)?:\s*+(?:\*++\s*+)?(?P<value>.*)$",
    re.IGNORECASE,
)
_WROTE_START = re.compile(r"^\s*on\s", re.IGNORECASE)
_WROTE = re.compile(r"^\s*+on\s.{0,300}?\bwrote\s*+:\s*+$", re.IGNORECASE)
_WROTE_SENDER = re.compile(
    r",\s*(?P<name>[^,<>]*?)\s*<(?P<email>[^<>@\s]+@[^<>\s]+)>\s*wrote", re.IGNORECASE
)
#: Starts only where a run of address characters starts, and reads that run once: a long
#: word without "@" is one failed attempt, not one per character.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+'\-])[A-Za-z0-9._%+'\-]++@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
#: The local part stops at the first "@" (possessive): "<" and a run of "@"s no longer
#: tries every "@" as the separator.
_ANGLE = re.compile(r"<([^<>\s@]++@[^<>\s]++)>")
_QUOTE = re.compile(r"^(?:\s*+>)++ ?")
_MAILTO = re.compile(r"\[mailto:([^\]]+)\]", re.IGNORECASE)
#: Subject prefixes that say "forwarded" in the languages Outlook and Gmail use here.
FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:fw|fwd|tr|wg|rv)\s*:", re.IGNORECASE)
#: Subject prefixes of a reply: quoted history below a reply is not a forwarded escalation.
REPLY_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:re|aw|sv|antw|vs)\s*:", re.IGNORECASE)


@dataclass
class Segment:
    """One message of a chain: its rows and, below the top, what its header block said."""

    index: int
    rows: list[Row] = field(default_factory=list)
    sender_name: str | None = None
    sender_email: str | None = None
    date: str | None = None


def parse_sender(value: str) -> tuple[str | None, str | None]:
    """(name, address) from a From value as clients print it; either may be None.

    Handles "Name <addr>", Outlook's "Last, First [mailto:addr]", a bare
    address and a bare display name (Exchange often prints no address).
    """
    value = _MAILTO.sub(r"<\1>", value.replace("*", "")).strip()
    angle = _ANGLE.search(value)
    if angle:
        address = angle.group(1).strip()
        name = value[: angle.start()].strip()
    else:
        found = _EMAIL.search(value)
        address = found.group(0) if found else ""
        name = _EMAIL.sub("", value).strip()
    name = name.strip(" \"'<>")
    clean_name = split_name(name) if name and "@" not in name else None
    return clean_name or None, address.lower() or None


def _unquote(line: str) -> str:
    return _QUOTE.sub("", line)


def _header_block_at(lines: list[str], start: int) -> bool:
    """True if an Outlook-style From line at ``start`` heads a message's header block.

    A From line alone may be a form field ("From: Sam (Practitioner)"); a
    header block also has a date (Sent/Date) and a Subject or To within the
    next eight lines.
    """
    kinds: set[str] = set()
    for line in lines[start + 1 : start + 9]:
        match = _HEADER.match(_unquote(line))
        if match:
            key = match.group("key").lower()
            kinds.add("date" if key in ("sent", "date") else key)
    return "date" in kinds and bool(kinds & {"subject", "to"})


def _is_from(line: str) -> bool:
    match = _HEADER.match(line)
    return match is not None and match.group("key").lower() == "from"


def _wrote_lines(lines: list[str], index: int) -> int:
    """How many lines (1 to 3) an "On … wrote:" attribution at ``index`` spans; 0 if none."""
    for count in (1, 2, 3):
        joined = " ".join(_unquote(x).strip() for x in lines[index : index + count])
        if _WROTE.match(joined):
            return count
    return 0


def _wrote_segment(index: int, attribution: str) -> Segment:
    """A segment whose sender and date come from an "On … wrote:" line."""
    segment = Segment(index)
    found = _WROTE_SENDER.search(attribution)
    if found:
        segment.sender_name = split_name(found.group("name")) or None
        segment.sender_email = found.group("email").lower()
    else:
        email = _EMAIL.search(attribution)
        segment.sender_email = email.group(0).lower() if email else None
    segment.date = search_date(attribution)
    return segment


def split_segments(rows: list[Row]) -> list[Segment]:
    """The chain in ``rows``, top message first; quoting (">") removed from lower segments."""
    items: list[Row] = []
    for row in rows:
        if len(row.cells) == 1:
            items.extend(Row((line,)) for line in row.cells[0].split("\n"))
        else:
            items.append(row)
        if len(items) > MAX_LINES:
            del items[MAX_LINES:]
            break
    lines = [row.cells[0] if len(row.cells) == 1 else "" for row in items]
    segments = [Segment(0)]
    index = 0
    while index < len(items):
        line = _unquote(lines[index]) if len(items[index].cells) == 1 else ""
        start_header: int | None = None
        if _HARD.match(line):
            start_header = index + 1
        elif _is_from(line) and _header_block_at(lines, index):
            start_header = index
        elif _WROTE_START.match(line):
            wrote = _wrote_lines(lines, index)
            if wrote:
                joined = " ".join(_unquote(x).strip() for x in lines[index : index + wrote])
                segments.append(_wrote_segment(len(segments), joined))
                index += wrote
                continue
        if start_header is None:
            item = items[index]
            if len(item.cells) == 1 and len(segments) > 1:
                item = Row((_unquote(item.cells[0]),))
            segments[-1].rows.append(item)
            index += 1
            continue
        segment = Segment(len(segments))
        cursor = start_header
        while cursor < len(lines) and not lines[cursor].strip() and cursor < start_header + 3:
            cursor += 1
        last_key = ""
        while cursor < len(lines):
            match = _HEADER.match(_unquote(lines[cursor]))
            if match:
                last_key = match.group("key").lower()
                value = match.group("value").strip()
                if last_key == "from":
                    segment.sender_name, segment.sender_email = parse_sender(value)
                elif last_key in ("sent", "date"):
                    segment.date = search_date(value)
                cursor += 1
            elif last_key in ("to", "cc") and lines[cursor].strip() and "@" in lines[cursor]:
                cursor += 1  # a recipient list wrapped onto the next line
            else:
                break
        segments.append(segment)
        index = max(cursor, index + 1)
    return segments
