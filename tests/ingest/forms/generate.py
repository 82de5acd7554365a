"""Deterministic builders for the form fixtures: .docx, PDF, TNEF, .msg and e-mails.

Binary fixtures are generated at test time instead of being committed, so
every one of them can be read (and changed) as code. Word files come from
python-docx with fixed zip timestamps; PDFs, TNEF streams and Outlook .msg
files (an OLE compound file) are assembled by hand from their published
layouts, small enough to check byte by byte. All people and places are
fictional.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

# ---------------------------------------------------------------------------
# Word


def _fixed_zip(data: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """The same package with fixed timestamps (and extra parts), so builds are repeatable."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
        for name, blob in (extra or {}).items():
            fixed = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            target.writestr(fixed, blob)
    return out.getvalue()


def docx_form(
    pairs: Sequence[tuple[str, str]],
    layout: str = "table",
    title: str = "Appendix C Escalation Form",
    macros: bool = False,
) -> bytes:
    """A Word form holding ``pairs`` laid out as partnerships do.

    layouts: "table" (label | value rows, title row merged across), "grid"
    (two pairs per row: label | value | label | value), "paragraphs"
    ("Label: value"), "controls" (each value in a content control titled
    with the label), "header-row" (labels in the first row, values below).
    ``macros`` adds a ``word/vbaProject.bin`` part, as a .docm has.
    """
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    document.core_properties.created = datetime(2026, 1, 1, tzinfo=UTC)
    document.core_properties.modified = datetime(2026, 1, 1, tzinfo=UTC)
    document.core_properties.author = "Form Builder"
    document.add_paragraph(title)
    if layout == "table":
        table = document.add_table(rows=len(pairs) + 1, cols=2)
        merged = table.cell(0, 0).merge(table.cell(0, 1))
        merged.text = title
        for index, (label, value) in enumerate(pairs, start=1):
            table.cell(index, 0).text = label
            cell = table.cell(index, 1)
            lines = value.split("\n")
            cell.text = lines[0]
            for line in lines[1:]:
                cell.add_paragraph(line)
    elif layout == "grid":
        rows = (len(pairs) + 1) // 2
        table = document.add_table(rows=rows, cols=4)
        for index, (label, value) in enumerate(pairs):
            row, col = divmod(index, 2)
            table.cell(row, col * 2).text = label
            table.cell(row, col * 2 + 1).text = value
    elif layout == "paragraphs":
        for label, value in pairs:
            document.add_paragraph(f"{label}: {value}")
    elif layout == "controls":
        for label, value in pairs:
            paragraph = document.add_paragraph(f"{label}: ")
            sdt = parse_xml(
                f'<w:sdt {nsdecls("w")}><w:sdtPr><w:alias w:val="{label}"/>'
                f'<w:tag w:val="{label}"/></w:sdtPr><w:sdtContent><w:r><w:t xml:space="preserve">'
                f"{_xml_escape(value)}</w:t></w:r></w:sdtContent></w:sdt>"
            )
            paragraph._p.append(sdt)
        # An unfilled control shows placeholder text, which is not a value.
        paragraph = document.add_paragraph("Response: ")
        paragraph._p.append(
            parse_xml(
                f'<w:sdt {nsdecls("w")}><w:sdtPr><w:alias w:val="Response"/><w:showingPlcHdr/>'
                "</w:sdtPr><w:sdtContent><w:r><w:t>Click or tap here to enter text.</w:t>"
                "</w:r></w:sdtContent></w:sdt>"
            )
        )
    elif layout == "header-row":
        table = document.add_table(rows=2, cols=len(pairs))
        for index, (label, value) in enumerate(pairs):
            table.cell(0, index).text = label
            table.cell(1, index).text = value
    else:
        raise ValueError(layout)
    document.add_paragraph("")
    document.add_paragraph("Please return this form to your safeguarding lead.")
    out = io.BytesIO()
    document.save(out)
    extra = {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 fictional macro storage"} if macros else {}
    return _fixed_zip(out.getvalue(), extra)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def zip_bomb_docx() -> bytes:
    """A "docx" whose document part inflates to 300 MB from a few hundred KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        info = zipfile.ZipInfo("[Content_Types].xml", date_time=(2026, 1, 1, 0, 0, 0))
        package.writestr(info, "<Types/>")
        info = zipfile.ZipInfo("word/document.xml", date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with package.open(info, "w") as part:
            block = b" " * (1024 * 1024)
            for _ in range(300):
                part.write(block)
    return out.getvalue()


# ---------------------------------------------------------------------------
# PDF


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _pdf_text_string(text: str) -> bytes:
    """A PDF text string (field names and values): literal if ASCII, else UTF-16BE with BOM."""
    if text.isascii():
        return _pdf_string(text)
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF file from numbered object bodies (object n is ``objects[n - 1]``)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(content), extra) + content + b"\nendstream"


def _text_content(lines: Sequence[str], x_value: int | None = None) -> bytes:
    """Page content drawing each line; with ``x_value`` the text after ": " is a second run."""
    ops = [b"BT /F1 10 Tf 12 TL 50 790 Td"]
    for line in lines:
        if x_value is not None and ": " in line:
            label, value = line.split(": ", 1)
            ops.append(_pdf_string(label + ":") + b" Tj")
            ops.append(b"%d 0 Td " % x_value + _pdf_string(value) + b" Tj -%d 0 Td" % x_value)
            ops.append(b"T*")
        else:
            ops.append(_pdf_string(line) + b" Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def pdf_text(lines: Sequence[str], columns: bool = False) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (a form printed to PDF)."""
    content = _text_content(lines, 160 if columns else None)
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(content),
            _FONT,
        ]
    )


