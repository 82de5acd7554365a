"""Readers that misbehave on purpose, run by the isolation tests in a worker process.

They live in a module of their own so that the worker can import them by
name, as it imports the real readers.
"""

from __future__ import annotations

import collections
import os
import time

from ingest.forms.types import Blob, RawField, ReadResult


def hang(blob: Blob) -> ReadResult:
    """Sleeps for an hour: a parser stuck waiting on nothing."""
    time.sleep(3600)
    return ReadResult("read", "never")


def spin(blob: Blob) -> ReadResult:
    """Loops for ever: a parser stuck in a cycle of a crafted file."""
    while True:
        pass


def crash(blob: Blob) -> ReadResult:
    """Dies without a word, as a segfault in a C extension would."""
    os._exit(3)


def hog(blob: Blob) -> ReadResult:
    """Allocates without end: a decompression bomb."""
    chunks = []
    while True:
        chunks.append(bytearray(64 * 1024 * 1024))


def leak_text(blob: Blob) -> ReadResult:
    """Fails with the file's content in the message, which must not reach the report."""
    raise ValueError(blob.data.decode("utf-8", "replace"))


def smuggle(blob: Blob) -> ReadResult:
    """Returns a type the parent does not expect: a subverted reader's answer."""
    return ReadResult("read", "", (collections.OrderedDict(),))  # type: ignore[arg-type]


def echo(blob: Blob) -> ReadResult:
    """Reads the file as one concern, to show the round trip works."""
    return ReadResult("read", "1 field", (RawField("concern", blob.data.decode(), 0.9),))
