"""A flood of hostile mail in one mailbox does not stop the other mailbox's escalations.

An attacker fills the CPRU mailbox with deeply nested HTML; meanwhile a
practitioner's escalation arrives at SSCP. The daemon (``tracker run`` on the
embedded defaults, its own process) must acknowledge the practitioner while it
is still working through the flood, and stop on SIGTERM within five seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import rfc822
from tests.robustness.test_sigterm import STOP_WITHIN_SECONDS, _hostile_html

ROOT = Path(__file__).parents[2]
#: From the daemon's start; start-up (migrations, secrets) takes a few seconds of it.
ACK_WITHIN_SECONDS = 45.0
#: Hostile messages in the flood: reading them takes about a minute, longer than the bound.
FLOOD = 200


def _maildir(path: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.slow
def test_one_mailbox_is_acknowledged_while_the_other_reads_hostile_mail(tmp_path: Path) -> None:
    mail = tmp_path / "var" / "mail"
    flood, inbox = _maildir(mail / "cpru"), _maildir(mail / "sscp")
    for i in range(FLOOD):
        (flood / "new" / f"hostile{i:04d}").write_bytes(_hostile_html(i))
    (inbox / "new" / "escalation").write_bytes(
        rfc822(sender="Priya Shah <p.shah@oakfield.example.sch.uk>", subject="Escalation")
    )
    outbox = tmp_path / "var" / "outbox"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRACKER_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = time.monotonic()
        while not (outbox.is_dir() and any(outbox.glob("*.eml"))):
            assert proc.poll() is None, "the daemon exited"
            assert time.monotonic() - started < ACK_WITHIN_SECONDS, "no acknowledgement"
            time.sleep(0.1)
        # The flood is still being read: the acknowledgement did not wait for it.
        assert any((flood / "new").iterdir())
        ack = next(outbox.glob("*.eml")).read_bytes()
        assert b"p.shah@oakfield.example.sch.uk" in ack

        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_WITHIN_SECONDS + 10)
        assert time.monotonic() - sent <= STOP_WITHIN_SECONDS
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
