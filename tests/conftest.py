"""Shared fixtures. Real servers live in tests/fixtures/: Dovecot, aiosmtpd, PostgreSQL.

Tests that measure something (outcome counts over the real-world corpus, ...)
add lines with the ``report`` fixture; they are printed at the end of the run,
so ``make test`` shows them without ``-s``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

pytest_plugins = [
    "tests.fixtures.dovecot",
    "tests.fixtures.smtp",
    "tests.fixtures.database",
]

_REPORT: list[str] = []


@pytest.fixture
def report() -> Callable[[str], None]:
    return _REPORT.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORT:
        terminalreporter.section("measurements")
        for line in _REPORT:
            terminalreporter.write_line(line)
