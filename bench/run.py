"""``python -m bench.run``: backlog ingest and acknowledgement latency, end to end.

Not a test: nothing here asserts on timing. It measures the real daemon as an
operator runs it, as a subprocess, against real servers:

* a private Dovecot (``tests.fixtures.dovecot.DovecotServer``, its own temp
  dir, never the system instance) holding the mailbox,
* an aiosmtpd sink (``tests.fixtures.smtp.SmtpSink``) as the relay,
* SQLite in a temp dir.

1. **Backlog**: N generated messages (``bench.corpus``) are APPENDed to INBOX
   (setup, not measured), then ``tracker --config CFG run --once`` is timed:
   wall time, messages/s, peak RSS (the process's own ``VmHWM``, sampled
   from ``/proc``; see :func:`wait_rusage` for why not ``ru_maxrss``),
   outcomes (from the database) and acknowledgements received by the sink.
   The time split (fetch / process / ack / deliver) comes from the daemon's
   own INFO log timestamps.
2. **Latency**: a fresh database and mailbox; ``tracker run`` (IMAP IDLE) is
   started, warmed up with one message, then ``--latency`` new escalations
   are APPENDed one at a time, each from a different sender, ``--spacing``
   seconds apart. Latency is from the start of each APPEND to the moment the
   sink has received the acknowledgement whose In-Reply-To names it; the
   daemon's log splits it into APPEND -> fetched -> decided -> sent. Then
   SIGTERM, and the time the daemon takes to exit.
3. ``--profile`` also runs the backlog under a profiler (a separate run;
   pyinstrument if it is installed in the venv, else cProfile, or choose with
   ``--profiler``) and writes the hotspots to ``OUT/profile.txt``.

The per-sender rate limit for automatic mail (5/hour by default) is raised
in the bench configuration so the benchmark measures the pipeline rather
than the limiter: the corpus has ~300 senders and ~2,900 new cases.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import importlib.util
import itertools
import json
import os
import platform
import pstats
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w
import trustme

from bench.corpus import (
    MAILBOX_ADDRESS,
    TRUSTED_AUTHSERV_ID,
    BenchMessage,
    describe,
    generate,
    latency_messages,
)
from tests.fixtures.dovecot import DovecotServer, _find_dovecot, running_dovecot
from tests.fixtures.smtp import Received, SmtpSink

REPO = Path(__file__).resolve().parent.parent

TARGETS = {
    "backlog_msgs_per_s": 1400.0,  # at N = 5,000 with SQLite
    "ack_latency_p95_s": 1.0,
    "peak_rss_mb": 100.0,  # one mailbox
}
#: What an established Python helpdesk ingests on such a corpus, for context.
REFERENCE_HELPDESK_MSGS_PER_S = 28.0

_LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w+) ([\w.]+): (.*)$", re.MULTILINE
)


def say(text: str = "") -> None:
    print(text, flush=True)


# -- machine -------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_mb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    dovecot = _find_dovecot()
    dovecot_version = None
    if dovecot:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            dovecot_version = subprocess.run(
                [dovecot, "--version"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "mem_total_mb": mem_mb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "dovecot": dovecot_version,
    }


# -- servers -------------------------------------------------------------------


@contextlib.contextmanager
def private_dovecot(ca: trustme.CA) -> Iterator[DovecotServer]:
    """A fresh private Dovecot in its own temp dir (as the test fixture builds it)."""
    binary = _find_dovecot()
    if binary is None:
        raise SystemExit("bench: dovecot-imapd is not installed (run 'make system-deps' as root)")
    with running_dovecot(binary, ca, "dovecot-bench-") as server:
        yield server


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def load_mailbox(server: DovecotServer, messages: Sequence[BenchMessage]) -> float:
    """APPEND every message to INBOX (MULTIAPPEND in chunks when offered); returns seconds."""
    started = time.monotonic()
    with server.client() as client:
        if client.has_capability("MULTIAPPEND"):
            chunk: list[bytes] = []
            size = 0
            for m in messages:
                chunk.append(m.data)
                size += len(m.data)
                if len(chunk) >= 250 or size >= 8_000_000:
                    client.multiappend("INBOX", chunk)
                    chunk, size = [], 0
            if chunk:
                client.multiappend("INBOX", chunk)
        else:
            for m in messages:
                client.append("INBOX", m.data)
        count = int(client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"])
    if count != len(messages):
        raise RuntimeError(f"INBOX holds {count} messages after APPEND, expected {len(messages)}")
    return time.monotonic() - started


# -- configuration ---------------------------------------------------------------


def write_config(
    workdir: Path, *, imap_port: int, smtp_port: int, password: str, batch_size: int
) -> Path:
    """The TOML an operator would write, pointing at the private servers."""
    workdir.mkdir(parents=True, exist_ok=True)
    secret = workdir / "imap.pass"
    secret.write_text(password + "\n", encoding="utf-8")
    data: dict[str, Any] = {
        "database": {"url": f"sqlite:///{workdir / 'tracker.db'}"},
        "partnerships": {
            "solihull": {
                "prefix": "SSCP",
                "display_name": "Solihull Safeguarding Children Partnership",
                "domains": ["solihull.gov.uk"],
            }
        },
        "mailbox": [
            {
                "name": "sscp",
                "kind": "imap",
                "address": MAILBOX_ADDRESS,
                "partnership": "solihull",
                "host": DovecotServer.host,
                "port": imap_port,
                "tls": "none",  # local private test server
                "username": DovecotServer.user,
                "password_file": str(secret),
                "folder": "INBOX",
                "processed_folder": "Processed",
                "quarantine_folder": "Quarantine",
                "batch_size": batch_size,
            }
        ],
        "outgoing": {
            "transport": "smtp",
            "host": SmtpSink.host,
            "port": smtp_port,
            "tls": "none",
            "from_address": MAILBOX_ADDRESS,
        },
        "security": {
            "trusted_authserv_ids": [TRUSTED_AUTHSERV_ID],
            "secure_domains": ["solihull.gov.uk"],
            "protected_domains": ["nhs.net", "westmidlands.police.uk"],
        },
        # Measure the pipeline, not the per-sender limiter (default 5/hour).
        "limits": {"auto_mail_per_sender_per_hour": 1_000_000},
        "paths": {"var_dir": str(workdir / "var")},
    }
    path = workdir / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def tracker_env(tree: Path) -> dict[str, str]:
    """Environment for a tracker subprocess importing its code from ``tree``.

    ``PYTHONPATH`` comes before the venv's editable install, so ``--tree`` can
    point at another checkout (e.g. a ``git archive`` export of a commit).
    """
    return {**os.environ, "PYTHONPATH": str(tree)}


def code_version(tree: Path) -> dict[str, Any]:
    """Which code was measured: the commit and any uncommitted changes to the daemon."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(tree), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "tracker", "ingest", "templates")
    return {
        "tree": str(tree),
        "commit": head,
        "subject": git("log", "-1", "--format=%s") if head else None,
        "uncommitted": dirty.splitlines() if dirty else [],
    }


