"""Charset decoding, HTML to text and quoted-history splitting."""

from __future__ import annotations

import pytest

from ingest.parse import parse
from ingest.parse.body import decode_bytes, html_to_text, split_quoted

# ---------------------------------------------------------------------------
# Charsets


@pytest.mark.parametrize(
    ("data", "charset", "text", "note"),
    [
        (b"plain", None, "plain", None),
        (b"\xa3240 \x93quoted\x94", "iso-8859-1", "£240 “quoted”", None),
        ("£240".encode(), "iso-8859-1", "£240", None),
        ("£240".encode(), "us-ascii", "£240", None),
        (b"caf\xe9", "unknown-8bit", "café", "charset 'unknown-8bit' guessed"),
        (b"caf\xe9", "x-user-defined", "café", "charset 'x-user-defined' guessed"),
        (b"caf\xe9", '"UTF-8"', "caf\ufffd", "invalid utf-8 bytes replaced"),
        (b"caf\xe9", "no-such-charset", "café", "unknown charset 'no-such-charset'"),
        (b"caf\xe9", "zlib", "café", "unusable charset 'zlib'"),
        (b"caf\xe9", "idna", "café", "unusable charset 'idna'"),
        ("日本".encode("gb18030"), "gb2312", "日本", None),
        (b"+AKM-240", "utf-7", "£240", None),
        (b"\x81\x8d", "windows-1252", "\ufffd\ufffd", None),
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, text: str, note: str | None) -> None:
    assert decode_bytes(data, charset) == (text, note)


# ---------------------------------------------------------------------------
# HTML


OUTLOOK = """<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style><!-- p.MsoNormal {margin:0cm;font-family:"Calibri"} --></style>
<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head><body lang="EN-GB"><div class="WordSection1">
<p class="MsoNormal">Dear   colleague,<o:p></o:p></p>
<p class="MsoNormal"><o:p>&nbsp;</o:p></p>
<p class="MsoNormal">Child&nbsp;H&#8217;s plan &amp; <b>review</b> date:<br>12&nbsp;March<o:p>
</o:p></p>
<ul><li>first</li><li>second</li></ul>
<table><tr><td>Name</td><td>Child H</td></tr><tr><td>School</td><td>Oakfield</td></tr></table>
<![if !supportLists]>-<![endif]>Downlevel text
<script>alert(1)</script><![weird]>
</div></body></html>"""


def test_outlook_html_becomes_readable_text() -> None:
    assert html_to_text(OUTLOOK) == (
        "Dear colleague,\n\n"
        "Child H’s plan & review date:\n12 March\n"
        "- first\n- second\n"
        "Name\tChild H\n"
        "School\tOakfield\n"
        "-Downlevel text <![weird]>"
    )


def test_html_blockquote_and_unclosed_head() -> None:
    html = (
        "<head><title>t</title><body><p>New text</p><blockquote><p>old</p><p>older</p></blockquote>"
    )
    assert html_to_text(html) == "New text\n> old\n> older"


def test_html_pre_keeps_line_breaks() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>after") == "a  b\n  c\nafter"


def test_html_hr_is_a_separator() -> None:
    assert html_to_text("<p>new</p><hr><p>From: x</p>") == "new\n" + "_" * 32 + "\nFrom: x"


def test_malformed_html_never_raises() -> None:
    for html in (
        "<!DOCTYPE html [ <!ENTITY x 'y'> ]><p>ok",
        "<![ x",
        "<p <p <",
        "<!--",
        "&#xffffff;",
    ):
        assert isinstance(html_to_text(html), str)


# ---------------------------------------------------------------------------
# Quoted history


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("New words.\n\n> old\n> older", "New words."),
        (
            "Thanks.\n\nOn Tue, 3 Mar 2026 at 10:00, SSCP <sscp@example.org> wrote:\n> old",
            "Thanks.",
        ),
        (
            "Thanks.\n\nOn Tue, 3 Mar 2026 at 10:00, SSCP Escalations\n"
            "<sscp@example.org>\nwrote:\nold",
            "Thanks.",
        ),
        ("Agreed.\n\n-----Original Message-----\nFrom: A\nSent: B\nold", "Agreed."),
        ("Agreed.\n----- Original Message -----\nold", "Agreed."),
        ("Danke.\n-----Ursprüngliche Nachricht-----\nalt", "Danke."),
        (
            "See below.\n\nFrom: Escalations <e@example.org>\nSent: 03 March 2026 10:00\n"
            "To: Someone\nSubject: [SSCP-2026-0042] Escalation received\n\nold",
            "See below.",
        ),
        (
            "See below.\n\nVon: A\nGesendet: Dienstag\nAn: B\nBetreff: x\nalt",
            "See below.",
        ),
        ("Reply.\n________________________________\nFrom: x\nold", "Reply."),
        ("FYI\n\nBegin forwarded message:\n\nFrom: x\nold", "FYI"),
        ("FYI\n\n---------- Forwarded message ---------\nFrom: x\nold", "FYI"),
        ("> quoted first\nmy answer\n> more quote\nmore answer", "my answer\nmore answer"),
        (
            "From: the start of the year we saw concerns.\nNo header block here.",
            "From: the start of the year we saw concerns.\nNo header block here.",
        ),
        ("Just new text.", "Just new text."),
        ("", ""),
    ],
)
def test_split_quoted(text: str, expected: str) -> None:
    assert split_quoted(text) == expected


def test_empty_plain_alternative_falls_back_to_html() -> None:
    data = (
        b'From: n@example.org\nContent-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain\n\n \n"
        b"--a\nContent-Type: text/html\n\n<p>Real words</p>\n--a--\n"
    )
    assert parse(data).text == "Real words"
