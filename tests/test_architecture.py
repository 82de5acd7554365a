"""The shape DESIGN.md asks for, checked by reading the source (no project code is run).

The import graph of ``ingest`` and ``tracker`` is built with :mod:`ast` from the
files themselves: relative imports are resolved, imports inside functions count
(they run when the function does), and importing ``a.b.c`` also runs ``a`` and
``a.b``, so a package ``__init__`` that imports something heavy taints every
module beneath it. Imports under ``if TYPE_CHECKING:`` never run and are left
out, except that a pure module may not name the forbidden modules even there.

The rules, as data:

* :data:`FORBIDDEN` names what is guarded: the database, the network, other
  programs. Only the modules in :data:`ALLOWED` may reach a guarded module, by
  any chain of imports; every entry says why.
* :data:`PURE` modules reach none of it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("ingest", "tracker")

#: What is guarded, by kind. A module "reaches" a guarded module when the name
#: it imports is the guarded one or lies beneath it (``sqlalchemy.orm``).
#: ``multiprocessing`` is not here: ``ingest.forms`` reads attachments in killable
#: worker processes running our own pure readers, which talk to nothing.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "database": ("sqlalchemy", "alembic", "psycopg", "psycopg2", "tracker.model"),
    "network": (
        "imapclient",
        "imaplib",
        "smtplib",
        "poplib",
        "socket",
        "ssl",
        "select",
        "http.client",
        "urllib.request",
        "httpx",
        "requests",
        "exchangelib",
        "aiosmtpd",
    ),
    "programs": ("subprocess",),
}

#: Who may reach each kind, as module-name patterns (``fnmatch``), with the reason.
ALLOWED: dict[str, dict[str, str]] = {
    "database": {
        "tracker.model": "the ORM model itself",
        "tracker.store": "owns the engine, the sessions and the migrations",
        "tracker.migrations.*": "Alembic's environment and revisions",
        "tracker.service": "the one place that joins the pure stages to the store",
        "tracker.intake.writer": "writes the intake's decisions: its only database code",
        "tracker.intake.load": "loads the snapshot the intake decides from, up front",
        "tracker.intake.run": "runs a batch: loads, decides outside any transaction, applies",
        "tracker.intake.rows": "the one mapper between a case's state and its ORM row",
        "tracker.outbox": "the one way into the outbox (enqueue) and requeue",
        "tracker.delivery": "claims outbox rows and records what the sender did",
        "tracker.delivery_alerts": "queues the notice of a failed delivery to staff",
        "tracker.queries": "the read-only queries behind the operator's listings",
        "tracker.case_export": "reads cases for the operator's export",
        "tracker.chasers": "claims due deadlines and queues their mail",
        "tracker.daemon": "runs the service, the outbox and the chasers on a store",
        "tracker.cli": "the operator's commands open the store",
        "tracker.cli.*": "the operator's commands open the store",
        "tracker.reports.load": "the reports' few queries",
        "tracker.reports.digest_job": "reads a partnership's cases and queues its digest",
        "tracker.reports.report_job": "reads the quarter's cases for the report",
        "tracker.reports.export": "reads cases for the anonymised export",
    },
    "network": {
        "ingest.tls": "builds the one verifying TLS context",
        "ingest.sources.imap": "the IMAP source",
        "tracker.senders.smtp": "the SMTP sender",
        "tracker.senders.smtp_session": "smtplib sessions that know when the data went out",
        "tracker.senders.base": "make_sender picks the transport",
        "tracker.delivery": "hands claimed rows to a Sender",
        "tracker.daemon": "builds the sources and the sender",
        "tracker.cli": "the operator's commands run the daemon and send digests",
        "tracker.cli.*": "the operator's commands run the daemon and send digests",
    },
    "programs": {
        "tracker.reports.chromium": "runs headless Chromium to print the report as PDF",
        "tracker.reports.report_job": "builds the quarterly report's PDF",
        "tracker.cli": "the operator's report command writes the PDF",
        "tracker.cli.*": "the operator's report command writes the PDF",
    },
}

#: Modules that decide things: no database, network or other programs, reached
#: by any chain of imports, nor named even for type checking.
PURE = (
    "ingest.parse",
    "ingest.parse.*",
    "ingest.classify",
    "ingest.raw",
    "ingest.lazy",
    "tracker.threads",
    "tracker.refcode",
    "tracker.kinds",
    "tracker.notify",
    "tracker.rules",
    "tracker.rules.*",
    # The intake's deciding modules (its database code: load, run, rows, writer).
    "tracker.intake.context",
    "tracker.intake.decision",
    "tracker.intake.following",
    "tracker.intake.forms",
    "tracker.intake.mail",
    "tracker.intake.routing",
    "tracker.intake.opening",
    "tracker.intake.outcomes",
    "tracker.intake.participants",
    "tracker.intake.snapshot",
    "tracker.intake.triage",
    "tracker.intake.work",
)

#: Calls that create engines, sessions or connections: only ``tracker/store.py`` makes them.
SESSION_MAKERS = {"create_engine", "create_async_engine", "sessionmaker", "scoped_session"}
SESSION_CLASSES = {"Session", "AsyncSession"}
ENGINE_METHODS = {"begin", "connect", "raw_connection"}
SESSION_OWNER = "tracker/store.py"
#: Files allowed to do it anyway, with the reason.
SESSION_EXEMPT = {
    "tracker/migrations/env.py": "Alembic's entry point: run by the alembic command alone",
}

#: Where the documented exception tree lives.
EXCEPTION_DOC = ROOT / "ARCHITECTURE.md"
EXCEPTION_HEADING = "## Exceptions"
EXCEPTION_ROOT = "ingest.errors.EscalationTrackerError"


# -- reading the source ----------------------------------------------------


@dataclass(frozen=True)
class Import:
    target: str  # absolute dotted name, as written or resolved
    line: int
    module_level: bool  # False: inside a function (runs when it is called)
    type_checking: bool  # under ``if TYPE_CHECKING:`` (never runs)


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Module]:
    """Every module of ``ingest`` and ``tracker`` by dotted name.

    While a module is being turned into a package both may exist for a while
    (``tracker/intake.py`` and ``tracker/intake/``); as for Python, the package
    wins and the module file, which nothing can import, is left out.
    """
    found: dict[str, Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = _module_name(path)
            if name in found and path.name != "__init__.py":
                continue
            found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def _is_package(name: str) -> bool:
    module = modules().get(name)
    return module is not None and module.path.name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    anchor = module.package.split(".")
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


@cache
def imports(name: str) -> tuple[Import, ...]:
    """Every import statement of one module, wherever it stands."""
    module = modules()[name]
    found: list[Import] = []

    def walk(node: ast.AST, module_level: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    walk_one(stmt, module_level, True)
                for stmt in child.orelse:
                    walk_one(stmt, module_level, type_checking)
            else:
                walk_one(child, module_level, type_checking)

    def walk_one(node: ast.AST, module_level: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, node.lineno, module_level, type_checking))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            found.append(Import(base, node.lineno, module_level, type_checking))
            for alias in node.names:
                # ``from package import submodule`` imports the submodule too.
                if f"{base}.{alias.name}" in modules():
                    sub = f"{base}.{alias.name}"
                    found.append(Import(sub, node.lineno, module_level, type_checking))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            walk(node, False, type_checking)
        else:
            walk(node, module_level, type_checking)

    walk(module.tree, True, False)
    return tuple(found)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


@cache
def runtime_edges(name: str) -> frozenset[str]:
    """What importing or running ``name`` may import: its own imports at any
    level (not type-checking ones), with the packages above each of them and
    above itself (their ``__init__`` runs first)."""
    targets: set[str] = {p for p in _parents(name) if _is_package(p)}
    for imp in imports(name):
        if imp.type_checking:
            continue
        for target in _parents(imp.target):
            if _is_package(target) or not _ours(target):
                targets.add(target)
        if imp.target in modules() or not _ours(imp.target):
            targets.add(imp.target)
    targets.discard(name)
    return frozenset(targets)


@cache
def chain_to(name: str) -> dict[str, tuple[str, ...]]:
    """Everything ``name`` reaches, each with one shortest chain of imports to it."""
    chains: dict[str, tuple[str, ...]] = {name: (name,)}
    queue = [name]
    while queue:
        current = queue.pop(0)
        if current not in modules():
            continue
        for target in sorted(runtime_edges(current)):
            if target not in chains:
                chains[target] = (*chains[current], target)
                queue.append(target)
    del chains[name]
    return chains


def _matches(name: str, patterns: tuple[str, ...] | list[str] | dict[str, str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _under(target: str, guarded: str) -> bool:
    return target == guarded or target.startswith(guarded + ".")


def _guarded(target: str, kind: str) -> bool:
    return any(_under(target, g) for g in FORBIDDEN[kind])


def _shortest_chains(name: str, kind: str) -> list[str]:
    """One shortest chain from ``name`` to each guarded module of ``kind`` it reaches."""
    found: list[str] = []
    for guarded in FORBIDDEN[kind]:
        chains = [c for t, c in chain_to(name).items() if _under(t, guarded)]
        if chains:
            shortest = min(chains, key=lambda c: (len(c), c))
            found.append(" -> ".join(shortest))
    return found


# -- the import rules ------------------------------------------------------


def _reach_violations() -> dict[str, list[str]]:
    """Module -> the guarded modules it may not reach, each with its chain."""
    found: dict[str, list[str]] = {}
    for name in sorted(modules()):
        for kind in FORBIDDEN:
            if not _matches(name, ALLOWED[kind]):
                for chain in _shortest_chains(name, kind):
                    found.setdefault(name, []).append(f"{kind}: {chain}")
    return found


def test_ingest_never_imports_tracker() -> None:
    offenders = {
        module.rel: sorted({i.target for i in imports(name) if i.target.split(".")[0] == "tracker"})
        for name, module in modules().items()
        if name.split(".")[0] == "ingest"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_allowed_modules_reach_database_network_or_programs() -> None:
    offenders = {modules()[name].rel: chains for name, chains in _reach_violations().items()}
    assert offenders == {}, "not on ALLOWED:\n" + "\n".join(
        f"  {rel}: {chain}" for rel, chains in offenders.items() for chain in chains
    )


def test_pure_modules_reach_nothing_guarded() -> None:
    pure = [name for name in sorted(modules()) if _matches(name, PURE)]
    assert "tracker.threads" in pure and "ingest.parse" in pure, "PURE matches nothing?"
    offenders: dict[str, list[str]] = {}
    for name in pure:
        for kind in FORBIDDEN:
            if _matches(name, ALLOWED[kind]):
                offenders.setdefault(modules()[name].rel, []).append(f"on ALLOWED[{kind!r}]")
            named = sorted(
                f"{i.target} (line {i.line})" for i in imports(name) if _guarded(i.target, kind)
            )
            for problem in sorted(set(named) | set(_shortest_chains(name, kind))):
                offenders.setdefault(modules()[name].rel, []).append(problem)
    assert offenders == {}


def test_patterns_name_modules() -> None:
    """An entry that matches nothing is a stale exception, or a rule that checks nothing."""
    entries = [(kind, p) for kind, patterns in ALLOWED.items() for p in patterns]
    entries += [("pure", p) for p in PURE]
    stale = sorted(
        f"{kind}: {pattern}"
        for kind, pattern in entries
        if not any(fnmatchcase(n, pattern) for n in modules())
    )
    assert stale == []


# -- no cycles -------------------------------------------------------------


def _module_level_graph(package: str) -> dict[str, set[str]]:
    """Imports that run when the module is imported, as written (no implicit parents)."""
    names = [n for n in modules() if n.split(".")[0] == package]
    return {
        name: {
            i.target
            for i in imports(name)
            if i.module_level and not i.type_checking and i.target in modules()
        }
        - {name}
        for name in names
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A readable cycle through the component's first module (breadth-first back to it)."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return component


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    cycles = [" -> ".join(cycle) for cycle in _cycles(_module_level_graph(package))]
    assert cycles == []


# -- sessions and connections ----------------------------------------------


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_engine(node: ast.expr) -> bool:
    name = _call_name(node)
    return name is not None and (name == "engine" or name.endswith("_engine"))


def _session_calls(module: Module) -> Iterator[str]:
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        if name in SESSION_MAKERS or name in SESSION_CLASSES:
            yield f"{module.rel}:{node.lineno} {name}("
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in ENGINE_METHODS
            and _is_engine(node.func.value)
        ):
            yield f"{module.rel}:{node.lineno} {ast.unparse(node.func)}()"


def test_only_store_creates_engines_sessions_and_connections() -> None:
    calls = [
        call
        for name, module in sorted(modules().items())
        if module.rel != SESSION_OWNER and module.rel not in SESSION_EXEMPT
        for call in _session_calls(module)
    ]
    assert calls == []
    assert list(_session_calls(modules()["tracker.store"])), "the check sees nothing?"


# -- one exception tree ----------------------------------------------------


@dataclass(frozen=True)
class ExceptionClass:
    qualname: str  # module.Class
    parent: str | None  # the first base that is an exception: module.Class or builtins.X
    line: int

    @property
    def name(self) -> str:
        return self.qualname.rpartition(".")[2]

    @property
    def module(self) -> str:
        return self.qualname.rpartition(".")[0]


def _bindings(module: Module) -> dict[str, str]:
    """Names bound by the module's imports -> what they stand for."""
    bound: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
    return bound


