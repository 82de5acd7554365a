"""The digest as one mail: plain text, and HTML with its chart inline.

Structure (what Outlook, Gmail and Apple Mail all display with the picture
in place and without an attachment to open)::

    multipart/alternative
     ├─ text/plain                       (read by text-only clients and screen readers)
     └─ multipart/related; type="text/html"
         ├─ text/html                    (<img src="cid:...">)
         └─ image/png; Content-ID: <...>; inline

Headers follow :func:`tracker.notify.build_message`: our tracking header (so
the classifier recognises the digest if it ever comes back), and
``Auto-Submitted: auto-generated`` (RFC 3834: a periodic report, not a reply).
"""

from __future__ import annotations

from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime

from ingest.classify import OWN_MAIL_HEADER

_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _text(subtype: str, body: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_QP)
    return part


def chart_cid(message_id: str) -> str:
    """A Content-ID unique to this mail (without brackets)."""
    local, _, domain = message_id.partition("@")
    return f"chart.{local}@{domain or 'localhost'}"


def build_digest_mail(
    *,
    from_addr: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    chart_png: bytes,
    cid: str,
    message_id: str,
    date: datetime,
    reply_to: str | None,
    tracker_header: str,
) -> bytes:
    related = MIMEMultipart("related", type="text/html")
    related.attach(_text("html", html))
    image = MIMEImage(chart_png, "png")
    image["Content-ID"] = f"<{cid}>"
    image.add_header("Content-Disposition", "inline", filename="open-cases-by-stage.png")
    related.attach(image)

    msg = MIMEMultipart("alternative")
    msg.attach(_text("plain", text))
    msg.attach(related)
    msg["From"] = from_addr
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = f"<{message_id}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[OWN_MAIL_HEADER] = tracker_header
    return msg.as_bytes(policy=_WIRE)
