"""Headless Chromium: the quarterly report's PDF, and the tests' look at the digest.

Chromium is optional: without it the report is still written as HTML and
CSV, and the CLI says the PDF was skipped and why. It runs with a throw-away
profile and with every background service (sync, component updates, field
trials) switched off, so printing a local file makes no network requests.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tracker.errors import TrackerError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
MISSING = (
    "no Chromium found (install Debian's 'chromium' package, or set reports.chromium "
    "to the browser's path)"
)


class ChromiumError(TrackerError):
    """Chromium ran but did not produce what was asked."""


def find_chromium(configured: str | None = None) -> str | None:
    """The configured browser if it exists, else the first of :data:`NAMES` on PATH."""
    if configured:
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def run(binary: str, args: Sequence[str], *, timeout: float = 90.0) -> str:
    """Run headless Chromium with a private profile; returns its standard output."""
    with tempfile.TemporaryDirectory(prefix="tracker-chromium-") as profile:
        try:
            done = subprocess.run(
                [binary, *FLAGS, f"--user-data-dir={profile}", *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ChromiumError(f"{binary} did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise ChromiumError(f"cannot run {binary}: {exc.strerror}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ChromiumError(f"{binary} exited with {done.returncode}: {last}")
    return done.stdout


def print_to_pdf(binary: str, html: Path, pdf: Path, *, timeout: float = 90.0) -> None:
    pdf.unlink(missing_ok=True)
    run(
        binary,
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()],
        timeout=timeout,
    )
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise ChromiumError(f"{binary} wrote no PDF to {pdf}")


def screenshot(binary: str, html: Path, png: Path, *, size: tuple[int, int] = (1000, 1400)) -> None:
    png.unlink(missing_ok=True)
    run(
        binary,
        [f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", html.resolve().as_uri()],
    )
    if not png.is_file() or png.stat().st_size == 0:
        raise ChromiumError(f"{binary} wrote no screenshot to {png}")


def dump_dom(binary: str, html: Path) -> str:
    """The DOM as Chromium parsed and rendered it (``--dump-dom``)."""
    return run(binary, ["--dump-dom", html.resolve().as_uri()])
