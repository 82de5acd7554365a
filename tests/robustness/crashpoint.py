"""Run ``tracker`` and SIGKILL ourselves at the Nth crash point (used by test_kill.py).

Crash points are every SQL statement the process sends, every hand-over to
the SMTP relay and every move of a message on the mailbox, before and after.
``TRACKER_KILL_AT=N`` makes the process kill itself with SIGKILL when the
Nth point is reached; ``TRACKER_KILL_COUNT=FILE`` writes how many points a
run passed (for a run that is not killed). ``TRACKER_POISON=WORD`` kills the
process whenever it parses a message containing WORD.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_count = 0
_kill_at = int(os.environ.get("TRACKER_KILL_AT", "0"))
_label: list[str] = []


def point(label: str) -> None:
    global _count
    _count += 1
    if _kill_at and _count >= _kill_at:
        with open(os.environ["TRACKER_KILL_LOG"], "a") as f:
            f.write(f"{_count} {label}\n")
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


@event.listens_for(Engine, "before_cursor_execute")
def _sql(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    point("sql:" + statement.split(None, 1)[0].lower() if statement.strip() else "sql")


def _wrap(cls: Any, name: str) -> None:
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        point(f"before {cls.__name__}.{name}")
        result = original(self, *args, **kwargs)
        point(f"after {cls.__name__}.{name}")
        return result

    setattr(cls, name, wrapper)


def main() -> int:
    from ingest.sources.maildir import MaildirSource
    from tracker.cli import main as tracker_main
    from tracker.senders.smtp import SmtpSender

    poison = os.environ.get("TRACKER_POISON", "").encode()
    if poison:
        import tracker.intake.reading as reading

        real_parse = reading.parse

        def parse(data: bytes, **kw: Any) -> Any:
            if poison in data:  # this message "crashes the interpreter"
                os.kill(os.getpid(), signal.SIGKILL)
            return real_parse(data, **kw)

        reading.parse = parse  # type: ignore[assignment]
    _wrap(SmtpSender, "send")
    _wrap(MaildirSource, "ack")
    code = tracker_main(sys.argv[1:])
    if os.environ.get("TRACKER_KILL_COUNT"):
        with open(os.environ["TRACKER_KILL_COUNT"], "w") as f:
            f.write(str(_count))
    return code


if __name__ == "__main__":
    sys.exit(main())