def tracker_cmd(config: Path, *args: str, profile: tuple[str, Path] | None = None) -> list[str]:
    """The tracker command line, optionally under a profiler writing to a file."""
    prefix = [sys.executable]
    if profile is not None:
        profiler, target = profile
        if profiler == "cprofile":
            prefix += ["-m", "cProfile", "-o", str(target)]
        else:  # pyinstrument: a sampling profiler, far less overhead on call-heavy code
            prefix += ["-m", "pyinstrument", "-r", "session", "-o", str(target)]
    return [*prefix, "-m", "tracker.cli", "--config", str(config), *args]


def render_pyinstrument(session: Path, out_dir: Path) -> Path:
    """Turn a pyinstrument session into pstats (for the summary) and a text call tree."""
    pstats_file = out_dir / "backlog.pstats"
    for renderer, target in (("pstats", pstats_file), ("text", out_dir / "profile-tree.txt")):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pyinstrument",
                f"--load={session}",
                "-r",
                renderer,
                "-o",
                str(target),
            ],
            check=True,
            cwd=session.parent,
        )
    return pstats_file


# -- child processes -------------------------------------------------------------


@dataclass
class Exited:
    code: int
    user_s: float
    sys_s: float


def wait_rusage(proc: subprocess.Popen[bytes], timeout: float | None = None) -> Exited | None:
    """Reap ``proc`` with wait4 for its CPU times; None on timeout.

    Not used for memory: on Linux a child's ``ru_maxrss`` (wait4 or
    ``RUSAGE_CHILDREN``) starts from the *parent's* high-water mark, because
    fork copies the parent's memory map and exec records its size; this bench
    holds the whole corpus, so that figure would be the bench's, not the
    tracker's. :class:`RssSampler` reads the child's own ``VmHWM`` instead.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if deadline is None else os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return Exited(proc.returncode, usage.ru_utime, usage.ru_stime)
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.01)


class RssSampler:
    """Polls ``/proc/<pid>/status`` for the child's own peak (VmHWM) and current RSS.

    VmHWM is the high-water mark of the process's address space since its
    exec, kept by the kernel, so sampling misses nothing except growth in the
    last interval before exit.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.timeline: list[tuple[float, float]] = []  # (seconds since start, RSS MB)
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> tuple[int, int] | None:
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        values = dict(
            line.split(":", 1) for line in text.splitlines() if line.startswith(("VmHWM", "VmRSS"))
        )
        if "VmHWM" not in values:
            return None  # a zombie has no memory map left
        return int(values["VmHWM"].split()[0]), int(values["VmRSS"].split()[0])

    def _run(self) -> None:
        last_mark = -1.0
        while not self._stop.is_set():
            sample = self._sample()
            if sample is not None:
                hwm, rss = sample
                self.peak_kb = max(self.peak_kb, hwm)
                elapsed = time.monotonic() - self._started
                if elapsed - last_mark >= 0.5:
                    self.timeline.append((round(elapsed, 2), round(rss / 1024, 1)))
                    last_mark = elapsed
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Last resort for a child we started: SIGKILL that one pid and reap it."""
    if proc.returncode is None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


# -- database --------------------------------------------------------------------


def db_counts(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:

        def grouped(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in con.execute(sql)}

        return {
            "raw_outcomes": grouped("SELECT outcome, COUNT(*) FROM raw_mail GROUP BY outcome"),
            "threaded_via": grouped(
                "SELECT COALESCE(threaded_via, 'new case'), COUNT(*) FROM messages "
                "WHERE direction = 'in' AND verdict = 'person' GROUP BY threaded_via"
            ),
            "outbox": grouped("SELECT state, COUNT(*) FROM outbox GROUP BY state"),
            "cases": int(con.execute("SELECT COUNT(*) FROM cases").fetchone()[0]),
            "events": int(con.execute("SELECT COUNT(*) FROM events").fetchone()[0]),
            "quarantine_reasons": grouped(
                "SELECT reason, COUNT(*) FROM raw_mail WHERE outcome = 'quarantined' "
                "GROUP BY reason ORDER BY COUNT(*) DESC LIMIT 5"
            ),
        }
    finally:
        con.close()


# -- log-derived split -----------------------------------------------------------


def split_from_log(stderr: str, started_wall: float, ended_wall: float) -> dict[str, float]:
    """Attribute the run's wall time to phases from the daemon's own log timestamps.

    Markers: the IMAP connect warning starts fetching; "handed out" ends a
    fetch; a ``tracker.decisions`` "raw N:" line ends processing (commit_raw,
    parse, classify, thread, case, outbox rows: they are logged after the
    commit); "acked" ends the IMAP MOVE; a "sent" line ends one delivery. The
    time between two markers goes to the phase the later marker closes.
    """
    marks: list[tuple[float, str]] = []
    for stamp, _level, name, message in _LOG_LINE.findall(stderr):
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if name == "ingest.sources.imap":
            if "WITHOUT TLS" in message:
                marks.append((at, "start"))
            elif "handed out" in message:
                marks.append((at, "fetch"))
            elif " acked " in message:
                marks.append((at, "ack"))
        elif name == "tracker.decisions":
            if message.startswith("raw "):
                marks.append((at, "process"))
            elif message.startswith("sent "):
                marks.append((at, "deliver"))
    split = {"startup": 0.0, "fetch": 0.0, "process": 0.0, "ack": 0.0, "deliver": 0.0}
    if not marks:
        return {}
    split["startup"] = max(marks[0][0] - started_wall, 0.0)
    for (before, _), (after, phase) in itertools.pairwise(marks):
        if phase != "start":
            split[phase] += after - before
    split["exit"] = max(ended_wall - marks[-1][0], 0.0)
    return {k: round(v, 3) for k, v in split.items()}


_REFERENCE = re.compile(r"\b[A-Z][A-Z0-9]{1,9}-\d{4}-\d{4,6}\b")
_SUMMARY = re.compile(r"^done: (.*)$", re.MULTILINE)


# -- 1. backlog ------------------------------------------------------------------


@dataclass
class BacklogResult:
    n: int
    append_s: float
    wall_s: float
    msgs_per_s: float
    peak_rss_mb: float
    cpu_user_s: float
    cpu_sys_s: float
    exit_code: int
    summary: str
    acks_received: int
    inbox_left: int
    processed_folder: int
    db: dict[str, Any]
    split_s: dict[str, float] = field(default_factory=dict)
    rss_timeline_mb: list[tuple[float, float]] = field(default_factory=list)


def run_backlog(
    ca: trustme.CA,
    messages: Sequence[BenchMessage],
    work: Path,
    *,
    batch_size: int,
    tree: Path = REPO,
    profile: tuple[str, Path] | None = None,
) -> BacklogResult:
    with private_dovecot(ca) as server, smtp_sink() as sink:
        say(f"  appending {len(messages)} messages to a private Dovecot (setup) ...")
        append_s = load_mailbox(server, messages)
        say(f"  appended in {append_s:.1f} s")
        config = write_config(
            work,
            imap_port=server.port,
            smtp_port=sink.port,
            password=server.password,
            batch_size=batch_size,
        )
        out_file, err_file = work / "stdout.txt", work / "stderr.txt"
        cmd = tracker_cmd(config, "run", "--once", profile=profile)
        say(
            f"  running: tracker --config {config.name} run --once"
            + (f" (under {profile[0]})" if profile else "")
        )
        with out_file.open("wb") as out, err_file.open("wb") as err:
            started_wall = time.time()
            started = time.monotonic()
            proc = subprocess.Popen(
                cmd,
                cwd=tree,
                env=tracker_env(tree),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
            rss = RssSampler(proc.pid)
            try:
                exited = wait_rusage(proc)
            finally:
                rss.close()
                stop_process(proc)
            wall = time.monotonic() - started
            ended_wall = time.time()
        assert exited is not None
        stdout = out_file.read_text(errors="replace")
        stderr = err_file.read_text(errors="replace")
        if exited.code != 0:
            say(stderr[-3000:])
            raise RuntimeError(f"tracker run --once exited {exited.code}")
        summary = _SUMMARY.search(stdout)
        inbox_left = len(server.list_uids("INBOX"))
        processed = len(server.list_uids("Processed"))
        return BacklogResult(
            n=len(messages),
            append_s=round(append_s, 2),
            wall_s=round(wall, 3),
            msgs_per_s=round(len(messages) / wall, 1),
            peak_rss_mb=rss.peak_mb,
            rss_timeline_mb=rss.timeline,
            cpu_user_s=round(exited.user_s, 2),
            cpu_sys_s=round(exited.sys_s, 2),
            exit_code=exited.code,
            summary=summary.group(1) if summary else "(no summary printed)",
            acks_received=len(sink.messages),
            inbox_left=inbox_left,
            processed_folder=processed,
            db=db_counts(work / "tracker.db"),
            split_s=split_from_log(stderr, started_wall, ended_wall),
        )


# -- 2. latency ------------------------------------------------------------------


class AckClock:
    """Stamps each message the sink accepts with ``time.monotonic()`` as it arrives."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink
        self.arrivals: list[tuple[float, Received]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ack-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            try:
                got = self.sink.wait_for(seen + 1, timeout=0.1)
            except AssertionError:  # nothing new within the timeout
                continue
            now = time.monotonic()
            with self._lock:
                self.arrivals.extend((now, r) for r in got[seen:])
            seen = len(got)

    def by_in_reply_to(self) -> dict[str, tuple[float, str]]:
        """Inbound Message-ID -> (arrival time, the acknowledgement's own Message-ID)."""
        with self._lock:
            arrivals = list(self.arrivals)
        out: dict[str, tuple[float, str]] = {}
        for at, received in arrivals:
            msg = email.message_from_bytes(received.data, policy=email.policy.default)
            irt = str(msg.get("In-Reply-To", "")).strip().strip("<>")
            if irt:
                out.setdefault(irt, (at, str(msg.get("Message-ID", "")).strip().strip("<>")))
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def latency_breakdown(
    stderr: str, appended: dict[str, float], acks: dict[str, tuple[float, str]], offset: float
) -> dict[str, float]:
    """Median time per step, from the daemon's log: APPEND -> fetched -> decided -> sent.

    ``appended`` and ``acks`` hold monotonic times; ``offset`` turns them
    into wall-clock times comparable with the log (1 ms resolution). A
    message counts as fetched at the first "handed out" line after its APPEND.
    """
    fetched: list[float] = []
    decided: dict[str, float] = {}
    sent: dict[str, float] = {}
    for stamp, _level, name, message in _LOG_LINE.findall(stderr):
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if name == "ingest.sources.imap" and "handed out" in message:
            fetched.append(at)
        elif name == "tracker.decisions":
            # "raw 12: case (opened SSCP-2026-0001)" (older code: "... case SSCP-2026-0001")
            case = _REFERENCE.search(message) if re.match(r"raw \d+: case\b", message) else None
            if case:
                decided[case.group(0)] = at
            elif message.startswith("sent ack <"):
                sent[message.split("<", 1)[1].rstrip(">")] = at
    steps: dict[str, list[float]] = {
        "to_fetched": [],
        "to_decided": [],
        "to_sent": [],
        "to_sink": [],
    }
    for mid, at_mono in appended.items():
        if mid not in acks:
            continue
        t_append = at_mono + offset
        arrived, ack_id = acks[mid]
        t_arrived = arrived + offset
        t_fetched = next((t for t in fetched if t >= t_append), None)
        reference = _REFERENCE.search(ack_id)
        t_decided = decided.get(reference.group(0)) if reference else None
        t_sent = sent.get(ack_id)
        if t_fetched is None or t_decided is None or t_sent is None:
            continue
        steps["to_fetched"].append(t_fetched - t_append)
        steps["to_decided"].append(t_decided - t_fetched)
        steps["to_sent"].append(t_sent - t_decided)
        steps["to_sink"].append(t_arrived - t_sent)
    return {k: round(_percentile(v, 50), 3) for k, v in steps.items() if v}


_PROBE_MESSAGE = (
    b"From: Probe <probe@bench.invalid>\r\nTo: probe@bench.invalid\r\n"
    b"Subject: IDLE probe\r\nMessage-ID: <idle-probe@bench.invalid>\r\n\r\nprobe\r\n"
)


def measure_idle_push(server: DovecotServer, samples: int = 5) -> list[float]:
    """Seconds from an APPEND to the server's IDLE ``EXISTS`` push: a floor under latency.

    Uses its own folder, which the daemon does not watch, and runs before it starts.
    """
    folder = "IdleProbe"
    delays: list[float] = []
    with server.client() as watcher, server.client() as writer:
        if not writer.folder_exists(folder):
            writer.create_folder(folder)
        watcher.select_folder(folder)
        for _ in range(samples):
            watcher.idle()
            time.sleep(0.2)
            start = time.monotonic()
            writer.append(folder, _PROBE_MESSAGE)
            deadline = start + 5.0
            pushed: float | None = None
            while pushed is None and time.monotonic() < deadline:
                for response in watcher.idle_check(timeout=max(0.0, deadline - time.monotonic())):
                    if isinstance(response, tuple) and response[1:2] == (b"EXISTS",):
                        pushed = time.monotonic()
            watcher.idle_done()
            if pushed is not None:
                delays.append(pushed - start)
    return delays


@dataclass
class LatencyResult:
    count: int
    spacing_s: float
    received: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    min_s: float | None
    mean_s: float | None
    sigterm_exit_s: float | None
    exit_code: int | None
    peak_rss_mb: float | None
    imap_idle_push_s: float | None = None
    median_steps_s: dict[str, float] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)


