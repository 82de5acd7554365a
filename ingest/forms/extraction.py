"""One parsed message in, an :class:`Extraction` out: bodies, forwards, attachments, fields.

The message is read from the MIME tree :func:`ingest.parse.parse` kept in
``ParsedEmail.mime`` (the stdlib's compat32 tree, the same tolerance for
broken MIME as the rest of ingest): the bytes are parsed once. Body text
and attached messages are read here; every other attached file goes
through :mod:`ingest.forms.safety` and then, if allowed, to its reader in a
killable worker process (:mod:`ingest.forms.isolation`). Files inside files
(a PDF in a ``winmail.dat``, a Word form in an attached ``.msg``, the files
of an attached e-mail, whose bytes are parsed on their own) are checked and
read the same way, under the same size, time and depth allowances.

An attachment over the size limit should have been cut out when the message
was parsed (``parse(data, max_attachment_bytes=limits.max_attachment_bytes)``,
:mod:`ingest.parse.oversize`), so its size never multiplies in the stdlib
parser; its marker is reported here with the real size and SHA-256. A
message parsed without a limit (or another one) is still read correctly:
an over-limit part left in the tree is hashed from its encoded text.

Nothing here raises: whatever fails becomes an attachment report or a
missing field, and whatever was read before the failure is kept. Logs carry
counts and statuses only.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

from ingest.forms.dates import iso_date
from ingest.forms.forwards import FORWARD_SUBJECT, REPLY_SUBJECT, Segment, split_segments
from ingest.forms.html_form import html_to_rows
from ingest.forms.inference import infer_category, signature_agency
from ingest.forms.isolation import run_isolated
from ingest.forms.labels import split_name
from ingest.forms.merge import Candidate, merge
from ingest.forms.registry import (
    find_reader,
    is_message,
    not_a_form,
    structural_problem,
)
from ingest.forms.safety import blocked_reason, sha256_of_encoded
from ingest.forms.text_form import count_table_labels, read_rows, rows_from_text
from ingest.forms.types import (
    AttachmentReport,
    Blob,
    Extraction,
    FieldValue,
    FormLimits,
    ReadResult,
)
from ingest.parse import mime
from ingest.parse.body import decode_bytes
from ingest.parse.headers import parse_addresses, parse_date
from ingest.parse.mime import MessageReader
from ingest.parse.subject import decode_subject
from ingest.parse.types import Elided, ParsedEmail

__all__ = ["extract"]

log = logging.getLogger(__name__)

_MAX_DEPTH = 4
_MAX_FILES = 60
_MAX_BODY_CHARS = 2_000_000
_MAX_MIME_DEPTH = 60
#: A message may spend this many per-file timeouts on all its files together.
_TIME_BUDGET_FACTOR = 5
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([-\w.:]+)""", re.I)
_INLINE_DOB = re.compile(
    r"\b(?:d\.?o\.?b\.?|date of birth)\s*+(?:(?:is|:|-|–)\s*+)?"
    r"(\d{1,2}\s*+[/.\-]\s*+\d{1,2}\s*+[/.\-]\s*+\d{2,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s++[A-Za-z]{3,9}\.?\s++\d{4})",
    re.IGNORECASE,
)
_CONFIDENCE_INLINE_DOB = 0.6
_CONFIDENCE_HEADER_NAME = 0.5
_CONFIDENCE_HEADER_EMAIL = 0.9
_CONFIDENCE_FALLBACK = 0.5
_CONFIDENCE_INFERRED = 0.4


@dataclass
class _Origin:
    """Who wrote a message of a chain, when, and the agency their signature names."""

    name: str | None
    email: str | None
    date: str | None
    agency: str | None
    source: str


@dataclass
class _MessageInfo:
    """What one message (the top one, or an attached one) says about itself."""

    sender: _Origin
    subject: str
    inline_origin: _Origin | None = None
    attached: list[_MessageInfo] = field(default_factory=list)
    has_fields: bool = False


