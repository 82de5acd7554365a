"""The digest and the report as a real browser renders them (headless Chromium).

Skipped with the reason when Chromium is not installed; in CI (``CI=true``)
a missing Chromium fails instead, like the Dovecot and PostgreSQL tests.
The screenshot is kept under pytest's temporary directory and its path is
printed with the measurements, so a person can look at it.
"""

from __future__ import annotations

import html as html_lib
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from pypdf import PdfReader

from tests.reports import seed
from tracker.cli import main
from tracker.config import Config
from tracker.reports import chromium, digest_job
from tracker.rules.partnerships import Partnerships
from tracker.store import Store

NOW = seed.NOW
pytestmark = pytest.mark.chromium


def require_chromium() -> str:
    binary = chromium.find_chromium()
    if binary is None:
        reason = f"headless Chromium tests: {chromium.MISSING}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return binary


def _near(pixels: np.ndarray, hex_colour: str, tolerance: float = 0.04) -> int:
    """How many pixels are within ``tolerance`` of ``#rrggbb``."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(pixels[..., :3] - rgb).max(axis=-1) < tolerance).sum())


def test_digest_renders_in_headless_chromium(
    store: Store,
    partnerships: Partnerships,
    config: Config,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    binary = require_chromium()
    html_path, _, _ = digest_job.preview(
        store, partnerships, config, "solihull", "daily", NOW, tmp_path / "digest"
    )
    shot = tmp_path / "digest.png"
    chromium.screenshot(binary, html_path, shot, size=(1000, 1400))
    report(f"digest screenshot (headless Chromium, 1000x1400): {shot}")
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (1400, 1000)
    # Not blank: varied, with the header band's dark blue and the overdue red painted.
    assert pixels[..., :3].std() > 0.1
    assert len(np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50
    assert _near(pixels, "#0b3d6b") > 20_000
    assert _near(pixels, "#b42318") > 100

    # The whole page, tall enough for the chart at the bottom: its stage-1 bars are painted.
    full = tmp_path / "digest-full.png"
    chromium.screenshot(binary, html_path, full, size=(1000, 3200))
    report(f"digest screenshot, whole page: {full}")
    assert _near(image.imread(full), "#0072b2") > 2_000

    source = html_path.read_text(encoding="utf-8")
    headings = [
        html_lib.unescape(text)
        for _, text in re.findall(r"<h([12])[^>]*>(.*?)</h\1>", source, flags=re.S)
    ]
    assert headings[0] == "Daily escalations digest"
    assert {"Overdue", "Due today", "New cases", "Stage changes", "Resolved"} <= {
        h.rsplit(" (", 1)[0] for h in headings
    }
    dom = html_lib.unescape(chromium.dump_dom(binary, html_path))
    rendered = [
        re.sub(r"\s+", " ", text).strip()
        for _, text in re.findall(r"<h([12])[^>]*>(.*?)</h\1>", dom, flags=re.S)
    ]
    assert rendered == headings
    assert len(re.findall(r"\bSSCP-2026-\d{4}\b", dom)) >= 10


def test_quarterly_report_prints_to_pdf(
    config: Config,
    tmp_path: Path,
    seed_cases: list[seed.SeedCase],
    capsys: pytest.CaptureFixture[str],
    report: Callable[[str], None],
) -> None:
    require_chromium()
    out = tmp_path / "report"
    code = main(["--config", str(tmp_path / "config.toml"), "report", "quarterly",
                 "--partnership", "solihull", "--quarter", "2026Q4", "--out", str(out),
                 "--now", NOW.isoformat()])  # fmt: skip
    assert code == 0
    pdf = out / "solihull-2026Q4.pdf"
    assert f"wrote {pdf}" in capsys.readouterr().out
    reader = PdfReader(pdf)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    report(f"quarterly report PDF (headless Chromium): {pdf}, {len(reader.pages)} pages")
    assert "Escalations: quarterly trend report" in text
    assert "Cases by category (shared taxonomy)" in text
    assert "Stages completed within timescale" in text
    squashed = re.sub(r"\s+", " ", text).lower()
    assert [s for s in seed.secrets(seed_cases) if s.lower() in squashed] == []
