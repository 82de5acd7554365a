"""All 2,237 real-world odd and broken messages through the whole pipeline.

Each file is delivered to a watched Maildir and the daemon runs until the
mailbox is empty. Nothing may crash, nothing may be lost: every file must
leave the inbox (to Processed or Quarantine) and every stored message must
end as exactly one of case / thread / ignored / quarantined.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flows.harness import Harness, flow_config
from tracker.kinds import Outcome

CORPUS = Path(__file__).parents[3] / "shared" / "corpus" / "realworld"
NOT_MESSAGES = {"index.tsv", "SOURCES.md", ".gitattributes"}


def _corpus() -> list[Path]:
    if not CORPUS.is_dir():
        message = f"real-world corpus not found at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in NOT_MESSAGES)


@pytest.mark.slow
def test_every_corpus_message_ends_somewhere(
    tmp_path: Path, sqlite_url: str, report: Callable[[str], None]
) -> None:
    files = _corpus()
    assert len(files) == 2237
    config = flow_config(
        tmp_path, sqlite_url, None, batch_size=250, limits={"auto_mail_per_sender_per_hour": 10_000}
    )
    h = Harness(config)
    inbox = tmp_path / "mail" / "sscp"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(files):
        shutil.copyfile(path, inbox / "new" / f"{1_700_000_000 + i}.corpus{i}.test")

    result = h.run()

    assert result.errors == []
    assert h.folder("sscp", None) == [], "messages left in the inbox"
    moved = len(h.folder("sscp", "Processed")) + len(h.folder("sscp", "Quarantine"))
    assert moved == len(files)
    raws = h.raws()
    assert len(raws) == len({p.read_bytes() for p in files})  # identical files stored once
    assert all(r.state == "done" and r.outcome in set(Outcome) for r in raws)
    counts = Counter(r.outcome for r in raws)
    assert len(h.folder("sscp", "Quarantine")) >= counts["quarantined"]
    assert counts["case"] == len(h.cases()) > 0
    # Every acknowledgement went to a real person's address, once per case at most.
    acks = [o for o in h.outbox() if o.kind == "ack"]
    assert len(acks) <= counts["case"]
    reasons = Counter(
        (r.reason or "").split(" (")[0].split(":")[0]
        for r in raws
        if r.outcome in ("ignored", "quarantined")
    )
    report(
        f"real-world corpus: {len(files)} files, {len(raws)} distinct, "
        + ", ".join(f"{counts[o]} {o}" for o in Outcome)
        + f"; {len(acks)} acknowledgements; other mail: "
        + ", ".join(
            f"{n} {k}" for k, n in Counter(o.kind for o in h.outbox()).most_common() if k != "ack"
        )
    )
    report(
        "  ignored or quarantined, by reason: "
        + ", ".join(f"{n} {why}" for why, n in reasons.most_common(8))
    )