class _Extractor:
    def __init__(self, limits: FormLimits) -> None:
        self.limits = limits
        self.candidates: list[Candidate] = []
        self.reports: list[AttachmentReport] = []
        #: Sources of attached e-mails (see Extraction.attached_messages).
        self.attached_messages: list[str] = []
        self.used_bytes = 0
        self.elided: Mapping[bytes, Elided] = {}
        self.parsed_limit: int | None = None
        """The ``max_attachment_bytes`` the message was parsed with."""
        self.prose: list[str] = []
        """Text of the bodies read, for guessing a category when no form gives one."""
        self.deadline = time.monotonic() + limits.parse_timeout_seconds * _TIME_BUDGET_FACTOR

    # -- candidates --------------------------------------------------------

    def offer(
        self, name: str, value: str | None, source: str, confidence: float, fallback: bool = False
    ) -> None:
        if value:
            self.candidates.append(Candidate(FieldValue(name, value, source, confidence), fallback))

    # -- bodies ------------------------------------------------------------

    def read_body(
        self, text: str | None, html: str | None, base: str | None, info: _MessageInfo
    ) -> None:
        """Read one message body (plain and/or HTML) into candidates and ``info``.

        ``base`` is None for the top-level message (sources "body",
        "html-table", "forwarded:N") and "attachment:<path>" for a message
        inside a file.
        """
        html_rows = html_to_rows(html[:_MAX_BODY_CHARS]) if html else []
        plain = (text or "")[:_MAX_BODY_CHARS]
        if html_rows and (count_table_labels(html_rows) >= 2 or not plain.strip()):
            rows, from_html = html_rows, True
        else:
            rows, from_html = rows_from_text(plain), False
        segments = split_segments(rows)
        for segment in segments:
            if segment.index == 0:
                table_source = base or ("html-table" if from_html else "body")
                text_source = base or "body"
            else:
                suffix = f"forwarded:{segment.index}"
                table_source = text_source = f"{base}/{suffix}" if base else suffix
            for found in read_rows(segment.rows):
                source = table_source if found.in_table else text_source
                self.offer(found.name, found.value, source, found.confidence)
                info.has_fields = True
            lines = _segment_lines(segment)
            if sum(map(len, self.prose)) < _MAX_BODY_CHARS:
                self.prose.append("\n".join(lines))
            for line in lines:
                match = _INLINE_DOB.search(line)
                if match:
                    self.offer(
                        "child_dob", iso_date(match.group(1)), text_source, _CONFIDENCE_INLINE_DOB
                    )
        info.sender.agency = info.sender.agency or signature_agency(segments[0].rows)
        deepest = next((s for s in reversed(segments[1:]) if s.sender_name or s.sender_email), None)
        if deepest is not None and info.inline_origin is None:
            suffix = f"forwarded:{deepest.index}"
            info.inline_origin = _Origin(
                deepest.sender_name,
                deepest.sender_email,
                deepest.date,
                signature_agency(deepest.rows),
                f"{base}/{suffix}" if base else suffix,
            )

    # -- MIME --------------------------------------------------------------

    def read_parsed(self, email: ParsedEmail) -> _MessageInfo:
        """Read a message that comes without its MIME tree: its sender and decoded text only."""
        sender = email.from_
        info = _MessageInfo(
            sender=_Origin(
                split_name(sender.name) or None if sender and sender.name else None,
                sender.addr if sender and "@" in sender.addr else None,
                email.date.date().isoformat() if email.date else None,
                None,
                "header",
            ),
            subject=email.subject,
        )
        self.read_body(email.text, None, None, info)
        return info

    def read_message(self, root: Message, path: str, depth: int) -> _MessageInfo:
        """Read a parsed message: headers, body, then its attachments."""
        defects: list[str] = []
        senders = parse_addresses([str(v) for v in root.get_all("from") or []])
        sender = next((a for a in senders if "@" in a.addr), senders[0] if senders else None)
        sent = parse_date(str(root.get("date") or "") or None)
        base = f"attachment:{path.rstrip('/')}" if path else None
        info = _MessageInfo(
            sender=_Origin(
                split_name(sender.name) or None if sender and sender.name else None,
                sender.addr if sender and "@" in sender.addr else None,
                sent.date().isoformat() if sent else None,
                None,
                base or "header",
            ),
            subject=decode_subject(str(root.get("subject") or "") or None),
        )
        reader = MessageReader(root, defects, "\n")
        plains: list[str] = []
        htmls: list[str] = []
        attachments: list[Message] = []
        for part in _leaves(root):
            leaf = reader.leaf(part)
            if leaf.body_kind is None:
                attachments.append(part)
                continue
            body = _decode_body(reader, part, leaf.body_kind == "html")
            (htmls if leaf.body_kind == "html" else plains).append(body)
        self.read_body("\n\n".join(plains), "\n".join(htmls), base, info)
        for part in attachments[:_MAX_FILES]:
            self.mime_attachment(reader, part, path, depth, info)
        return info

    def mime_attachment(
        self, reader: MessageReader, part: Message, path: str, depth: int, info: _MessageInfo
    ) -> None:
        """Hash an attached part; read it unless it is too large or must not be opened."""
        leaf = reader.leaf(part)
        limit = self.limits.max_attachment_bytes
        encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
        encoded = part.get_payload() if not part.is_multipart() else None
        if encoding == "base64" and isinstance(encoded, str) and len(encoded) // 4 * 3 > limit:
            # Over the limit: hash it slice by slice, never holding a decoded copy.
            size, digest = sha256_of_encoded(encoded, encoding)
            if size > limit:
                head = _decode_head(encoded)
                reason = blocked_reason(leaf.filename, head)
                status = "blocked" if reason else "too-large"
                reason = reason or f"{size} bytes, over the {limit}-byte limit; not read"
                self.report(path, leaf.filename, leaf.content_type, size, digest, status, reason)
                return
        data = reader.payload(part)
        elided = self.elided.get(data) if encoding == "base64" else None
        if elided is not None:
            # Over the limit the message was parsed with, which may be lower than ours.
            over = limit if elided.size > limit else self.parsed_limit
            reason = blocked_reason(leaf.filename, elided.head)
            status = "blocked" if reason else "too-large"
            reason = reason or f"{elided.size} bytes, over the {over}-byte limit; not read"
            self.report(
                path, leaf.filename, leaf.content_type, elided.size, elided.sha256, status, reason
            )
            return
        self.file(Blob(leaf.filename, leaf.content_type, data), path, depth, info)

    # -- files -------------------------------------------------------------

    def report(
        self,
        path: str,
        filename: str | None,
        content_type: str,
        size: int,
        digest: str,
        status: str,
        reason: str,
    ) -> None:
        name = f"{path}{filename or '(unnamed)'}" if path else filename
        self.reports.append(AttachmentReport(name, content_type, size, digest, status, reason))

    def file(self, blob: Blob, path: str, depth: int, info: _MessageInfo) -> None:
        """Check one file and read it (in a worker, unless it is an e-mail message)."""
        size = len(blob.data)
        digest = hashlib.sha256(blob.data).hexdigest()

        def report(status: str, reason: str) -> None:
            self.report(path, blob.filename, blob.content_type, size, digest, status, reason)

        limit = self.limits.max_attachment_bytes
        if len(self.reports) >= _MAX_FILES:
            report("unreadable", "too many files in one message; not read")
            return
        if size > limit:
            report("too-large", f"{size} bytes, over the {limit}-byte limit; not read")
            return
        blocked = blocked_reason(blob.filename, blob.data)
        if blocked:
            report("blocked", blocked)
            return
        if depth >= _MAX_DEPTH:
            report("unreadable", "files nested too deeply; not read")
            return
        message = is_message(blob.filename, blob.content_type)
        entry = None if message else find_reader(blob)
        if not message and entry is None:
            if not_a_form(blob.filename, blob.content_type):
                report("no-form", "not a document; not read")
            else:
                report("unreadable", "no reader for this file type")
            return
        if self.used_bytes + size > self.limits.max_total_bytes:
            report("too-large", "this message's allowance of attachment bytes is used up")
            return
        self.used_bytes += size
        display = f"{path}{blob.filename or '(unnamed)'}"
        if message:
            # Reported before its own files, so that reports list outer files first.
            report("read", "attached message read")
            self.attached_messages.append(f"attachment:{display}")
            inner = self.read_message(mime.parse_bytes(blob.data, []), display + "/", depth + 1)
            info.attached.append(inner)
            return
        assert entry is not None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            report("timeout", "this message's time allowance for reading files is used up")
            return
        timeout = min(self.limits.parse_timeout_seconds, remaining)
        broken = structural_problem(entry.name, blob.data)
        if broken is not None:
            report("unreadable", broken)
            return
        result = run_isolated(entry.read, blob, timeout, self.limits.worker_memory_bytes)
        report(result.status, result.reason)
        self.take(result, display, depth, info)

    def take(self, result: ReadResult, display: str, depth: int, info: _MessageInfo) -> None:
        """Use what a reader returned: fields, a contained message body, contained files."""
        source = f"attachment:{display}"
        for found in result.fields:
            where = f"{source}/{found.where}" if found.where else source
            self.offer(found.name, found.value, where, found.confidence)
        body = result.body
        if body is not None:
            if body.sender_name or body.sender_email:
                self.attached_messages.append(source)
                inner = _MessageInfo(
                    sender=_Origin(body.sender_name, body.sender_email, body.date, None, source),
                    subject=body.subject,
                )
                self.read_body(body.text, body.html, source, inner)
                info.attached.append(inner)
            else:
                # A TNEF body is the message's own body, packed by Outlook.
                self.read_body(body.text, body.html, source, info)
        for child in result.children:
            self.file(child, display + "/", depth + 1, info)

    # -- the whole message -------------------------------------------------

    def run(self, email: ParsedEmail) -> Extraction:
        tree = email.mime
        if tree is None:
            info = self.read_parsed(email)
        else:
            self.elided, self.parsed_limit = tree.elided, tree.limit
            info = self.read_message(tree.root, "", 0)
        origin = _forward_origin(info)
        sender = origin or info.sender
        fallback_source = sender.source
        self.offer("raiser_name", sender.name, fallback_source, _CONFIDENCE_HEADER_NAME, True)
        self.offer("raiser_email", sender.email, fallback_source, _CONFIDENCE_HEADER_EMAIL, True)
        self.offer("form_date", sender.date, fallback_source, _CONFIDENCE_FALLBACK, True)
        self.offer("raiser_agency", sender.agency, "signature", _CONFIDENCE_FALLBACK, True)
        # The concern says what the disagreement is about; the whole body
        # (greetings, requested actions) only when no concern was found.
        concerns = [c.value.value for c in self.candidates if c.value.name == "concern"]
        category = infer_category([info.subject, *(concerns or self.prose)])
        self.offer("category", category, "inferred", _CONFIDENCE_INFERRED, True)
        return self.result(origin)

    def result(self, origin: _Origin | None) -> Extraction:
        fields, conflicts = merge(self.candidates)
        return Extraction(
            fields=fields,
            conflicts=conflicts,
            attachments=tuple(self.reports),
            original_sender=(origin.name, origin.email) if origin else None,
            original_date=origin.date if origin else None,
            attached_messages=tuple(self.attached_messages),
        )