def _qualify(module: Module, base: ast.expr, bound: dict[str, str]) -> str | None:
    text = ast.unparse(base)
    if not re.fullmatch(r"[\w.]+", text):
        return None
    head, _, rest = text.partition(".")
    if head in bound:
        return bound[head] + (f".{rest}" if rest else "")
    if any(
        isinstance(n, ast.ClassDef) and n.name == head for n in ast.iter_child_nodes(module.tree)
    ):
        return f"{module.name}.{text}"
    return f"builtins.{text}"


def _is_builtin_exception(qualname: str) -> bool:
    import builtins

    head, _, name = qualname.rpartition(".")
    value = getattr(builtins, name, None) if head == "builtins" else None
    return isinstance(value, type) and issubclass(value, BaseException)


@cache
def exception_classes() -> dict[str, ExceptionClass]:
    """Every class in ``ingest``/``tracker`` that descends from an exception, by qualname.

    A class is an exception when one of its bases is a builtin exception or
    another such class of ours; anything else from outside (third-party bases)
    is looked up by importing it.
    """
    bases: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    for name, module in modules().items():
        bound = _bindings(module)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef):
                qualname = f"{name}.{node.name}"
                resolved = [_qualify(module, b, bound) for b in node.bases]
                bases[qualname] = [b for b in resolved if b]
                lines[qualname] = node.lineno

    @cache
    def is_exception(qualname: str) -> bool:
        if qualname in bases:
            return any(is_exception(b) for b in bases[qualname])
        if qualname.startswith("builtins."):
            return _is_builtin_exception(qualname)
        if _ours(qualname):
            return False
        return _is_external_exception(qualname)

    return {
        q: ExceptionClass(q, next((b for b in bases[q] if is_exception(b)), None), lines[q])
        for q in sorted(bases)
        if is_exception(q)
    }


