"""``tls = "none"`` is refused towards any host that is not this machine.

Clear text to a relay or mailbox across the network gives away the password
and every child named in the mail; it is allowed only for a local test
server (loopback), where it stays a warning.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tracker.config import parse_config
from tracker.errors import ConfigError

BASE: dict[str, Any] = {"partnerships": {"solihull": {"prefix": "SSCP"}}}


def _smtp(host: str, tls: str = "none") -> dict[str, Any]:
    return {**BASE, "outgoing": {"transport": "smtp", "host": host, "tls": tls}}


def _imap(host: str, tls: str = "none") -> dict[str, Any]:
    return {
        **BASE,
        "mailbox": [
            {
                "name": "sscp",
                "kind": "imap",
                "address": "sscp@solihull.gov.uk",
                "partnership": "solihull",
                "host": host,
                "tls": tls,
                "username": "sscp",
                "password_env": "IMAP_PASSWORD",
            }
        ],
    }


REMOTE = [
    "smtp.solihull.gov.uk",
    "10.0.0.25",
    "192.168.1.1",
    "0.0.0.0",
    "2001:db8::25",
    "localhost.evil.example",
    "127.0.0.1.nip.io",
    "mylocalhost",
]
LOOPBACK = ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "localhost."]


@pytest.mark.parametrize("host", REMOTE)
def test_clear_text_smtp_to_another_machine_is_a_configuration_error(host: str) -> None:
    with pytest.raises(ConfigError, match=r"outgoing\.tls") as caught:
        parse_config(_smtp(host))
    assert host in str(caught.value)


@pytest.mark.parametrize("host", REMOTE)
def test_clear_text_imap_to_another_machine_is_a_configuration_error(host: str) -> None:
    with pytest.raises(ConfigError, match=r"mailbox\.0\.tls"):
        parse_config(_imap(host))


@pytest.mark.parametrize("host", LOOPBACK)
def test_clear_text_to_this_machine_is_only_a_warning(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        parse_config(_smtp(host))
        parse_config(_imap(host))
    assert "clear text" in caplog.text


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_to_another_machine_is_fine(tls: str) -> None:
    parse_config(_smtp("smtp.solihull.gov.uk", tls))
    parse_config(_imap("imap.solihull.gov.uk", tls))


def test_the_file_transport_has_no_host_to_check() -> None:
    parse_config({**BASE, "outgoing": {"transport": "file", "tls": "none"}})
