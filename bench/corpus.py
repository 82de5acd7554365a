"""A deterministic corpus of realistic escalation mail for the benchmark.

Every name, agency and domain here is fictional. The shape follows what a
partnership mailbox really receives from Outlook/Exchange:

* ``multipart/alternative`` with a quoted-printable ``text/plain`` part and a
  verbose HTML part full of MSO markup (``<o:p>``, ``class=MsoNormal``, a
  large ``<style>`` block), in ``windows-1252`` or ``utf-8``;
* some HTML-only messages (the parser has to turn HTML into text);
* about 20% with an attachment: a PDF-like or docx-like binary of 20-80 KB,
  base64 in a ``multipart/mixed``;
* about 40% replies to an earlier message of the set (``In-Reply-To`` and
  ``References``, a ``RE:`` subject and Outlook's quoted history);
* a few out-of-office replies and mailing-list messages;
* senders drawn from about 300 addresses across fictional agencies.

The same ``seed`` always gives the same bytes.
"""

from __future__ import annotations

import base64
import quopri
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

MAILBOX_ADDRESS = "sscp@solihull.gov.uk"
MAILBOX_DISPLAY = "SSCP Escalations"
TRUSTED_AUTHSERV_ID = "mx.solihull.gov.uk"

#: Kinds of generated message and what the tracker should make of each.
EXPECTED_OUTCOME = {
    "escalation": "case",
    "reply": "thread",
    "auto-reply": "ignored",
    "list": "ignored",
}

_FIRST = (
    "Amara", "Bethan", "Callum", "Delyth", "Eamon", "Fenella", "Gideon", "Harriet", "Idris",
    "Jolene", "Kieran", "Lowri", "Marcus", "Niamh", "Orla", "Perrin", "Quentin", "Rhiannon",
    "Soren", "Tamsin", "Ulric", "Verity", "Wren", "Yusuf", "Zara", "Anwen", "Bram", "Cerys",
    "Dario", "Elspeth", "Fintan", "Greer", "Hollis", "Imogen", "Jago", "Kezia",
)  # fmt: skip
_LAST = (
    "Ashdown", "Brindley", "Carrow", "Dunmore", "Elwick", "Farrant", "Garside", "Holloway",
    "Ingleby", "Jessop", "Kettering", "Lathom", "Marlow", "Nettleship", "Ormerod", "Pennock",
    "Quarrie", "Rowntree", "Salterne", "Thistlewood", "Upcott", "Varley", "Wedgewood", "Yeoman",
    "Abernethy", "Blenkinsop", "Crabtree", "Dimmock", "Fairweather", "Gillow",
)  # fmt: skip
#: (organisation, domain, job titles): fictional agencies of a safeguarding partnership.
_AGENCIES = (
    ("Brackenford Borough Council", "brackenford.gov.uk", ("Social Worker", "Team Manager")),
    ("Kestrelmoor Police", "kestrelmoor.police.uk", ("Detective Constable", "PPU Sergeant")),
    ("Ashvale Primary School", "ashvale-primary.sch.uk", ("Designated Safeguarding Lead",)),
    ("Thornbury Academy", "thornbury-academy.sch.uk", ("DSL", "Head of Year 9")),
    ("Wenlow Community Health", "wenlow-health.nhs.uk", ("Health Visitor", "School Nurse")),
    ("Marrowgate Hospitals Trust", "marrowgate.nhs.uk", ("Named Nurse Safeguarding",)),
    ("Fellside CAMHS", "fellside-camhs.nhs.uk", ("Clinical Psychologist", "CAMHS Nurse")),
    ("Haverleigh Council", "haverleigh.gov.uk", ("Early Help Worker", "IRO")),
    ("Oakhollow Probation", "oakhollow-probation.gov.uk", ("Probation Officer",)),
    ("Greystone Housing", "greystone-housing.org.uk", ("Tenancy Officer",)),
    ("Pellbridge Youth Service", "pellbridge-youth.org.uk", ("Youth Worker",)),
    ("Corvane GP Practice", "corvane-surgery.nhs.uk", ("GP Safeguarding Lead",)),
)
_CONCERNS = (
    "threshold decision", "step-down to early help", "strategy discussion outcome",
    "decision not to convene an ICPC", "closure of the referral", "delay in assessment",
    "no response to referral", "disagreement over the child protection plan",
    "transfer between local authorities", "missing episodes not followed up",
)  # fmt: skip
_CHILD = ("Child A", "Child B", "Child C", "the sibling group", "the young person", "Baby D")
_SENTENCES = (
    "I am writing to escalate the {concern} for {child} under the partnership’s escalation "
    "procedure.",
    "We discussed this with the duty team on {day} but were not able to reach agreement.",
    "From the school’s perspective the risks have increased since the last core group.",
    "Attendance has dropped to 71% and there have been two further disclosures.",
    "Mum has told the health visitor that the family may move out of area shortly.",
    "I have attached the chronology and the original referral for reference.",
    "Could you please confirm who will be reviewing this at stage 1 and by when?",
    "The strategy discussion notes do not reflect the information shared by police.",
    "We remain of the view that the threshold for section 47 enquiries is met.",
    "Please treat this as urgent; the next review is not until {day}.",
    "I have copied in my line manager, who is aware of the escalation.",
    "Our records show a referral on {day} that was closed with no further action.",
    "The £150 emergency payment was agreed but the family say it has not arrived.",
    "We would welcome a professionals’ meeting before the case is closed – any date works.",
)
_REPLY_SENTENCES = (
    "Thank you for your reply.",
    "Many thanks – I can attend the professionals’ meeting on {day}.",
    "Following our call, I have updated the chronology (attached).",
    "Just to add that the family did not attend the appointment on {day}.",
    "I have spoken to the team manager, who agrees the case should be reviewed.",
    "Apologies for the delay in responding; I was on leave last week.",
    "Could you confirm the outcome of the stage 1 review?",
    "Police have now completed their checks and will share the outcome separately.",
    "We are still concerned and would like to move to stage 2.",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "3 March", "10 March")

