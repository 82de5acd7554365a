"""Outlook's ``winmail.dat`` (TNEF): the body and files Outlook packed into one attachment.

Outlook in "rich text" mode sends the real body and every attached file
inside ``application/ms-tnef``; the visible MIME body may be almost empty.
tnefparse unpacks it; the files come back as children, to be checked and
read like any other attachment (named ``winmail.dat/<file>``), and the body
(plain, HTML, or compressed RTF) comes back for the message reader.
"""

from __future__ import annotations

from typing import Any

from ingest.forms.rtf import rtf_to_text, rtf_wrapped_html
from ingest.forms.types import Blob, MessageBody, ReadResult

__all__ = ["read_tnef"]

_MAX_CHILDREN = 50


def _as_text(value: Any, codepage: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            return value.decode(codepage, "replace").rstrip("\x00")
        except LookupError:
            return value.decode("cp1252", "replace").rstrip("\x00")
    if isinstance(value, list):
        return "".join(_as_text(v, codepage) or "" for v in value) or None
    return str(value).rstrip("\x00")


def _body(tnef: Any) -> MessageBody | None:
    codepage = tnef.codepage or "cp1252"
    text = _as_text(tnef.body, codepage)
    html = _as_text(tnef.htmlbody, "utf-8")
    if not text and not html:
        rtf = tnef.rtfbody
        if isinstance(rtf, bytes) and rtf:
            html = rtf_wrapped_html(rtf)
            if not html:
                text = rtf_to_text(rtf)
    if not (text and text.strip()) and not (html and html.strip()):
        return None
    return MessageBody(text=text or None, html=html or None)


def read_tnef(blob: Blob) -> ReadResult:
    """Unpack a TNEF stream into its body and files; nothing is read as a form here."""
    from tnefparse.tnef import TNEF

    try:
        tnef = TNEF(blob.data, do_checksum=False)
    except Exception as exc:
        return ReadResult("unreadable", f"not a readable TNEF file ({type(exc).__name__})")
    children: list[Blob] = []
    for attachment in tnef.attachments[:_MAX_CHILDREN]:
        data = attachment.data if isinstance(attachment.data, bytes) else b""
        try:
            name = attachment.long_filename() or attachment.name or None
        except Exception:
            name = None
        if isinstance(name, bytes):
            name = name.decode("cp1252", "replace")
        if hasattr(attachment, "embed"):
            children.append(Blob(name or "embedded-message.dat", "application/ms-tnef", data))
        elif data:
            children.append(Blob(name, "application/octet-stream", data))
    try:
        body = _body(tnef)
    except Exception:
        body = None
    if body is None and not children:
        return ReadResult("no-form", "TNEF holds no body text and no files")
    return ReadResult("read", f"TNEF unpacked: {len(children)} file(s)", (), tuple(children), body)