def pdf_acroform(
    fields: Sequence[tuple[str, str, str | None]],
    checkboxes: Sequence[tuple[str, bool]] = (),
    printed: Sequence[str] = (),
) -> bytes:
    """A fillable PDF: text fields (name, value, tooltip) and check boxes (name, ticked).

    The page prints only the labels (``printed``), as a blank form does;
    the answers live in the fields.
    """
    objects: list[bytes] = [b"", b"", b"", _stream(_text_content(printed)), _FONT]
    widgets: list[int] = []
    y = 780
    for name, value, tooltip in fields:
        tu = b" /TU " + _pdf_text_string(tooltip) if tooltip else b""
        objects.append(
            b"<< /Type /Annot /Subtype /Widget /FT /Tx /T "
            + _pdf_text_string(name)
            + tu
            + b" /V "
            + _pdf_text_string(value)
            + b" /Rect [200 %d 550 %d] /P 3 0 R /F 4 >>" % (y, y + 14)
        )
        widgets.append(len(objects))
        y -= 20
    for name, ticked in checkboxes:
        state = b"/Yes" if ticked else b"/Off"
        objects.append(
            b"<< /Type /Annot /Subtype /Widget /FT /Btn /T "
            + _pdf_string(name)
            + b" /V "
            + state
            + b" /AS "
            + state
            + b" /Rect [200 %d 214 %d] /P 3 0 R /F 4 >>" % (y, y + 14)
        )
        widgets.append(len(objects))
        y -= 20
    refs = b" ".join(b"%d 0 R" % n for n in widgets)
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [" + refs + b"] >> >>"
    objects[1] = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    objects[2] = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> /Annots [" + refs + b"] >>"
    )
    return _pdf(objects)


def pdf_scanned() -> bytes:
    """A "scanned" form: one page holding only a grey image, no text layer."""
    width, height = 64, 64
    pixels = bytes((x * y) % 256 for y in range(height) for x in range(width))
    image = zlib.compress(pixels)
    content = b"q 500 0 0 700 40 70 cm /Im1 Do Q"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
            _stream(content),
            _stream(
                image,
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Filter /FlateDecode " % (width, height),
            ),
        ]
    )


# ---------------------------------------------------------------------------
# TNEF (winmail.dat), after [MS-OXTNEF]


