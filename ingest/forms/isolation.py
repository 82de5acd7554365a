"""Running a reader on an untrusted file in a child process that can be killed.

python-docx, pypdf, tnefparse and extract-msg were not written for hostile
input: a crafted file can make them loop, recurse or allocate without end.
Each read therefore runs in its own short-lived process, forked from a
``forkserver`` that has already imported the readers (cheap per file, and
safe in the multi-threaded daemon, where a plain ``fork`` could copy a lock
held by another thread). The parent waits at most the configured time and
kills the child after that; the child also caps its own address space and
CPU time, so an orphaned or runaway reader ends by itself.

The child's logging is switched off: library messages may quote the file.
Its answer is unpickled with an allow-list of our own result types and
bounded in size, so that even a reader subverted by a crafted file cannot
run code in, or flood, the daemon.

As with any use of multiprocessing, a script that calls :func:`run_isolated`
(through ``extract``) must guard its entry point with ``if __name__ ==
"__main__"``: the worker re-imports the main module.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import multiprocessing
import pickle
import resource
import threading
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ingest.forms.types import Blob, MessageBody, RawField, ReadResult

__all__ = ["run_isolated"]

Reader = Callable[[Blob], ReadResult]

_PRELOAD = ["ingest.forms.registry"]
_ALLOWED = {
    ("ingest.forms.types", "ReadResult"): ReadResult,
    ("ingest.forms.types", "RawField"): RawField,
    ("ingest.forms.types", "Blob"): Blob,
    ("ingest.forms.types", "MessageBody"): MessageBody,
}
_RESULT_SLACK = 8 * 1024 * 1024
_lock = threading.Lock()
_context: Any = None


def _get_context() -> Any:
    """The forkserver context, preloading the readers once per process (spawn where absent)."""
    global _context
    with _lock:
        if _context is None:
            try:
                forkserver = multiprocessing.get_context("forkserver")
                forkserver.set_forkserver_preload(_PRELOAD)
                _context = forkserver
            except ValueError:
                _context = multiprocessing.get_context("spawn")
        return _context


def _limit_self(memory_bytes: int, timeout: float) -> None:
    """Cap this process's extra address space and its CPU seconds (best effort)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
        current = pages * resource.getpagesize()
        limit = current + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with contextlib.suppress(OSError, ValueError):
        seconds = math.ceil(timeout) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _child(conn: Connection, reader: Reader, blob: Blob, memory_bytes: int, timeout: float) -> None:
    """Entry point of the worker: read, send the result (or a failure note), exit."""
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    _limit_self(memory_bytes, timeout)
    try:
        result = reader(blob)
    except MemoryError:
        result = ReadResult("unreadable", "reader ran out of its memory allowance")
    except RecursionError:
        result = ReadResult("unreadable", "file nested too deeply to read")
    except Exception as exc:
        result = ReadResult("unreadable", f"reader failed ({type(exc).__name__})")
    try:
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        failed = ReadResult("unreadable", f"result could not be returned ({type(exc).__name__})")
        payload = pickle.dumps(failed)
    try:
        conn.send_bytes(payload)
    finally:
        conn.close()


class _ResultUnpickler(pickle.Unpickler):
    """Loads only our result types and plain built-in values."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError("unexpected type in a reader's result")
        return allowed


def _load(payload: bytes) -> ReadResult:
    try:
        result = _ResultUnpickler(io.BytesIO(payload)).load()
    except Exception:
        return ReadResult("unreadable", "reader returned no usable result")
    if not isinstance(result, ReadResult):
        return ReadResult("unreadable", "reader returned no usable result")
    return result


def _not_started(exc: Exception) -> ReadResult:
    return ReadResult("unreadable", f"reader process could not be started ({type(exc).__name__})")


def run_isolated(reader: Reader, blob: Blob, timeout: float, memory_bytes: int) -> ReadResult:
    """``reader(blob)`` in a child process; a "timeout" or "unreadable" result if it fails.

    ``reader`` must be a module-level function (it is sent by reference).
    Never raises: a child that cannot be started, dies or hangs is a result.
    """
    try:
        context = _get_context()
        receiver, sender = context.Pipe(duplex=False)
    except Exception as exc:
        return _not_started(exc)
    process = context.Process(
        target=_child, args=(sender, reader, blob, memory_bytes, timeout), daemon=True
    )
    try:
        process.start()
    except Exception as exc:
        receiver.close()
        sender.close()
        return _not_started(exc)
    sender.close()
    try:
        if receiver.poll(timeout):
            try:
                payload = receiver.recv_bytes(maxlength=2 * len(blob.data) + _RESULT_SLACK)
            except (EOFError, OSError):
                return ReadResult("unreadable", "reader process ended without a result")
            return _load(payload)
        return ReadResult("timeout", f"reading took longer than {timeout:g} seconds; stopped")
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
        with contextlib.suppress(ValueError):
            process.close()