def _forward_origin(info: _MessageInfo) -> _Origin | None:
    """The first writer of a forwarded message, or None if ``info`` is not a forward.

    An inline chain decides, unless the subject says the message is a reply
    (Outlook quotes a reply's history with the same header block as a
    forward, and the writer of a reply is its sender). Otherwise an attached
    message counts as the forwarded original when the subject says "FW:" or
    the sender wrote no form of their own (then the attachment is the
    escalation, not evidence).
    """
    if REPLY_SUBJECT.match(info.subject):
        return None
    if info.inline_origin is not None:
        return info.inline_origin
    if info.attached and (FORWARD_SUBJECT.match(info.subject) or not info.has_fields):
        inner = info.attached[0]
        return _forward_origin(inner) or inner.sender
    return None


def _segment_lines(segment: Segment) -> list[str]:
    return [
        line for row in segment.rows if len(row.cells) == 1 for line in row.cells[0].split("\n")
    ]


def _leaves(part: Message, depth: int = 0) -> list[Message]:
    """Every leaf of the MIME tree in document order; attached messages are leaves."""
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return [part]
    payload = part.get_payload()
    if depth >= _MAX_MIME_DEPTH or not isinstance(payload, list):
        return []
    leaves: list[Message] = []
    for child in payload:
        if isinstance(child, Message):
            leaves.extend(_leaves(child, depth + 1))
    return leaves


