"""Tracker: cases, threading, rules, outbox and the daemon that joins them.

The names below are the public surface (``tests/test_exported_members.py``
keeps the list honest): what it takes to load a configuration, open the
store and run the service on incoming mail, and the values and errors that
come back. The errors are imported at once; everything else is imported on
first use. Importing this package must stay cheap and free of I/O: every
tracker module runs this ``__init__`` first, the pure ones included, so an
eager ``from tracker.service import Service`` here would pull SQLAlchemy into
each of them (``tests/test_architecture.py`` would say so).
"""

import typing

from ingest.lazy import lazy_names as _lazy_names
from tracker.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    StoreError,
    TemporaryDeliveryError,
    TrackerError,
)

if typing.TYPE_CHECKING:
    from tracker.clock import Clock, FrozenClock, SystemClock
    from tracker.config import Config, load_config
    from tracker.intake import Result
    from tracker.kinds import EventKind, Outcome
    from tracker.notify import Renderer
    from tracker.service import Service
    from tracker.store import Store

__all__ = [
    "Clock",
    "Config",
    "ConfigError",
    "DeliveryError",
    "EventKind",
    "FrozenClock",
    "Outcome",
    "PermanentDeliveryError",
    "Renderer",
    "Result",
    "Service",
    "Store",
    "StoreError",
    "SystemClock",
    "TemporaryDeliveryError",
    "TrackerError",
    "load_config",
]

#: Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "Clock": "tracker.clock",
    "Config": "tracker.config",
    "EventKind": "tracker.kinds",
    "FrozenClock": "tracker.clock",
    "Outcome": "tracker.kinds",
    "Renderer": "tracker.notify",
    "Result": "tracker.intake",
    "Service": "tracker.service",
    "Store": "tracker.store",
    "SystemClock": "tracker.clock",
    "load_config": "tracker.config",
}

if not typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