def _is_external_exception(qualname: str) -> bool:
    import importlib

    module, _, name = qualname.rpartition(".")
    try:
        value = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return isinstance(value, type) and issubclass(value, BaseException)


@dataclass(frozen=True)
class Documented:
    name: str
    module: str
    parent: str | None


_TREE_LINE = re.compile(r"^(?P<indent>[\s│├└─]*)(?P<name>[A-Z]\w*)\s+(?P<module>[a-z_][\w.]*)\b")


def documented_tree() -> dict[str, Documented]:
    """The tree drawn in ARCHITECTURE.md's "Exceptions" section, by class name."""
    text = EXCEPTION_DOC.read_text(encoding="utf-8")
    section = text.partition(f"\n{EXCEPTION_HEADING}\n")[2].partition("\n## ")[0]
    assert section, f"{EXCEPTION_DOC.name} has no {EXCEPTION_HEADING!r} section"
    block = section.partition("```text\n")[2].partition("```")[0]
    assert block, f"the {EXCEPTION_HEADING!r} section has no ```text block"
    tree: dict[str, Documented] = {}
    open_at: list[tuple[int, str]] = []  # (column, name) of the ancestors of the current line
    for line in block.splitlines():
        match = _TREE_LINE.match(line)
        if not match:
            continue
        column = len(match["indent"])
        while open_at and open_at[-1][0] >= column:
            open_at.pop()
        name = match["name"]
        assert name not in tree, f"{name} is drawn twice"
        tree[name] = Documented(name, match["module"], open_at[-1][1] if open_at else None)
        open_at.append((column, name))
    return tree


