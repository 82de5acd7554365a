"""The digest as one mail: plain text, and HTML with its chart inline.

Structure (what Outlook, Gmail and Apple Mail all display with the picture
in place and without an attachment to open)::

    multipart/alternative
     ├─ text/plain                       (read by text-only clients and screen readers)
     └─ multipart/related; type="text/html"
         ├─ text/html                    (<img src="cid:...">)
         └─ image/png; Content-ID: <...>; inline

The headers are stamped by :func:`tracker.notify.stamp_headers`, the same
function as every other mail's: our tracking header (so the classifier
recognises the digest if it ever comes back), and ``Auto-Submitted:
auto-generated`` (RFC 3834: a periodic report, not a reply).
"""

from __future__ import annotations

from datetime import datetime
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart

from tracker.notify import stamp_headers, text_part, wire_bytes


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
    own_key: bytes = b"",
) -> bytes:
    """Assemble the digest's RFC 5322 bytes: text, and HTML with the chart as ``cid:``."""
    related = MIMEMultipart("related", type="text/html")
    related.attach(text_part("html", html))
    image = MIMEImage(chart_png, "png")
    image["Content-ID"] = f"<{cid}>"
    image.add_header("Content-Disposition", "inline", filename="open-cases-by-stage.png")
    related.attach(image)

    msg = MIMEMultipart("alternative")
    msg.attach(text_part("plain", text))
    msg.attach(related)
    stamp_headers(
        msg,
        from_addr=from_addr,
        to=to,
        subject=subject,
        date=date,
        message_id=message_id,
        reply_to=reply_to,
        tracker_header=tracker_header,
        auto_submitted="auto-generated",
        own_key=own_key,
    )
    return wire_bytes(msg)
