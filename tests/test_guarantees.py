"""docs/guarantees.rst names the tests that prove each promise: every one of them must exist."""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_test_named_in_the_guarantees_page_exists() -> None:
    page = (ROOT / "docs" / "guarantees.rst").read_text(encoding="utf-8")
    named = re.findall(r"``(tests/[\w/]+\.py)::(\w+)``", page)
    assert len(named) > 40
    missing = []
    for path, name in named:
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        if name not in functions:
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_test_module_of_the_proof_is_named_in_the_page() -> None:
    """Every suite of ``tests/guarantees/`` (and the bad-input one) proves a promise of the page."""
    page = (ROOT / "docs" / "guarantees.rst").read_text(encoding="utf-8")
    modules = [
        *sorted((ROOT / "tests" / "guarantees").glob("test_*.py")),
        ROOT / "tests" / "api" / "test_bad_input.py",
    ]
    assert len(modules) >= 8
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        module = path.relative_to(ROOT).as_posix()
        assert any(f"{module}::{name}" in page for name in tests), module
