"""Which attached files are never opened, and hashing files too large to read.

A file is blocked when its name or its first bytes say it is a program, or
when it is an Office document with macros (a macro-enabled extension, or a
``vbaProject.bin`` part inside an OOXML package whatever its name says). A
blocked file is listed with its size and hash and is never handed to a
reader: the caseworker sees that something was attached and why it was not
opened.
"""

from __future__ import annotations

import binascii
import hashlib
import re

__all__ = ["blocked_reason", "extension", "sha256_of_encoded"]

MACRO_EXTENSIONS = frozenset(
    {
        ".docm",
        ".dotm",
        ".xlsm",
        ".xltm",
        ".xlam",
        ".xlsb",
        ".pptm",
        ".potm",
        ".ppam",
        ".ppsm",
        ".sldm",
    }
)
EXECUTABLE_EXTENSIONS = frozenset(
    {
        ".exe", ".dll", ".com", ".scr", ".pif", ".cpl", ".msi", ".msp", ".msc", ".sys", ".drv",
        ".bat", ".cmd", ".ps1", ".psm1", ".psd1", ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh",
        ".hta", ".jar", ".sh", ".bash", ".zsh", ".py", ".pl", ".rb", ".php", ".lnk", ".reg",
        ".inf", ".scf", ".gadget", ".application", ".appx", ".msix", ".apk", ".elf", ".bin",
        ".run", ".iso", ".img", ".vhd", ".vhdx", ".chm", ".url", ".xll", ".dmg", ".pkg",
    }
)  # fmt: skip
_EXECUTABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows executable"),
    (b"\x7fELF", "ELF executable"),
    (b"#!", "script"),
    (b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "Mach-O or Java executable"),
)
_VBA_PART = re.compile(rb"vbaproject\.bin", re.IGNORECASE)
_ZIP_MAGIC = b"PK\x03\x04"
_BOM = b"\xef\xbb\xbf"


def extension(filename: str | None) -> str:
    """The lower-cased last extension of ``filename`` with its dot, or ""."""
    if not filename:
        return ""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().rstrip(". ")
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def blocked_reason(filename: str | None, data: bytes) -> str | None:
    """Why the file must not be opened, in plain words, or None if a reader may see it.

    The content is checked as well as the name, so that "form.pdf" holding
    a Windows program or "form.docx" holding macros is still blocked.
    """
    ext = extension(filename)
    if ext in MACRO_EXTENSIONS:
        return f"macro-enabled Office file ({ext}), not opened"
    if ext in EXECUTABLE_EXTENSIONS:
        return f"executable or script file type ({ext}), not opened"
    head = data[:8]
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    for magic, kind in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return f"content is a {kind}, not opened"
    if data.startswith(_ZIP_MAGIC) and _VBA_PART.search(data):
        # OOXML stores part names uncompressed in the zip headers, so the
        # macro part is found without unpacking anything.
        return "Office package containing macros (vbaProject.bin), not opened"
    return None


_CHUNK = 76 * 4096


def sha256_of_encoded(encoded: str, transfer_encoding: str) -> tuple[int, str]:
    """Size and SHA-256 of a part's decoded body, decoded a slice at a time.

    Used for attachments over the size limit: their bytes are hashed for the
    record without a second full copy in memory. Only base64 needs slicing;
    other encodings are (nearly) the bytes themselves.
    """
    digest = hashlib.sha256()
    size = 0
    if transfer_encoding.strip().lower() == "base64":
        rest = ""
        for start in range(0, len(encoded), _CHUNK):
            chunk = rest + "".join(encoded[start : start + _CHUNK].split())
            usable = len(chunk) - len(chunk) % 4
            rest = chunk[usable:]
            try:
                piece = binascii.a2b_base64(chunk[:usable])
            except binascii.Error:
                piece = b""
            digest.update(piece)
            size += len(piece)
        if rest.strip("="):
            try:
                piece = binascii.a2b_base64(rest + "=" * (-len(rest) % 4))
            except binascii.Error:
                piece = b""
            digest.update(piece)
            size += len(piece)
        return size, digest.hexdigest()
    data = encoded.encode("utf-8", "surrogateescape")
    digest.update(data)
    return len(data), digest.hexdigest()
