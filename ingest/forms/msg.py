"""Outlook ``.msg`` files attached to a message (often a forwarded escalation).

extract-msg opens the OLE compound file; its sender, date and body come
back as a :class:`~ingest.forms.types.MessageBody` for the message reader
(so a forward inside it is followed too), and its own attachments, embedded
messages included, come back as children to be checked and read in turn.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from ingest.forms.dates import search_date
from ingest.forms.forwards import parse_sender
from ingest.forms.rtf import rtf_to_text
from ingest.forms.types import Blob, MessageBody, ReadResult

__all__ = ["read_msg"]

_MAX_CHILDREN = 50


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("cp1252", "replace")
    return str(value)


def _date(message: Any) -> str | None:
    try:
        value = message.date
    except Exception:
        value = None
    if isinstance(value, datetime):
        return value.date().isoformat()
    try:
        header = message.header
        raw = header["date"] if header is not None else None
    except Exception:
        raw = None
    return search_date(str(raw)) if raw else None


def _children(message: Any) -> list[Blob]:
    children: list[Blob] = []
    for attachment in list(message.attachments)[:_MAX_CHILDREN]:
        try:
            name = attachment.longFilename or attachment.shortFilename or None
            data = attachment.data
            if isinstance(data, bytes):
                mime = getattr(attachment, "mimetype", None) or "application/octet-stream"
                children.append(Blob(name, str(mime), data))
            elif data is not None and hasattr(data, "exportBytes"):
                children.append(
                    Blob(name or "embedded.msg", "application/vnd.ms-outlook", data.exportBytes())
                )
        except Exception:
            continue
    return children


def read_msg(blob: Blob) -> ReadResult:
    """Open an Outlook message file; its body and files are read by the caller."""
    import extract_msg

    message: Any
    try:
        message = extract_msg.openMsg(blob.data, strict=False, delayAttachments=False)
    except Exception as exc:
        return ReadResult("unreadable", f"not a readable Outlook message ({type(exc).__name__})")
    try:
        name, email = parse_sender(_text(message.sender) or "")
        text = _text(message.body)
        try:
            html = _text(message.htmlBody)
        except Exception:
            html = None
        if not text and not html:
            try:
                rtf = message.rtfBody
            except Exception:
                rtf = None
            text = rtf_to_text(rtf) if isinstance(rtf, bytes) else None
        body = MessageBody(
            text=text,
            html=html,
            sender_name=name,
            sender_email=email,
            date=_date(message),
            subject=_text(message.subject) or "",
        )
        children = _children(message)
    except Exception as exc:
        return ReadResult("unreadable", f"Outlook message could not be read ({type(exc).__name__})")
    finally:
        with contextlib.suppress(Exception):
            message.close()
    return ReadResult(
        "read", f"Outlook message: {len(children)} file(s)", (), tuple(children), body
    )
