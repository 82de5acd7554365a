"""The per-message processing budget: a message that takes too long to read is quarantined.

The daemon must move on from one expensive message; the reason recorded is
"processing budget exceeded", and the message is not lost (it is quarantined,
not dropped). The budget is configured as ``limits.processing_budget_seconds``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.classify import Policy
from ingest.forms import FormLimits
from tests.helpers import rfc822
from tracker.config import ConfigError, default_config, parse_config
from tracker.intake.reading import BUDGET_EXCEEDED, read

WHEN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _read(data: bytes, budget: float | None) -> object:
    return read(1, "sscp", WHEN, data, Policy(), FormLimits(), budget)


def test_an_ordinary_escalation_is_read_within_the_default_budget(tmp_path: object) -> None:
    budget = default_config(tmp_path).limits.processing_budget_seconds  # type: ignore[arg-type]
    work = read(1, "sscp", WHEN, rfc822(), Policy(), FormLimits(), budget)
    assert work.parse_error is None
    assert work.email is not None and work.forms is not None


def test_a_message_over_its_budget_is_quarantined_with_the_reason() -> None:
    # Four megabytes of text take far longer than ten milliseconds to parse and read.
    body = "We are escalating this to stage 2, please review the decision. " * 64_000
    work = read(1, "sscp", WHEN, rfc822(body=body), Policy(), FormLimits(), 0.01)
    assert work.parse_error == BUDGET_EXCEEDED == "processing budget exceeded"
    assert work.email is None  # nothing half-read goes on to be decided


def test_without_a_budget_nothing_is_cut() -> None:
    work = read(1, "sscp", WHEN, rfc822(), Policy(), FormLimits())
    assert work.parse_error is None


def test_the_budget_is_configured_under_limits() -> None:
    config = parse_config({"limits": {"processing_budget_seconds": 5}})
    assert config.limits.processing_budget_seconds == 5
    with pytest.raises(ConfigError, match="processing_budget_seconds"):
        parse_config({"limits": {"processing_budget_seconds": 0}})
