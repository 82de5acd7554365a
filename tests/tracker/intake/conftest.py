"""Shared by the intake's tests: a deciding context on the embedded configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.config import default_config
from tracker.intake import Context
from tracker.notify import Renderer
from tracker.rules.partnerships import Partnerships

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def ctx() -> Context:
    config = default_config(ROOT)
    return Context(
        config=config,
        partnerships=Partnerships.from_config(config),
        renderer=Renderer(ROOT / "templates"),
        child_key_secret=b"k" * 32,
        now=NOW,
    )
