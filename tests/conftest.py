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

#: Markers given from the fixtures a test uses (its whole fixture closure), so a
#: test cannot forget the marker of the server it starts or connects to.
FIXTURE_MARKERS = {
    "pg_url": "postgres",
    "dovecot": "dovecot",
    "make_smtp_sink": "smtp",
}
#: Any of these also makes a test ``server``: ``make check`` runs ``-m "not server and not slow"``.
SERVER_MARKERS = ("postgres", "dovecot", "smtp", "chromium")


@pytest.fixture
def report() -> Callable[[str], None]:
    return _REPORT.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORT:
        terminalreporter.section("measurements")
        for line in _REPORT:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        if any(item.get_closest_marker(m) for m in SERVER_MARKERS):
            item.add_marker("server")
