"""Rendering outgoing mail from Jinja2 templates (pure apart from reading templates).

Templates live in ``templates/_default/<audience>/<kind>.<part>.j2`` and a
partnership may override any of them in ``templates/<partnership>/...``.
Each kind has a ``subject`` and a ``txt`` part. The context handed to a
template is built here from case metadata only: nothing from the incoming
message (its subject, its body) is ever in it, so a template cannot put a
child's name into a subject line even by mistake. ``StrictUndefined`` turns
a misspelt variable into an error instead of an empty string.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from ingest.classify import OWN_MAIL_HEADER, own_header_signature
from tracker.errors import TrackerError
from tracker.refcode import subject_tag

#: CRLF line ends (RFC 5321 §2.3.8); no folding of our short headers (a folded
#: Message-ID trips some parsers).
_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)
#: UTF-8 bodies as quoted-printable: readable in any client, 7-bit safe on any relay.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP

_SAFE_SUBJECT = re.compile(r"^[\w .,:;!?()'&/\-\[\]]*$")


class TemplateError(TrackerError):
    """A template is missing or does not render; raised before anything is queued."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


class Renderer:
    """Finds and renders templates, preferring the partnership's own copy."""

    def __init__(self, templates_dir: Path, own_key: bytes = b"") -> None:
        self.templates_dir = templates_dir
        #: Signs our header in every mail rendered here (:func:`stamp_headers`).
        self.own_key = own_key
        self._envs: dict[str, Environment] = {}

    def _env(self, partnership: str) -> Environment:
        env = self._envs.get(partnership)
        if env is None:
            search = [self.templates_dir / partnership, self.templates_dir / "_default"]
            env = Environment(
                loader=FileSystemLoader([str(p) for p in search]),
                undefined=StrictUndefined,
                autoescape=False,
                keep_trailing_newline=True,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            self._envs[partnership] = env
        return env

    def missing(self, partnership: str, names: set[str]) -> list[str]:
        """Template files a rule file names that are missing."""
        problems = []
        for name in sorted(names):
            for part in ("subject", "txt"):
                rel = f"{name}.{part}.j2"
                if not any(
                    (self.templates_dir / d / rel).exists() for d in (partnership, "_default")
                ):
                    problems.append(f"template {rel} not found in {self.templates_dir}")
        return problems

    def render(self, partnership: str, name: str, context: Mapping[str, object]) -> Rendered:
        """Render ``<name>.subject.j2`` and ``<name>.txt.j2`` (e.g. ``sender/ack``)."""
        env = self._env(partnership)
        try:
            subject = env.get_template(f"{name}.subject.j2").render(context)
            text = env.get_template(f"{name}.txt.j2").render(context)
        except TemplateNotFound as exc:
            raise TemplateError(f"template {exc.name} not found in {self.templates_dir}") from exc
        except Exception as exc:  # Jinja raises many types; all mean "fix the template".
            raise TemplateError(f"template {name} for {partnership}: {exc}") from exc
        subject = " ".join(subject.split())
        return Rendered(subject=subject, text=text)


def neutral_subject(reference: str, phrase: str) -> str:
    """``[REF] phrase``, refusing anything but a short plain phrase.

    The phrase comes from a template an operator may edit; restricting it to
    plain words keeps identifiers and header injection out of subject lines.
    """
    phrase = phrase.strip()
    if len(phrase) > 80 or not _SAFE_SUBJECT.match(phrase):
        raise TemplateError("subject phrase must be a short plain phrase")
    return f"{subject_tag(reference)} {phrase}".strip()


def stamp_headers(
    msg: Message,
    *,
    from_addr: str,
    to: str,
    subject: str,
    date: datetime,
    message_id: str,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    tracker_header: str,
    auto_submitted: str | None,
    own_key: bytes = b"",
) -> None:
    """Set the headers every mail we send carries; the one place that stamps them.

    Loop prevention depends on them agreeing across every kind of mail: our
    own header (:data:`ingest.classify.OWN_MAIL_HEADER`) and the Message-ID
    let the classifier recognise a copy that comes back, and
    ``Auto-Submitted`` (RFC 3834) with ``X-Auto-Response-Suppress`` keeps
    well-behaved responders and Exchange's out-of-office replies quiet.
    ``auto_submitted`` is ``auto-replied`` for answers to a person's mail and
    ``auto-generated`` for periodic mail such as digests. With ``own_key`` our
    header ends in ``; sig=`` and :func:`ingest.classify.own_header_signature`
    of the Message-ID: the classifier believes the header only so signed.
    """
    msg["From"] = from_addr
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references[-10:])
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    if own_key:
        tracker_header = f"{tracker_header}; sig={own_header_signature(own_key, message_id)}"
    msg[OWN_MAIL_HEADER] = tracker_header


def text_part(subtype: str, body: str) -> MIMENonMultipart:
    """A ``text/<subtype>`` part in UTF-8, quoted-printable."""
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_QP)
    return part


def wire_bytes(msg: Message) -> bytes:
    """The message as it goes on the wire: CRLF line ends, our headers unfolded."""
    return msg.as_bytes(policy=_WIRE)


def build_message(
    *,
    from_addr: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    tracker_header: str,
    auto_submitted: str | None = "auto-replied",
    own_key: bytes = b"",
) -> bytes:
    """Assemble the RFC 5322 bytes of one outgoing mail (plain text, UTF-8).

    Built with the stdlib's ``compat32`` MIME classes: about six times faster
    than ``EmailMessage`` with the modern policy, which matters when a backlog
    of hundreds of acknowledgements is queued at once.
    """
    msg = text_part("plain", text)
    stamp_headers(
        msg,
        from_addr=from_addr,
        to=to,
        subject=subject,
        date=date,
        message_id=message_id,
        reply_to=reply_to,
        in_reply_to=in_reply_to,
        references=references,
        tracker_header=tracker_header,
        auto_submitted=auto_submitted,
        own_key=own_key,
    )
    return wire_bytes(msg)


def new_message_id(kind: str, reference: str, from_addr: str) -> str:
    """A fresh Message-ID (without brackets) fixed when the mail is queued."""
    domain = from_addr.rpartition("@")[2] or "localhost"
    return f"{secrets.token_hex(10)}.{kind}.{reference}@{domain}"


@dataclass(frozen=True)
class Mail:
    message_id: str
    data: bytes
    subject: str


def render_mail(
    renderer: Renderer,
    *,
    partnership: str,
    template: str,
    context: Mapping[str, object],
    kind: str,
    reference: str,
    from_addr: str,
    to: str,
    date: datetime,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> Mail:
    """Render ``template`` and assemble the mail: ``[REF] phrase`` subject, our header, RFC 3834."""
    rendered = renderer.render(partnership, template, context)
    message_id = new_message_id(kind, reference, from_addr)
    subject = neutral_subject(reference, rendered.subject)
    data = build_message(
        from_addr=from_addr,
        to=to,
        reply_to=reply_to,
        subject=subject,
        text=rendered.text,
        message_id=message_id,
        date=date,
        in_reply_to=in_reply_to,
        references=references,
        tracker_header=f"{reference}; kind={kind}",
        own_key=renderer.own_key,
    )
    return Mail(message_id, data, subject)
