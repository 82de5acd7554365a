"""The public surface of ``ingest`` and ``tracker`` is a curated list (as httpx keeps its own).

Adding or dropping a public name is a decision: change the package's
``__all__`` and :data:`EXPECTED` together. Most names are imported on first
use (see the packages' docstrings), so the tests resolve every name and check
that importing a package alone stays cheap.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import ModuleType

import pytest

EXPECTED: dict[str, list[str]] = {
    "ingest": [
        "Address",
        "AttachmentInfo",
        "AuthenticationFailed",
        "Classification",
        "EscalationTrackerError",
        "Extraction",
        "FormLimits",
        "IngestError",
        "ParseError",
        "ParsedEmail",
        "Policy",
        "RawMessage",
        "Source",
        "SourceError",
        "SourceProtocolError",
        "SourceUnavailable",
        "Verdict",
        "extract",
    ],
    "tracker": [
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
    ],
}

#: What ``import ingest, tracker`` may load of our own code: the errors and the lazy loader.
LOADED_BY_IMPORT = ["ingest", "ingest.errors", "ingest.lazy", "tracker", "tracker.errors"]


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_all_is_the_expected_list(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == EXPECTED[package]
    assert module.__all__ == sorted(module.__all__, key=lambda n: (n[0].islower(), n))


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_every_exported_name_exists_and_is_ours(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, ModuleType), f"{package}.{name} is a module"
        assert value.__module__.split(".")[0] == package, f"{package}.{name} is not ours"
        assert value.__name__ == name, f"{package}.{name} is another name for {value.__name__}"


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_public_names_are_exactly_all(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        getattr(module, name)
    public = [
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), ModuleType)
    ]
    assert public == sorted(module.__all__)


def test_unknown_names_are_attribute_errors() -> None:
    import tracker

    with pytest.raises(AttributeError, match="Srevice"):
        tracker.Srevice  # noqa: B018


def test_importing_the_packages_loads_only_their_errors() -> None:
    """Every module runs its package's ``__init__`` first: it must stay light."""
    code = (
        "import json, sys; import ingest, tracker; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('ingest', 'tracker'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(out) == LOADED_BY_IMPORT
