"""Files and folders only the daemon's own user may read, whatever the umask.

``var/`` holds the SQLite database (the children's table among it), the
generated secrets and the digests; an export written with ``--out`` can hold
every case. Under a normal umask (022) the defaults would be 0755 folders
and 0644 files, readable by any local user, so everything the tracker
creates for itself goes through here: folders 0700, files 0600. Files that
already exist are narrowed to 0600 when written again; folders that already
exist are left alone (a ``--out`` into ``/tmp`` must not change ``/tmp``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TextIO

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_private_file",
    "narrow_to_private",
    "open_private_text",
    "private_dir",
]

log = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Make ``path`` and any missing parents, each one we create 0700; returns ``path``.

    ``Path.mkdir(mode=...)`` gives the mode only to the last folder and lets the
    umask narrow it, so each missing level is made, then set, one at a time.
    """
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # made a moment ago by another daemon
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)
    return path


def narrow_to_private(path: Path) -> None:
    """Set an existing file of ours to 0600 (a database made by an older version, say)."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE_MODE)
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("cannot narrow %s to mode 0600: not its owner", path)


def create_private_file(path: Path, *, exclusive: bool = False) -> int:
    """Open ``path`` for writing, created 0600 (or narrowed to 0600); returns the descriptor.

    With ``exclusive`` the file must not exist yet (:class:`FileExistsError`
    otherwise), so two daemons making one secret never both write it.
    """
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # an existing file keeps its old mode otherwise
    except OSError:
        os.close(fd)
        raise
    return fd


def open_private_text(path: Path) -> TextIO:
    """``open(path, "w")`` for text (UTF-8, no newline translation), but 0600."""
    return open(create_private_file(path), "w", encoding="utf-8", newline="")