def run_latency(
    ca: trustme.CA, count: int, spacing: float, work: Path, tree: Path = REPO
) -> LatencyResult:
    messages = latency_messages(count + 1)
    warmup, timed = messages[0], messages[1:]
    sent_at: dict[str, float] = {}
    arrived: dict[str, tuple[float, str]] = {}
    exited: Exited | None = None
    stop_s: float | None = None
    offset = time.time() - time.monotonic()
    with private_dovecot(ca) as server, smtp_sink() as sink:
        config = write_config(
            work,
            imap_port=server.port,
            smtp_port=sink.port,
            password=server.password,
            batch_size=200,
        )
        pushes = measure_idle_push(server)
        err_file = work / "stderr.txt"
        clock = AckClock(sink)
        with (work / "stdout.txt").open("wb") as out, err_file.open("wb") as err:
            proc = subprocess.Popen(
                tracker_cmd(config, "run"),
                cwd=tree,
                env=tracker_env(tree),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        rss = RssSampler(proc.pid, interval=0.05)
        try:
            with server.client() as client:
                # Warm-up: start-up, connections and the first IDLE happen before timing;
                # its acknowledgement is the sign that the daemon is running.
                client.append("INBOX", warmup.data)
                _wait_until(
                    lambda: proc.poll() is not None or warmup.message_id in clock.by_in_reply_to(),
                    60,
                )
                if warmup.message_id not in clock.by_in_reply_to():
                    tail = err_file.read_text(errors="replace")[-3000:]
                    state = "exited" if proc.poll() is not None else "is running"
                    raise RuntimeError(
                        f"no acknowledgement for the warm-up message (the daemon {state}):\n{tail}"
                    )
                time.sleep(1.0)  # back in IDLE
                say(f"  daemon idle; appending {count} escalations {spacing:.2f} s apart ...")
                start = time.monotonic()
                for i, m in enumerate(timed):
                    slot = start + i * spacing
                    time.sleep(max(0.0, slot - time.monotonic()))
                    sent_at[m.message_id] = time.monotonic()
                    client.append("INBOX", m.data)
            _wait_until(lambda: all(mid in clock.by_in_reply_to() for mid in sent_at), 30)
            arrived = clock.by_in_reply_to()
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            exited = wait_rusage(proc, timeout=60)
            if exited is not None:
                stop_s = time.monotonic() - t0
        finally:
            clock.close()
            rss.close()
            stop_process(proc)
    latencies = [arrived[mid][0] - at for mid, at in sent_at.items() if mid in arrived]
    steps = latency_breakdown(err_file.read_text(errors="replace"), sent_at, arrived, offset)

    def stat(q: float) -> float | None:
        return round(_percentile(latencies, q), 3) if latencies else None

    return LatencyResult(
        count=count,
        spacing_s=spacing,
        received=len(latencies),
        p50_s=stat(50),
        p95_s=stat(95),
        max_s=round(max(latencies), 3) if latencies else None,
        min_s=round(min(latencies), 3) if latencies else None,
        mean_s=round(sum(latencies) / len(latencies), 3) if latencies else None,
        sigterm_exit_s=round(stop_s, 2) if stop_s is not None else None,
        exit_code=exited.code if exited else None,
        peak_rss_mb=rss.peak_mb,
        imap_idle_push_s=round(_percentile(pushes, 50), 3) if pushes else None,
        median_steps_s=steps,
        latencies_s=[round(v, 4) for v in latencies],
    )


# -- 3. profile ------------------------------------------------------------------


def _profile_module(filename: str, func: str, tree: Path) -> str:
    """Group a pstats entry by library, repository file, stdlib module or C type."""
    if filename == "~":  # C functions: group by the type they belong to
        owner = re.search(r"of '([\w.]+)' objects", func)
        return f"C: {owner.group(1)}" if owner else "C: builtins"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(str(tree) + "/"):
        return filename[len(str(tree)) + 1 :]
    if "/lib/python3" in filename:
        return "stdlib: " + filename.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return filename


def summarise_profile(prof: Path, out: Path, tree: Path = REPO, top: int = 30) -> dict[str, Any]:
    """Top functions by cumulative and own time, and own time summed per module."""
    stats = pstats.Stats(str(prof))
    # pstats entries: (file, line, function) -> (primitive calls, calls, own, cumulative, callers)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())

    def label(key: tuple[str, int, str]) -> str:
        filename, line, func = key
        if filename == "~":
            return func
        for marker in ("/site-packages/", str(tree) + "/", "/lib/python3.11/", "/lib/python3"):
            if marker in filename:
                filename = filename.split(marker, 1)[1]
                break
        return f"{filename}:{line}({func})"

    by_cum = sorted(raw.items(), key=lambda kv: kv[1][3], reverse=True)[:top]
    by_own = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    modules: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, own, _cum, _callers) in raw.items():
        name = _profile_module(filename, func, tree)
        modules[name] = modules.get(name, 0.0) + own
    by_module = sorted(modules.items(), key=lambda kv: kv[1], reverse=True)[:top]
    lines = [f"total profiled time (sum of own time): {total:.2f} s", "", "top by cumulative time:"]
    lines += [f"  {v[3]:8.2f} s  {v[1]:>9} calls  {label(k)}" for k, v in by_cum]
    lines += ["", "top by own time:"]
    lines += [f"  {v[2]:8.2f} s  {v[1]:>9} calls  {label(k)}" for k, v in by_own]
    lines += ["", "own time by module (library, repository file, stdlib module or C type):"]
    lines += [f"  {t:8.2f} s  {100 * t / total:5.1f}%  {m}" for m, t in by_module]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "total_s": round(total, 2),
        "top_cumulative": [(label(k), round(v[3], 2), v[1]) for k, v in by_cum[:25]],
        "top_own": [(label(k), round(v[2], 2), v[1]) for k, v in by_own[:20]],
        "by_module": [(m, round(t, 2)) for m, t in by_module[:20]],
    }