def test_every_exception_descends_from_the_root() -> None:
    found = exception_classes()
    assert EXCEPTION_ROOT in found, "the check sees no exception classes?"

    def ancestors(qualname: str) -> list[str]:
        chain = [qualname]
        while (parent := found.get(chain[-1])) and parent.parent:
            chain.append(parent.parent)
        return chain

    strays = sorted(
        f"{e.qualname} ({' -> '.join(ancestors(e.qualname))})"
        for e in found.values()
        if e.qualname != EXCEPTION_ROOT and EXCEPTION_ROOT not in ancestors(e.qualname)
    )
    assert strays == []


def test_exception_tree_is_documented() -> None:
    """ARCHITECTURE.md draws exactly the classes the code defines, each under its base."""
    found = {e.name: e for e in exception_classes().values()}
    assert len(found) == len(exception_classes()), "two exception classes share a name"
    drawn = documented_tree()
    actual = {
        name: Documented(name, e.module, e.parent.rpartition(".")[2] if e.parent else None)
        for name, e in found.items()
    }
    root = EXCEPTION_ROOT.rpartition(".")[2]
    actual[root] = Documented(root, actual[root].module, None)
    assert drawn == actual


# -- other shapes ----------------------------------------------------------


def _exported(module: Module) -> list[str]:
    for node in module.tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            return [str(name) for name in value]
    return []


def test_no_exported_name_is_also_a_submodule() -> None:
    """``pkg.name`` becomes the submodule as soon as anything imports ``pkg.name``.

    So a package cannot export a function under its submodule's name: which
    one ``from pkg import name`` gives depends on what was imported before.
    """
    clashes = sorted(
        f"{name}.{export}"
        for name, module in modules().items()
        if module.path.name == "__init__.py"
        for export in _exported(module)
        if f"{name}.{export}" in modules()
    )
    assert clashes == []


def test_no_python_under_rules() -> None:
    assert not list((ROOT / "rules").rglob("*.py"))