_MSO_STYLE = """<style><!--
/* Font Definitions */
@font-face
\t{font-family:"Cambria Math";
\tpanose-1:2 4 5 3 5 4 6 3 2 4;}
@font-face
\t{font-family:Calibri;
\tpanose-1:2 15 5 2 2 2 4 3 2 4;}
@font-face
\t{font-family:Aptos;}
/* Style Definitions */
p.MsoNormal, li.MsoNormal, div.MsoNormal
\t{margin:0cm;
\tfont-size:11.0pt;
\tfont-family:"Calibri",sans-serif;
\tmso-ligatures:standardcontextual;
\tmso-fareast-language:EN-US;}
a:link, span.MsoHyperlink
\t{mso-style-priority:99;
\tcolor:#0563C1;
\ttext-decoration:underline;}
span.EmailStyle17
\t{mso-style-type:personal-compose;
\tfont-family:"Calibri",sans-serif;
\tcolor:windowtext;}
.MsoChpDefault
\t{mso-style-type:export-only;
\tfont-family:"Calibri",sans-serif;
\tmso-fareast-language:EN-US;}
@page WordSection1
\t{size:612.0pt 792.0pt;
\tmargin:72.0pt 72.0pt 72.0pt 72.0pt;}
div.WordSection1
\t{page:WordSection1;}
--></style><!--[if gte mso 9]><xml>
<o:shapedefaults v:ext="edit" spidmax="1026" />
</xml><![endif]--><!--[if gte mso 9]><xml>
<o:shapelayout v:ext="edit">
<o:idmap v:ext="edit" data="1" />
</o:shapelayout></xml><![endif]-->"""

_HTML_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" '
    'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
    'xmlns="http://www.w3.org/TR/REC-html40">\n<head>\n'
    '<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
    '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n'
)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    title: str
    organisation: str
    domain: str

    @property
    def addr(self) -> str:
        return f"{self.first}.{self.last}@{self.domain}"

    @property
    def display(self) -> str:
        return f'"{self.last}, {self.first}" <{self.addr}>'


