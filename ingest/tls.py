"""The one way this project makes a TLS client context, for IMAP and SMTP alike."""

from __future__ import annotations

import ssl
from pathlib import Path


def verifying_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """A client context that verifies the server: chain, host name, TLS 1.2 or later.

    ``ca_file`` replaces the system trust store (a private CA, a test CA).
    RFC 8314 §4.1 asks for TLS 1.2 or later. ``create_default_context``
    already requires certificates and checks host names; both are stated
    again so that a future change of defaults cannot silently weaken us.
    Raises ``OSError`` or ``ssl.SSLError`` when ``ca_file`` cannot be loaded.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
