"""Every collected test with a hash of its source, to prove that a reorganisation moved tests
without changing them.

    python scripts/test-inventory.py list OUT.json [PYTEST ARGS]  # collect, write the inventory
    python scripts/test-inventory.py compare BEFORE.json AFTER.json

A test is known by its class and name (parameters included), not its path, so a moved test
matches itself. Its hash covers its ``def`` and body; its decorators are listed apart, so that
a new marker shows as such. Every top-level function, class and assignment of the files under
``tests/`` (helpers, fixtures, constants) is hashed too, by name. ``compare`` prints what moved,
what changed and what appeared or vanished, and exits 1 if anything but a move happened.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import inspect
import json
import pathlib
import sys
import textwrap
from collections import defaultdict
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def function_entry(function: Any) -> tuple[str, list[str]]:
    """A function's ``def`` and body, and its decorators, as source."""
    source = textwrap.dedent(inspect.getsource(function))
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    lines = source.splitlines()
    return "\n".join(lines[node.lineno - 1 :]), [ast.unparse(d) for d in node.decorator_list]


class Collector:
    def __init__(self) -> None:
        self.tests: list[dict[str, Any]] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            function = getattr(item, "function", None)
            if function is not None:
                source, decorators = function_entry(function)
                cls = item.cls.__name__ if getattr(item, "cls", None) else ""
            else:  # a doctest: its text
                dtest = getattr(item, "dtest", None)
                source, decorators, cls = getattr(dtest, "docstring", "") or "", [], ""
            self.tests.append(
                {
                    "nodeid": item.nodeid,
                    "key": f"{cls}::{item.name}" if cls else item.name,
                    "body": digest(source),
                    "source": source,
                    "decorators": decorators,
                }
            )


def helpers() -> list[dict[str, str]]:
    """Every top-level definition of the test files, with a hash of its source."""
    found = []
    for path in sorted([*(ROOT / "tests").rglob("*.py"), ROOT / "conftest.py"]):
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name.startswith("test_") or node.name.startswith("Test"):
                    continue  # the tests themselves are in the other list
                name = node.name
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                name = ",".join(ast.unparse(t) for t in targets)
            else:
                continue
            text = ast.get_source_segment(source, node) or ""
            found.append(
                {"where": str(path.relative_to(ROOT)), "name": name, "hash": digest(text), "source": text}
            )
    return found


def list_tests(out: str, args: list[str]) -> int:
    collector = Collector()
    code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *args], plugins=[collector])
    inventory = {"tests": collector.tests, "helpers": helpers()}
    pathlib.Path(out).write_text(json.dumps(inventory, indent=1))
    print(f"{len(collector.tests)} tests, {len(inventory['helpers'])} helpers -> {out}")
    return int(code)


def diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=1)
    return "\n".join("         " + line for line in lines)


def compare(before_path: str, after_path: str) -> int:
    before = json.loads(pathlib.Path(before_path).read_text())
    after = json.loads(pathlib.Path(after_path).read_text())
    changes = 0
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for test in after["tests"]:
        by_key[test["key"]].append(test)
    moved = 0
    for old in before["tests"]:
        candidates = by_key.get(old["key"], [])
        same = [t for t in candidates if t["body"] == old["body"]]
        match = (same or candidates or [None])[0]
        if match is None:
            print(f"GONE     {old['nodeid']}")
            changes += 1
            continue
        candidates.remove(match)
        if match["body"] != old["body"]:
            print(f"BODY     {old['nodeid']} -> {match['nodeid']}")
            print(diff(old["source"], match["source"]))
            changes += 1
        if match["decorators"] != old["decorators"]:
            print(f"MARKS    {match['nodeid']}: {old['decorators']} -> {match['decorators']}")
            changes += 1
        if match["nodeid"] != old["nodeid"]:
            moved += 1
    for rest in by_key.values():
        for test in rest:
            print(f"NEW      {test['nodeid']}")
            changes += 1
    old_helpers = defaultdict(set)
    for helper in before["helpers"]:
        old_helpers[helper["name"]].add(helper["hash"])
    new_helpers = defaultdict(set)
    for helper in after["helpers"]:
        new_helpers[helper["name"]].add(helper["hash"])
    sources = {h["hash"]: h["source"] for h in [*before["helpers"], *after["helpers"]]}
    for name in sorted(set(old_helpers) | set(new_helpers)):
        if old_helpers[name] != new_helpers[name]:
            wheres = sorted({h["where"] for h in after["helpers"] if h["name"] == name}) or ["gone"]
            print(f"HELPER   {name} ({', '.join(wheres)})")
            gone, new = old_helpers[name] - new_helpers[name], new_helpers[name] - old_helpers[name]
            if len(gone) == len(new) == 1:
                print(diff(sources[gone.pop()], sources[new.pop()]))
    print(
        f"{len(before['tests'])} tests before, {len(after['tests'])} after; "
        f"{moved} moved; {changes} changed, new or gone"
    )
    return 1 if changes else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "list":
        sys.exit(list_tests(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
