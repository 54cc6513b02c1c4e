"""The house: layers as folders, imports only downwards, no cycle, small modules and functions.

Read from the source with ``ast``, so that it holds for every import, the lazy ones inside
functions included (those under ``if TYPE_CHECKING:`` never run and are left out).
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "fcmclient"

#: Every module's layer: it may import its own layer and the ones below, never above. The
#: values users build and read; the pure codecs; the transport; the senders; the facade; the
#: integrations on top. The emulator stands alone.
LAYERS: list[tuple[str, ...]] = [
    ("fcmclient._version", "fcmclient._checks", "fcmclient._args", "fcmclient.outcomes", "fcmclient.waits"),
    ("fcmclient.errors",),
    ("fcmclient._protocol.encoding",),
    ("fcmclient._content", "fcmclient.messages"),
    ("fcmclient.result",),
    ("fcmclient._protocol",),
    ("fcmclient._http",),
    ("fcmclient._send",),
    ("fcmclient.api", "fcmclient"),
    ("fcmclient.cli", "fcmclient.celery", "fcmclient.__main__"),
]
#: Imports allowed upwards, each with its reason.
LATE_IMPORTS = {
    # Result(message, response, backoff), fcm-client 0.2's constructor, reads a legacy answer.
    ("fcmclient.result", "fcmclient._protocol.legacy"),
}
STANDALONE = ("fcmclient.testing",)
#: What the emulator may share with the client: helpers that know nothing of FCM.
SHARED_HELPERS = ("fcmclient._args", "fcmclient._checks")
#: The modules users import; everything else is underscored (``cli`` is the command's package).
PUBLIC = {
    "fcmclient",
    "fcmclient.__main__",
    "fcmclient.api",
    "fcmclient.messages",
    "fcmclient.result",
    "fcmclient.outcomes",
    "fcmclient.errors",
    "fcmclient.waits",
    "fcmclient.testing",
    "fcmclient.celery",
    "fcmclient.cli",
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50
#: A function longer than that (its docstring aside) says why in a comment starting with this,
#: in its first lines.
LONG_REASON = "# long:"


def modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = modules()


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            yield from (n for child in node.orelse for n in _import_nodes(ast.Module([child], [])))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _import_nodes(node)


def imports(name: str) -> set[str]:
    """The fcmclient modules ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports(name) for name in MODULES}


def layer_of(name: str) -> int:
    best, depth = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    return best


def test_every_module_has_a_layer() -> None:
    missing = [name for name in MODULES if layer_of(name) < 0 and not name.startswith(STANDALONE)]
    assert not missing


def test_imports_go_only_downwards() -> None:
    upwards = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if not name.startswith(STANDALONE)
        for target in targets
        if layer_of(target) > layer_of(name) and (name, target) not in LATE_IMPORTS
    ]
    assert not upwards


def test_the_emulator_stands_alone() -> None:
    """fcmclient.testing imports nothing of the client (it judges what the client sends) but
    the helpers that know nothing of FCM."""
    leaks = [
        f"{n} -> {t}"
        for n, ts in GRAPH.items()
        if n.startswith(STANDALONE)
        for t in ts
        if not t.startswith(STANDALONE) and t not in SHARED_HELPERS
    ]
    assert not leaks


def cycles() -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in sorted(GRAPH[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def test_no_import_cycle() -> None:
    assert cycles() == []


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRAPH, "fcmclient.outcomes", {"fcmclient.result"})
    assert any({"fcmclient.outcomes", "fcmclient.result"} <= set(cycle) for cycle in cycles())


def test_only_the_public_modules_lack_an_underscore() -> None:
    public = {
        name
        for name in MODULES
        if not any(part.startswith("_") and part != "__main__" for part in name.split("."))
        and not name.startswith(("fcmclient.cli.", "fcmclient.testing.", "fcmclient.celery."))
    }
    assert public == PUBLIC


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines: what second idea moved in?"


def long_functions() -> list[str]:
    found = []
    for name, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:  # the contract is not code: its lines do not count
                length -= docstring.count("\n") + 1
            head = lines[node.lineno - 1 : node.lineno + 8]
            if length > MAX_FUNCTION_LINES and not any(LONG_REASON in line for line in head):
                found.append(f"{name}.{node.name} ({length} lines)")
    return found


def test_functions_are_short_or_say_why() -> None:
    assert long_functions() == []