@dataclass(frozen=True)
class BenchMessage:
    """One generated message: its bytes, Message-ID (no brackets) and kind."""

    kind: str
    message_id: str
    data: bytes = field(repr=False)
    sender: str = ""


@dataclass
class _Thread:
    subject: str
    message_ids: list[str]
    last_text: str
    last_sender: Person
    last_date: datetime


def make_people(rng: random.Random, count: int, *, tag: str = "") -> list[Person]:
    """``count`` distinct fictional practitioners spread over the agencies."""
    people: list[Person] = []
    seen: set[tuple[str, str, str]] = set()
    while len(people) < count:
        org, domain, titles = rng.choice(_AGENCIES)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        if (first, last, domain) in seen:
            last = f"{last}{tag}{len(people)}"
        seen.add((first, last, domain))
        people.append(Person(first, last, rng.choice(titles), org, domain))
    return people


def _outlook_message_id(rng: random.Random) -> str:
    server = (
        f"{rng.choice(('LO2P265', 'CWLP265', 'LO4P265', 'DB9P265'))}MB{rng.randrange(10000):04d}"
    )
    return f"{server}{rng.getrandbits(64):016X}@{server}.GBRP265.PROD.OUTLOOK.COM"


def _qp(text: str, charset: str) -> bytes:
    raw = text.replace("\n", "\r\n").encode(charset, errors="replace")
    return quopri.encodestring(raw).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html_body(paragraphs: list[str], quoted_html: str, charset: str) -> str:
    parts = [_HTML_HEAD.replace("{charset}", charset), _MSO_STYLE, "\n</head>\n"]
    parts.append('<body lang="EN-GB" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">')
    parts.append('\n<div class="WordSection1">\n')
    for p in paragraphs:
        if not p:
            parts.append('<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n')
            continue
        parts.append(
            f'<p class="MsoNormal"><span style="font-size:11.0pt;font-family:&quot;Calibri'
            f'&quot;,sans-serif;mso-fareast-language:EN-US">{_html_escape(p)}'
            "<o:p></o:p></span></p>\n"
        )
    if quoted_html:
        parts.append(quoted_html)
    parts.append("</div>\n</body>\n</html>\n")
    return "".join(parts)


def _attachment(rng: random.Random) -> tuple[str, str, bytes]:
    size = rng.randrange(20_000, 80_001)
    if rng.random() < 0.5:
        name = rng.choice(("Referral form.pdf", "Chronology.pdf", "Strategy notes.pdf"))
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        return name, "application/pdf", head + rng.randbytes(size - len(head))
    name = rng.choice(("Escalation form.docx", "Multi-agency chronology.docx"))
    head = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"
    return (
        name,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        head + rng.randbytes(size - len(head)),
    )


def _headers(items: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in items)


def _encode_subject(subject: str) -> str:
    if subject.isascii():
        return subject
    return "=?utf-8?B?" + base64.b64encode(subject.encode()).decode() + "?="


