"""Public names of a package imported on first use, for package ``__init__`` modules.

A package's ``__init__`` runs before any module inside it, the pure ones
included. Importing everything a package exports there would pull the
database or the network into each of its modules (``tests/test_architecture.py``
would say so) and make every import slow, so the ``__init__`` keeps a table
of public name -> defining module and hands it to :func:`lazy_names`. mypy
reads the ``__init__``'s ``if TYPE_CHECKING:`` imports instead, so a misspelt
name is still an error there. Used by ``ingest`` and ``tracker`` alike
(``ingest`` never imports ``tracker``, so this lives here).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping

__all__ = ["lazy_names"]


def lazy_names(
    package: str, names: Mapping[str, str], public: Collection[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` (PEP 562), from ``names``.

    ``names`` maps each public name to the module that defines it; the first
    use imports that module and keeps the value in the package's namespace.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
