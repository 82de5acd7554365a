"""Maildir delivery order: a reply must never be handed out before the escalation it answers."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.sources.maildir import MaildirSource


def test_files_of_one_second_come_in_delivery_order_not_name_order(tmp_path: Path) -> None:
    source = MaildirSource("box", tmp_path / "box")
    new = tmp_path / "box" / "new"
    # Same second in the name; "M10" sorts before "M9" as text, but was delivered later.
    for i, (name, when) in enumerate([("1763283600.M9P1.host", 1), ("1763283600.M10P1.host", 2)]):
        path = new / name
        path.write_bytes(f"Subject: {i}\r\n\r\nbody\r\n".encode())
        os.utime(path, ns=(when * 10**9, when * 10**9))
    older = new / "1763283599.M99P1.host"  # an earlier second still comes first
    older.write_bytes(b"Subject: older\r\n\r\nbody\r\n")
    os.utime(older, ns=(5 * 10**9, 5 * 10**9))
    got = [m.external_id for m in source.poll()]
    assert got == [
        "new/1763283599.M99P1.host",
        "new/1763283600.M9P1.host",
        "new/1763283600.M10P1.host",
    ]