def _tnef_attribute(level: int, attribute_id: int, attribute_type: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return (
        struct.pack("<BHHI", level, attribute_id, attribute_type, len(data))
        + data
        + struct.pack("<H", checksum)
    )


def _mapi_props(props: Sequence[tuple[int, int, bytes]]) -> bytes:
    """A MAPI property list: (type, id, value) with string/binary values length-prefixed."""
    out = struct.pack("<I", len(props))
    for prop_type, prop_id, value in props:
        out += struct.pack("<HH", prop_type, prop_id)
        if prop_type in (0x001E, 0x001F, 0x0102):
            out += struct.pack("<II", 1, len(value)) + value + b"\x00" * (-len(value) % 4)
        else:
            out += value + b"\x00" * (-len(value) % 4)
    return out


def tnef(
    body: str | None = None,
    html: str | None = None,
    rtf: bytes | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """A winmail.dat: a plain body (attBody), or HTML / compressed RTF in MAPI properties."""
    out = struct.pack("<IH", 0x223E9F78, 0x1234)
    out += _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    out += _tnef_attribute(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")
    if body is not None:
        out += _tnef_attribute(1, 0x800C, 0x0002, body.encode("cp1252"))
    props: list[tuple[int, int, bytes]] = []
    if html is not None:
        props.append((0x0102, 0x1013, html.encode("utf-8")))
        props.append((0x0003, 0x3FDE, struct.pack("<I", 65001)))
    if rtf is not None:
        from compressed_rtf import compress

        props.append((0x0102, 0x1009, compress(rtf, compressed=True)))
    if props:
        out += _tnef_attribute(1, 0x9003, 0x0006, _mapi_props(props))
    for name, data in attachments:
        out += _tnef_attribute(2, 0x9002, 0x0006, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8)
        out += _tnef_attribute(2, 0x8010, 0x0001, name.encode("cp1252") + b"\x00")
        out += _tnef_attribute(2, 0x800F, 0x0006, data)
        long_name = name.encode("utf-16-le") + b"\x00\x00"
        out += _tnef_attribute(2, 0x9005, 0x0006, _mapi_props([(0x001F, 0x3707, long_name)]))
    return out


# ---------------------------------------------------------------------------
# OLE compound file (MS-CFB, version 3) and Outlook .msg (MS-OXMSG)

_FREE, _END, _FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_SECTOR = 512
_MINI = 64
_CUTOFF = 4096


@dataclass
class _Entry:
    name: str
    data: bytes | None = None  # None for a storage
    children: list[_Entry] = field(default_factory=list)

    def storage(self, name: str) -> _Entry:
        entry = _Entry(name)
        self.children.append(entry)
        return entry

    def stream(self, name: str, data: bytes) -> None:
        self.children.append(_Entry(name, data))


def _cfb(root: _Entry) -> bytes:
    """Serialise a storage tree as a version-3 compound file."""
    entries: list[_Entry] = []
    ids: dict[int, int] = {}

    def number(entry: _Entry) -> None:
        ids[id(entry)] = len(entries)
        entries.append(entry)
        for child in entry.children:
            number(child)

    number(root)
    sectors: list[bytes] = []
    fat: list[int] = []

    def chain(data: bytes) -> int:
        if not data:
            return _END
        start = len(sectors)
        count = -(-len(data) // _SECTOR)
        for index in range(count):
            sectors.append(data[index * _SECTOR : (index + 1) * _SECTOR].ljust(_SECTOR, b"\x00"))
            fat.append(start + index + 1 if index + 1 < count else _END)
        return start

    starts: dict[int, int] = {}
    mini = bytearray()
    minifat: list[int] = []
    for entry in entries[1:]:
        if entry.data is None:
            continue
        if len(entry.data) >= _CUTOFF:
            starts[id(entry)] = chain(entry.data)
        elif entry.data:
            first = len(mini) // _MINI
            count = -(-len(entry.data) // _MINI)
            mini += entry.data.ljust(count * _MINI, b"\x00")
            minifat.extend(first + i + 1 if i + 1 < count else _END for i in range(count))
            starts[id(entry)] = first
        else:
            starts[id(entry)] = _END
    mini_start = chain(bytes(mini))
    minifat_bytes = b"".join(struct.pack("<I", n) for n in minifat)
    minifat_start = chain(minifat_bytes) if minifat else _END

    def sort_key(entry: _Entry) -> tuple[int, str]:
        return (len(entry.name), entry.name.upper())

    directory = bytearray()
    for entry in entries:
        ordered = sorted(entry.children, key=sort_key)
        child = ids[id(ordered[0])] if ordered else _NOSTREAM
        right = _NOSTREAM
        for parent in entries:
            siblings = sorted(parent.children, key=sort_key)
            for position, sibling in enumerate(siblings):
                if sibling is entry and position + 1 < len(siblings):
                    right = ids[id(siblings[position + 1])]
        name = entry.name.encode("utf-16-le") + b"\x00\x00"
        if entry is root:
            kind, start, size = 5, mini_start if mini else _END, len(mini)
        elif entry.data is None:
            kind, start, size = 1, 0, 0
        else:
            kind, start, size = 2, starts[id(entry)], len(entry.data)
        directory += (
            name.ljust(64, b"\x00")
            + struct.pack("<HBB", len(name), kind, 1)
            + struct.pack("<III", _NOSTREAM, right, child)
            + b"\x00" * 16
            + struct.pack("<I", 0)
            + b"\x00" * 16
            + struct.pack("<IQ", start, size)
        )
    empty = (
        b"\x00" * 64
        + struct.pack("<HBB", 0, 0, 0)
        + struct.pack("<III", _NOSTREAM, _NOSTREAM, _NOSTREAM)
        + b"\x00" * 36
        + struct.pack("<IQ", 0, 0)
    )
    while len(directory) % _SECTOR:
        directory += empty
    directory_start = chain(bytes(directory))
    # FAT sectors go last; each holds 128 entries, including its own.
    fat_count = 1
    while (len(sectors) + fat_count) > fat_count * 128:
        fat_count += 1
    fat_start = len(sectors)
    fat.extend([_FATSECT] * fat_count)
    fat.extend([_FREE] * (fat_count * 128 - len(fat)))
    for index in range(fat_count):
        sectors.append(b"".join(struct.pack("<I", n) for n in fat[index * 128 : (index + 1) * 128]))
    difat = [fat_start + i for i in range(fat_count)] + [_FREE] * (109 - fat_count)
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIII", 0, fat_count, directory_start, 0, _CUTOFF)
        + struct.pack("<IIII", minifat_start, -(-len(minifat_bytes) // _SECTOR), _END, 0)
        + b"".join(struct.pack("<I", n) for n in difat)
    )
    return header + b"".join(sectors)


def _unicode(text: str) -> bytes:
    return text.encode("utf-16-le")


def _filetime(moment: datetime) -> bytes:
    return struct.pack("<Q", int((moment.timestamp() + 11644473600) * 10_000_000))


def _properties(
    header: bytes, strings: dict[int, bytes], fixed: dict[int, bytes], storage: _Entry
) -> None:
    """Write the property stream and one substorage stream per variable-length property."""
    out = bytearray(header)
    for tag, value in sorted(strings.items()):
        # A Unicode string's size counts its terminator, which the stream leaves out.
        size = len(value) + 2 if tag & 0xFFFF == 0x001F else len(value)
        out += struct.pack("<III", tag, 6, size) + b"\x00" * 4
        storage.stream(f"__substg1.0_{tag:08X}", value)
    for tag, value in sorted(fixed.items()):
        out += struct.pack("<II", tag, 6) + value.ljust(8, b"\x00")
    storage.stream("__properties_version1.0", bytes(out))


def msg_file(
    sender_name: str,
    sender_email: str,
    subject: str,
    body: str,
    sent: datetime,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """An Outlook .msg (a sent IPM.Note) with a plain body and attached files."""
    root = _Entry("Root Entry")
    named = root.storage("__nameid_version1.0")
    for tag in ("00020102", "00030102", "00040102"):
        named.stream(f"__substg1.0_{tag}", b"")
    _properties(
        b"\x00" * 8 + struct.pack("<IIII", 0, len(attachments), 0, len(attachments)) + b"\x00" * 8,
        {
            0x001A001F: _unicode("IPM.Note"),
            0x0037001F: _unicode(subject),
            0x1000001F: _unicode(body),
            0x0C1A001F: _unicode(sender_name),
            0x0C1F001F: _unicode(sender_email),
            0x5D01001F: _unicode(sender_email),
        },
        {0x0E070003: struct.pack("<I", 1), 0x00390040: _filetime(sent)},
        root,
    )
    for index, (name, data) in enumerate(attachments):
        storage = root.storage(f"__attach_version1.0_#{index:08X}")
        _properties(
            b"\x00" * 8,
            {
                0x3707001F: _unicode(name),
                0x3704001F: _unicode(name),
                0x37010102: data,
                0x3001001F: _unicode(name),
            },
            {0x37050003: struct.pack("<I", 1), 0x0E210003: struct.pack("<I", index)},
            storage,
        )
    return _cfb(root)


# ---------------------------------------------------------------------------
# E-mail


@dataclass
class Mail:
    """A message to build: bodies, attachments and headers."""

    sender: str = "Sam Jones <sam.jones@northshire-academy.example>"
    subject: str = "Escalation"
    date: datetime = datetime(2026, 3, 3, 9, 15, tzinfo=UTC)
    text: str | None = None
    html: str | None = None
    charset: str = "utf-8"
    encoding: str | None = None
    """The bytes' real encoding when it differs from the label (Outlook's cp1252 as latin-1)."""
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(file name, content type, bytes); message/rfc822 parts are attached as messages."""


def build_mail(mail: Mail) -> bytes:
    """RFC 5322 bytes of ``mail``; a windows-1252 body is sent 8-bit, as Outlook does."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = "Escalations <escalations@northshire-partnership.example>"
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = f"<{zlib.crc32(mail.subject.encode()):08x}.fixture@example.org>"
    if mail.text is not None:
        if mail.charset == "utf-8":
            message.set_content(mail.text)
        else:
            message.set_content(
                mail.text.encode(mail.encoding or mail.charset),
                "text",
                "plain",
                cte="8bit",
                params={},
            )
            message.set_param("charset", mail.charset)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
    elif mail.html is not None:
        message.set_content(mail.html, subtype="html")
    else:
        message.set_content("")
    for filename, content_type, data in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        if content_type == "message/rfc822":
            from email import message_from_bytes, policy

            inner = message_from_bytes(data, policy=policy.default)
            message.add_attachment(inner, filename=filename)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)
