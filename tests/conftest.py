"""Shared fixtures. Real servers live in tests/fixtures/: Dovecot, aiosmtpd, PostgreSQL."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.dovecot",
    "tests.fixtures.smtp",
    "tests.fixtures.database",
]