# -- report ----------------------------------------------------------------------


def _verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    if value >= target if higher_is_better else value <= target:
        return "met"
    if higher_is_better:
        return f"MISSED: {value / target:.0%} of target ({target / value:.1f}x short)"
    return f"MISSED: {value / target - 1:+.1%} over target"


def print_table(results: dict[str, Any]) -> None:
    b = results.get("backlog")
    lat = results.get("latency")
    rows: list[tuple[str, str, str, str]] = []
    if b:
        rows += [
            (
                f"backlog throughput, N={b['n']}",
                f"{b['msgs_per_s']:.1f} msg/s",
                f">= {TARGETS['backlog_msgs_per_s']:.0f}",
                _verdict(b["msgs_per_s"], TARGETS["backlog_msgs_per_s"], True),
            ),
            ("backlog wall time", f"{b['wall_s']:.2f} s", "", ""),
            (
                "backlog peak RSS",
                f"{b['peak_rss_mb']:.1f} MB",
                f"<= {TARGETS['peak_rss_mb']:.0f}",
                _verdict(b["peak_rss_mb"], TARGETS["peak_rss_mb"], False),
            ),
            ("backlog CPU user+sys", f"{b['cpu_user_s'] + b['cpu_sys_s']:.1f} s", "", ""),
            ("acks received by sink", str(b["acks_received"]), "", ""),
        ]
    if lat:
        rows += [
            (
                f"ack latency p50 (n={lat['received']}/{lat['count']})",
                f"{lat['p50_s']} s",
                "",
                "",
            ),
            (
                "ack latency p95",
                f"{lat['p95_s']} s",
                f"<= {TARGETS['ack_latency_p95_s']}",
                _verdict(lat["p95_s"], TARGETS["ack_latency_p95_s"], False),
            ),
            ("ack latency max", f"{lat['max_s']} s", "", ""),
            ("IMAP IDLE push delay (latency floor)", f"{lat['imap_idle_push_s']} s", "", ""),
            ("daemon exit after SIGTERM", f"{lat['sigterm_exit_s']} s", "", ""),
            ("daemon peak RSS (latency run)", f"{lat['peak_rss_mb']} MB", "", ""),
        ]
    width = max(len(r[0]) for r in rows) if rows else 10
    say("")
    say(f"{'measure':<{width}}  {'value':>14}  {'target':>8}  verdict")
    say("-" * (width + 40))
    for name, value, target, verdict in rows:
        say(f"{name:<{width}}  {value:>14}  {target:>8}  {verdict}")
    if b:
        say("")
        say(f"outcomes (tracker summary): {b['summary']}")
        say(f"outcomes (database): {b['db']['raw_outcomes']}; cases {b['db']['cases']}")
        say(f"threaded via: {b['db']['threaded_via']}; outbox: {b['db']['outbox']}")
        if b["split_s"]:
            say(
                "time split from the daemon's log: "
                + ", ".join(f"{k} {v:.2f} s" for k, v in b["split_s"].items())
            )
        say(
            f"IMAP after the run: INBOX {b['inbox_left']}, Processed {b['processed_folder']}; "
            f"setup APPEND took {b['append_s']:.1f} s (not measured)"
        )
    if lat and lat["median_steps_s"]:
        names = {
            "to_fetched": "APPEND -> fetched",
            "to_decided": "-> decided",
            "to_sent": "-> handed to the relay",
            "to_sink": "-> at the sink",
        }
        say(
            "latency, median per step (daemon log): "
            + ", ".join(f"{names.get(k, k)} {v:.3f} s" for k, v in lat["median_steps_s"].items())
        )
    say(
        f"(for reference: an established Python helpdesk ingests "
        f"~{REFERENCE_HELPDESK_MSGS_PER_S:.0f} msg/s on such a corpus)"
    )