def _decode_body(reader: MessageReader, part: Message, html: bool) -> str:
    data = reader.payload(part)[: _MAX_BODY_CHARS * 2]
    charset = part.get_param("charset")
    label = collapse_rfc2231_value(charset) if charset else None
    if html and not label:
        match = _META_CHARSET.search(data, 0, 4096)
        if match:
            label = match.group(1).decode("ascii", "replace")
    text, _ = decode_bytes(data, label)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_head(encoded: str) -> bytes:
    """The first bytes of a base64 body, enough to recognise a program."""
    head = "".join(encoded[:200].split())[:64]
    try:
        return binascii.a2b_base64(head[: len(head) - len(head) % 4])
    except binascii.Error:
        return b""


_DEFAULT_LIMITS = FormLimits()


def extract(email: ParsedEmail, limits: FormLimits = _DEFAULT_LIMITS) -> Extraction:
    """Read every form and field a parsed message carries; never raises.

    ``email`` comes from ``parse(data, max_attachment_bytes=limits.max_attachment_bytes)``;
    its MIME tree is read, not parsed again. If reading fails half-way, what
    was read so far is returned.
    """
    extractor = _Extractor(limits)
    try:
        extraction = extractor.run(email)
    except Exception as exc:
        log.warning("forms: extraction stopped early (%s)", type(exc).__name__)
        try:
            extraction = extractor.result(None)
        except Exception:
            extraction = Extraction({}, (), tuple(extractor.reports), None, None)
    statuses = Counter(report.status for report in extraction.attachments)
    log.info(
        "forms: %d field(s), %d conflict(s), %d file(s) %s",
        len(extraction.fields),
        len(extraction.conflicts),
        len(extraction.attachments),
        dict(sorted(statuses.items())),
    )
    return extraction