def build_outlook(
    rng: random.Random,
    *,
    sender: Person,
    subject: str,
    paragraphs: list[str],
    date: datetime,
    message_id: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    quoted: tuple[Person, datetime, str, str] | None = None,
    html_only: bool = False,
    attachment: bool = False,
    charset: str = "utf-8",
) -> bytes:
    """The bytes of one Outlook-style message; ``quoted`` is (sender, date, subject, text)."""
    signature = ["", "Kind regards", "", f"{sender.first} {sender.last}", sender.title]
    signature.append(sender.organisation)
    body = [*paragraphs, *signature]
    text = "\n".join(body)
    quoted_html = ""
    if quoted is not None:
        q_sender, q_date, q_subject, q_text = quoted
        sent = q_date.strftime("%d %B %Y %H:%M")
        header = [
            "From: " + f"{q_sender.last}, {q_sender.first} <{q_sender.addr}>",
            f"Sent: {sent}",
            f"To: {MAILBOX_DISPLAY} <{MAILBOX_ADDRESS}>",
            f"Subject: {q_subject}",
        ]
        text += "\n\n________________________________\n" + "\n".join(header) + "\n\n" + q_text
        quoted_html = (
            '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
            '<p class="MsoNormal"><b>From:</b> '
            + _html_escape(f"{q_sender.last}, {q_sender.first} <{q_sender.addr}>")
            + f"<br><b>Sent:</b> {sent}<br><b>To:</b> {MAILBOX_DISPLAY}<br><b>Subject:</b> "
            + _html_escape(q_subject)
            + "<o:p></o:p></p></div>\n"
            + "".join(
                f'<p class="MsoNormal">{_html_escape(line)}<o:p></o:p></p>\n'
                for line in q_text.splitlines()
            )
        )
    html = _html_body(body, quoted_html, charset)

    token = f"{rng.getrandbits(48):012X}"
    alt_boundary = f"_000_{token}GBRP265PRODOUTLO_"
    mixed_boundary = f"_004_{token}GBRP265PRODOUTLO_"
    headers: list[tuple[str, str]] = [
        ("Received", f"from {sender.domain} (10.{rng.randrange(256)}.{rng.randrange(256)}.7) by "
         f"{TRUSTED_AUTHSERV_ID} with Microsoft SMTP Server; {format_datetime(date)}"),
        ("Authentication-Results", f"{TRUSTED_AUTHSERV_ID}; spf=pass "
         f"smtp.mailfrom={sender.domain}; dkim=pass header.d={sender.domain}; dmarc=pass "
         f"action=none header.from={sender.domain}"),
        ("Return-Path", f"<{sender.addr}>"),
        ("From", sender.display),
        ("To", f"{MAILBOX_DISPLAY} <{MAILBOX_ADDRESS}>"),
        ("Subject", _encode_subject(subject)),
        ("Thread-Topic", subject.removeprefix("RE: ")),
        ("Thread-Index", base64.b64encode(rng.randbytes(22)).decode()),
        ("Date", format_datetime(date)),
        ("Message-ID", f"<{message_id}>"),
    ]  # fmt: skip
    if in_reply_to:
        headers.append(("In-Reply-To", f"<{in_reply_to}>"))
    if references:
        headers.append(("References", " ".join(f"<{r}>" for r in references[-8:])))
    headers += [
        ("Accept-Language", "en-GB, en-US"),
        ("Content-Language", "en-GB"),
        ("X-MS-Has-Attach", "yes" if attachment else ""),
        ("X-MS-TNEF-Correlator", ""),
        ("MIME-Version", "1.0"),
    ]

    ct = f'charset="{charset}"'
    html_part = (
        f"Content-Type: text/html; {ct}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + _qp(html, charset)
    if html_only:
        inner_type = f"text/html; {ct}"
        inner = html_part
    else:
        text_part = (
            f"Content-Type: text/plain; {ct}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode() + _qp(text, charset)
        inner_type = f'multipart/alternative;\r\n\tboundary="{alt_boundary}"'
        inner = (
            f"--{alt_boundary}\r\n".encode()
            + text_part
            + f"\r\n--{alt_boundary}\r\n".encode()
            + html_part
            + f"\r\n--{alt_boundary}--\r\n".encode()
        )
    if not attachment:
        if html_only:
            return (
                _headers([*headers, ("Content-Type", inner_type)])
                + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                + _qp(html, charset)
            )
        return _headers([*headers, ("Content-Type", inner_type)]) + b"\r\n" + inner
    name, mime, blob = _attachment(rng)
    first = html_part if html_only else f"Content-Type: {inner_type}\r\n\r\n".encode() + inner
    return (
        _headers([*headers, ("Content-Type", f'multipart/mixed;\r\n\tboundary="{mixed_boundary}"')])
        + b"\r\n"
        + f"--{mixed_boundary}\r\n".encode()
        + first
        + f"\r\n--{mixed_boundary}\r\n".encode()
        + (
            f'Content-Type: {mime}; name="{name}"\r\nContent-Description: {name}\r\n'
            f'Content-Disposition: attachment; filename="{name}"; size={len(blob)};\r\n'
            f'\tcreation-date="{format_datetime(date, usegmt=True)}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + _b64(blob)
        + f"\r\n--{mixed_boundary}--\r\n".encode()
    )


def _paragraphs(rng: random.Random, pool: tuple[str, ...], count: int, **fmt: str) -> list[str]:
    chosen = rng.sample(pool, k=min(count, len(pool)))
    return ["Dear colleagues,", "", *(s.format(day=rng.choice(_DAYS), **fmt) for s in chosen)]


def _auto_reply(rng: random.Random, person: Person, date: datetime, about: _Thread) -> bytes:
    back = rng.choice(("Monday 9 March", "Thursday 12 March", "the end of the month"))
    text = (
        f"Thank you for your email. I am out of the office until {back} with no access to "
        "email.\r\nFor urgent safeguarding matters please contact the duty desk.\r\n"
    )
    headers = [
        ("Return-Path", "<>"),
        ("From", person.display),
        ("To", f"{MAILBOX_DISPLAY} <{MAILBOX_ADDRESS}>"),
        ("Subject", f"Automatic reply: {about.subject.removeprefix('RE: ')}"),
        ("Date", format_datetime(date)),
        ("Message-ID", f"<{_outlook_message_id(rng)}>"),
        ("In-Reply-To", f"<{about.message_ids[-1]}>"),
        ("References", f"<{about.message_ids[-1]}>"),
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-MS-Exchange-Inbox-Rules-Loop", person.addr),
        ("Content-Type", 'text/plain; charset="us-ascii"'),
        ("MIME-Version", "1.0"),
    ]
    return _headers(headers) + b"\r\n" + text.encode()


def _list_mail(rng: random.Random, index: int, date: datetime) -> tuple[str, bytes]:
    mid = f"bulletin-{index}-{rng.getrandbits(32):08x}@lists.wenlow-partnership.org.uk"
    text = (
        "This week: updated escalation procedure, training dates for the multi-agency "
        "threshold course, and a new referral form.\r\n\r\n"
        "To unsubscribe, reply with LEAVE in the subject.\r\n"
    )
    headers = [
        ("From", "Partnership Bulletin <bulletin@lists.wenlow-partnership.org.uk>"),
        ("To", "sg-partners@lists.wenlow-partnership.org.uk"),
        ("Subject", f"[SG-Partners] Bulletin {index}: multi-agency guidance"),
        ("Date", format_datetime(date)),
        ("Message-ID", f"<{mid}>"),
        ("List-Id", "Safeguarding partners <sg-partners.lists.wenlow-partnership.org.uk>"),
        ("List-Unsubscribe", "<mailto:sg-partners-leave@lists.wenlow-partnership.org.uk>"),
        ("Precedence", "list"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "7bit"),
    ]
    return mid, _headers(headers) + b"\r\n" + text.encode()


def generate(n: int, seed: int = 20260316, senders: int = 300) -> list[BenchMessage]:
    """``n`` messages in arrival order; replies only ever point at earlier messages."""
    rng = random.Random(seed)
    people = make_people(rng, senders)
    threads: list[_Thread] = []
    out: list[BenchMessage] = []
    date = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for i in range(n):
        date += timedelta(seconds=rng.randrange(20, 400))
        roll = rng.random()
        if threads and roll < 0.025:
            about = rng.choice(threads)
            person = rng.choice(people)
            data = _auto_reply(rng, person, date, about)
            mid = data.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()
            out.append(BenchMessage("auto-reply", mid, data, person.addr))
            continue
        if roll < 0.04:
            mid, data = _list_mail(rng, i, date)
            out.append(BenchMessage("list", mid, data, "bulletin@lists.wenlow-partnership.org.uk"))
            continue
        charset = "windows-1252" if rng.random() < 0.45 else "utf-8"
        html_only = rng.random() < 0.15
        attachment = rng.random() < 0.2
        mid = _outlook_message_id(rng)
        if threads and roll < 0.44:
            thread = rng.choice(threads[-400:])  # conversations are mostly recent
            sender = thread.last_sender if rng.random() < 0.3 else rng.choice(people)
            paragraphs = _paragraphs(rng, _REPLY_SENTENCES, rng.randrange(1, 4))
            subject = "RE: " + thread.subject.removeprefix("RE: ")
            parent = thread.message_ids[-1]
            # Some clients send only References (no In-Reply-To).
            in_reply_to = parent if rng.random() < 0.9 else None
            data = build_outlook(
                rng,
                sender=sender,
                subject=subject,
                paragraphs=paragraphs,
                date=date,
                message_id=mid,
                in_reply_to=in_reply_to,
                references=list(thread.message_ids),
                quoted=(thread.last_sender, thread.last_date, thread.subject, thread.last_text),
                html_only=html_only,
                attachment=attachment,
                charset=charset,
            )
            thread.subject = subject
            thread.message_ids.append(mid)
            thread.last_text = "\n".join(paragraphs)
            thread.last_sender, thread.last_date = sender, date
            out.append(BenchMessage("reply", mid, data, sender.addr))
            continue
        sender = rng.choice(people)
        concern, child = rng.choice(_CONCERNS), rng.choice(_CHILD)
        subject = f"Escalation – {concern} ({child})"
        paragraphs = _paragraphs(rng, _SENTENCES, rng.randrange(3, 8), concern=concern, child=child)
        data = build_outlook(
            rng,
            sender=sender,
            subject=subject,
            paragraphs=paragraphs,
            date=date,
            message_id=mid,
            html_only=html_only,
            attachment=attachment,
            charset=charset,
        )
        threads.append(_Thread(subject, [mid], "\n".join(paragraphs), sender, date))
        out.append(BenchMessage("escalation", mid, data, sender.addr))
    return out


def latency_messages(count: int, seed: int = 7) -> list[BenchMessage]:
    """``count`` new escalations, each from a different sender, each with a unique token."""
    rng = random.Random(seed)
    people = make_people(rng, count, tag="x")
    out: list[BenchMessage] = []
    date = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    for i, sender in enumerate(people):
        token = f"bench-{i:03d}-{rng.getrandbits(24):06x}"
        concern, child = rng.choice(_CONCERNS), rng.choice(_CHILD)
        mid = _outlook_message_id(rng)
        data = build_outlook(
            rng,
            sender=sender,
            subject=f"Escalation – {concern} ({child}) {token}",
            paragraphs=_paragraphs(rng, _SENTENCES, 4, concern=concern, child=child),
            date=date + timedelta(seconds=i),
            message_id=mid,
            attachment=i % 5 == 0,
            charset="windows-1252" if i % 2 else "utf-8",
        )
        out.append(BenchMessage("escalation", mid, data, sender.addr))
    return out


def describe(messages: list[BenchMessage]) -> dict[str, object]:
    """Counts by kind, expected outcomes, distinct senders and size, for the report."""
    kinds: dict[str, int] = {}
    for m in messages:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    expected: dict[str, int] = {}
    for kind, count in kinds.items():
        outcome = EXPECTED_OUTCOME[kind]
        expected[outcome] = expected.get(outcome, 0) + count
    total = sum(len(m.data) for m in messages)
    return {
        "messages": len(messages),
        "kinds": kinds,
        "expected_outcomes": expected,
        "with_attachment": sum(1 for m in messages if b"Content-Disposition: attachment" in m.data),
        "html_only": sum(
            1
            for m in messages
            if b"Content-Type: text/html" in m.data and b"text/plain; charset=" not in m.data
        ),
        "windows_1252": sum(1 for m in messages if b'charset="windows-1252"' in m.data),
        "distinct_senders": len({m.sender for m in messages}),
        "bytes_total": total,
        "bytes_mean": total // max(len(messages), 1),
    }