# -- main ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=5000, help="backlog size (default 5000)")
    p.add_argument("--latency", type=int, default=100, help="timed escalations (default 100)")
    p.add_argument("--spacing", type=float, default=0.2, help="seconds between APPENDs")
    p.add_argument(
        "--batch-size",
        type=int,
        default=200,
        help="mailbox batch_size (default: the daemon's own, 200)",
    )
    p.add_argument("--seed", type=int, default=20260316, help="corpus seed")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="results folder")
    p.add_argument("--profile", action="store_true", help="also profile a backlog run")
    p.add_argument(
        "--profiler",
        choices=["pyinstrument", "cprofile"],
        default="pyinstrument",
        help="pyinstrument (sampling; pip install it into the venv) or cProfile "
        "(deterministic; inflates call-heavy code such as email headers and the ORM)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    p.add_argument(
        "--tree",
        type=Path,
        default=REPO,
        help="run the tracker from this source tree (e.g. a 'git archive' export of a "
        "commit) instead of the working tree",
    )
    args = p.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    ca = trustme.CA()
    tree = args.tree.resolve()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "code": code_version(tree),
        "targets": TARGETS,
    }
    say(
        f"machine: {results['machine']['nproc']} CPU(s), {results['machine']['cpu_model']}, "
        f"Python {results['machine']['python']}"
    )
    code = results["code"]
    say(
        f"code: {code['tree']} at {code['commit'] or '(not a git checkout)'}"
        + (f", {len(code['uncommitted'])} uncommitted change(s)" if code["uncommitted"] else "")
    )
    try:
        if args.n > 0:
            t = time.monotonic()
            corpus = generate(args.n, seed=args.seed)
            results["corpus"] = describe(corpus)
            say(
                f"corpus: {results['corpus']['kinds']} "
                f"({results['corpus']['bytes_total'] / 1e6:.1f} MB, generated in "
                f"{time.monotonic() - t:.1f} s)"
            )
            say("1. backlog ingest")
            backlog = run_backlog(
                ca, corpus, tmp / "backlog", batch_size=args.batch_size, tree=tree
            )
            results["backlog"] = backlog.__dict__
            say(f"  {backlog.n} messages in {backlog.wall_s:.2f} s = {backlog.msgs_per_s} msg/s")
        if args.latency > 0:
            say("2. acknowledgement latency")
            latency = run_latency(ca, args.latency, args.spacing, tmp / "latency", tree=tree)
            results["latency"] = latency.__dict__
        if args.profile and args.n > 0:
            profiler = args.profiler
            if profiler == "pyinstrument" and importlib.util.find_spec("pyinstrument") is None:
                say("  pyinstrument is not installed in this venv; using cProfile")
                profiler = "cprofile"
            say(f"3. profile ({profiler}, a separate run with the same corpus)")
            raw_profile = args.out / (
                "backlog.pyisession" if profiler == "pyinstrument" else "backlog.prof"
            )
            profiled = run_backlog(
                ca,
                corpus,
                tmp / "profile",
                batch_size=args.batch_size,
                tree=tree,
                profile=(profiler, raw_profile),
            )
            stats_file = (
                render_pyinstrument(raw_profile, args.out)
                if profiler == "pyinstrument"
                else raw_profile
            )
            results["profile"] = {
                "profiler": profiler,
                "wall_s_under_profiler": profiled.wall_s,
                **summarise_profile(stats_file, args.out / "profile.txt", tree),
            }
            say(f"  hotspots written to {args.out / 'profile.txt'} (raw: {raw_profile})")
    finally:
        if args.keep:
            say(f"temp dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(results)
    out = args.out / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    say(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
