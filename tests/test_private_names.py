"""fcmclient uses only public names of its dependencies: a grep-able check on the source.

Flagged: an absolute import of a ``_``-prefixed module or name from requests, urllib3,
http.client, google-auth, celery (or kombu, billiard); an attribute ``._name`` that fcmclient
does not define itself (so it belongs to something else: a dependency's object); and the same
name spelled as a string in ``getattr``/``hasattr``/``setattr``. Dunder names are fine.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "fcmclient"
DEPENDENCIES = ("requests", "urllib3", "http", "google", "celery", "kombu", "billiard")
REFLECTION = ("getattr", "hasattr", "setattr", "delattr")
#: Underscored names the standard library documents as its API (none of a dependency's).
STDLIB_DOCUMENTED = frozenset(
    {
        "_is_gil_enabled",  # sys._is_gil_enabled(), Python 3.13
        "_replace",  # collections.namedtuple / typing.NamedTuple methods and attributes
        "_asdict",
        "_fields",
        "_make",
        "_field_defaults",
    }
)


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_names(trees: dict[pathlib.Path, ast.Module]) -> set[str]:
    """Every name fcmclient itself defines: functions, classes, variables, attributes, arguments, slots."""
    own: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
            elif isinstance(node, ast.alias):
                own.add(node.asname or node.name.split(".")[0])
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
            ):
                own.update(
                    c.value
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
    return own


def findings(trees: dict[pathlib.Path, ast.Module]) -> list[str]:
    own = own_names(trees) | STDLIB_DOCUMENTED
    found: list[str] = []
    for path, tree in sorted(trees.items()):
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in DEPENDENCIES:
                    names = node.module.split(".") + [alias.name for alias in node.names]
                    found += [
                        f"{where}:{node.lineno}: from {node.module} import {n}" for n in names if private(n)
                    ]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] in DEPENDENCIES and any(private(p) for p in parts):
                        found.append(f"{where}:{node.lineno}: import {alias.name}")
            elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own:
                found.append(f"{where}:{node.lineno}: .{node.attr}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in REFLECTION
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and private(node.args[1].value)
                and node.args[1].value not in own
            ):
                found.append(f"{where}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


def parse(source: str) -> dict[pathlib.Path, ast.Module]:
    return {PACKAGE / "example.py": ast.parse(source)}


def test_fcmclient_uses_no_private_name_of_a_dependency() -> None:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")}
    assert findings(trees) == []


@pytest.mark.parametrize(
    "source",
    [
        "from urllib3._collections import HTTPHeaderDict",
        "from requests.adapters import _x",
        "import google.auth._helpers",
        "def f(pool):\n    return pool._get_conn()",
        "def f(credentials):\n    return credentials._token_uri",
        "def f(pool):\n    return getattr(pool, '_put_conn', None)",
        "import http.client\nhttp.client._MAXLINE",
    ],
)
def test_the_check_finds_each_kind_of_reach(source: str) -> None:
    assert findings(parse(source)) != []


@pytest.mark.parametrize(
    "source",
    [
        "class A:\n    __slots__ = ('_x',)\n    def f(self):\n        return self._x",
        "class A:\n    def _helper(self):\n        return self._helper",
        "def f(obj):\n    return obj.__class__",
        "from requests.adapters import HTTPAdapter",
    ],
)
def test_own_private_names_and_dunders_pass(source: str) -> None:
    assert findings(parse(source)) == []
