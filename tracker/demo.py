"""Example escalations for ``tracker demo``: fictional people, realistic shapes.

The set shows each path through the pipeline: a new escalation (whose
subject carries a child's name, which the acknowledgement must not repeat)
that opens at stage 2, an Outlook HTML-only escalation, a reply threaded by
In-Reply-To, an out-of-office auto-reply, a newsletter, a look-alike sender
domain that is held in quarantine, a pasted escalation form about a child on
a child protection plan (the child's details are stored apart and the IRO is
notified), and the business manager steering a case with command lines.
"""

from __future__ import annotations

import mailbox
import time
from pathlib import Path

_DEMO_MESSAGES: list[tuple[str, bytes]] = [
    (
        "school-escalation",
        b"""\
From: Priya Shah <p.shah@oakfield-primary.example.sch.uk>
To: SSCP <sscp@solihull.gov.uk>
Subject: Escalation - Jamie Example (DOB 03/04/2016) - case closed too early
Date: Mon, 16 Nov 2026 09:12:00 +0000
Message-ID: <demo-1.oakfield@example.sch.uk>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Dear colleagues,

I am the Designated Safeguarding Lead at Oakfield Primary. Children's social
care closed the assessment for Jamie Example on Friday. We disagree: Jamie
has arrived hungry three days this week and disclosed that nobody was at
home overnight. I spoke with the team manager on Friday (stage 1) and we
did not agree, so I am escalating to stage 2.

Requested action: reconsider the closure and hold a strategy discussion.

Priya Shah
Designated Safeguarding Lead, Oakfield Primary School
""",
    ),
    (
        "health-visitor-outlook",
        b"""\
From: "Morgan, Alex" <alex.morgan@nhs.net>
To: "sscp@solihull.gov.uk" <sscp@solihull.gov.uk>
Subject: Professional disagreement - request for child protection plan
Date: Mon, 16 Nov 2026 10:40:00 +0000
Message-ID: <DB7PR05MB1234.demo-2@DB7PR05MB1234.eurprd05.prod.outlook.com>
MIME-Version: 1.0
Content-Type: text/html; charset="windows-1252"
Content-Transfer-Encoding: quoted-printable

<html><head><style>p.MsoNormal{margin:0cm;}</style></head><body lang=3D"EN-GB">
<div class=3D"WordSection1"><p class=3D"MsoNormal">Good morning,<o:p></o:p></p>
<p class=3D"MsoNormal">Following the initial child protection conference on 12=
 November the decision was a child in need plan. As health visitor I disagree=
 with the threshold decision and ask that it is reviewed.<o:p></o:p></p>
<p class=3D"MsoNormal">Kind regards,<br>Alex Morgan<br>Health Visitor, 0=96=
19 Team</p></div></body></html>
""",
    ),
    (
        "school-follow-up",
        b"""\
From: Priya Shah <p.shah@oakfield-primary.example.sch.uk>
To: SSCP <sscp@solihull.gov.uk>
Subject: RE: Escalation - Jamie Example (DOB 03/04/2016) - case closed too early
Date: Mon, 16 Nov 2026 15:02:00 +0000
Message-ID: <demo-3.oakfield@example.sch.uk>
In-Reply-To: <demo-1.oakfield@example.sch.uk>
References: <demo-1.oakfield@example.sch.uk>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

An update: the team manager has agreed to a strategy discussion tomorrow.

Priya

> I am the Designated Safeguarding Lead at Oakfield Primary.
""",
    ),
    (
        "out-of-office",
        b"""\
From: Sam Patel <sam.patel@solihull.gov.uk>
To: SSCP <sscp@solihull.gov.uk>
Subject: Automatic reply: Team meeting notes
Date: Mon, 16 Nov 2026 11:00:00 +0000
Message-ID: <demo-4.ooo@solihull.gov.uk>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

I am out of the office until Monday with no access to email.
""",
    ),
    (
        "newsletter",
        b"""\
From: Safeguarding News <news@safeguarding-bulletin.example.org>
To: sscp@solihull.gov.uk
Subject: November safeguarding bulletin
Date: Mon, 16 Nov 2026 07:00:00 +0000
Message-ID: <demo-5.bulletin@safeguarding-bulletin.example.org>
List-Id: Safeguarding bulletin <bulletin.safeguarding-bulletin.example.org>
List-Unsubscribe: <mailto:leave@safeguarding-bulletin.example.org>
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

This month: new guidance on neglect.
""",
    ),
    (
        "look-alike-sender",
        b"""\
From: SSCP Business Manager <manager@so1ihull.gov.uk>
To: sscp@solihull.gov.uk
Subject: Urgent: please send the case list
Date: Mon, 16 Nov 2026 12:00:00 +0000
Message-ID: <demo-6.lookalike@so1ihull.gov.uk>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Please reply with all open cases.
""",
    ),
]


_DEMO_MESSAGES += [
    (
        "police-form",
        b"""\
From: DC Sam Patel <sam.patel@westmidlands.police.uk>
To: SSCP <sscp@solihull.gov.uk>
Subject: Escalation form - strategy discussion declined
Date: Mon, 16 Nov 2026 13:05:00 +0000
Message-ID: <demo-7.patel@westmidlands.police.uk>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Please find the escalation form below.

Date: 16/11/2026
From (practitioner): DC Sam Patel
Name of Child: Riley Sample
DOB: 09/09/2019
Social Worker/Practitioner: Duty social worker, Solihull Children's Services
Agency/Team: West Midlands Police, Public Protection Unit
Summary of Concern(s): Riley is subject to a child protection plan. New
information about a violent adult in the household was shared on Friday and
children's social care declined to hold a strategy discussion.
Requested Action: Convene a strategy discussion this week.

DC Sam Patel
""",
    ),
    (
        "business-manager-command",
        b"""\
From: Rana Khan <r.khan@solihull.gov.uk>
To: SSCP <sscp@solihull.gov.uk>
Subject: RE: [SSCP-2026-0002] Escalation received
Date: Mon, 16 Nov 2026 15:30:00 +0000
Message-ID: <demo-8.khan@solihull.gov.uk>
Authentication-Results: mx.solihull.gov.uk; spf=pass smtp.mailfrom=solihull.gov.uk;
 dkim=pass header.d=solihull.gov.uk; dmarc=pass header.from=solihull.gov.uk
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Stage: 2
Category: thresholds

Rana Khan, SSCP Business Manager
""",
    ),
]


def seed_demo_mail(maildir: Path) -> int:
    """Write the example escalations into ``maildir/new`` (a re-run adds duplicates only)."""
    maildir.parent.mkdir(parents=True, exist_ok=True)
    md = mailbox.Maildir(maildir, create=True)
    del md
    base = int(time.time())
    for i, (slug, data) in enumerate(_DEMO_MESSAGES):
        name = f"{base + i}.demo{i}-{slug}.localhost"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(data)
        tmp.rename(maildir / "new" / name)
    return len(_DEMO_MESSAGES)
