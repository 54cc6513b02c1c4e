"""The docs stay true to the code.

Every page is in the toctree, every public name is in the API reference, every ``send``
option is in the CLI reference, every Python example compiles and imports what exists, every
``fcmclient`` command line in the docs parses, and the Python examples run against the
emulator (the doctests in the pages run too, through pytest's ``--doctest-glob``).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
import pathlib
import re
import shlex
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from fcmclient import FCM
from fcmclient.cli.command import build_parser
from fcmclient.testing import FCMEmulator

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.rst", *sorted(DOCS.glob("*.rst"))]

#: The modules whose ``__all__`` is public API and must be in the reference.
PUBLIC_MODULES = [
    "fcmclient",
    "fcmclient.testing",
    "fcmclient.celery",
    "fcmclient.waits",
    "fcmclient.outcomes",
]

#: Python examples that are fragments of a larger app and cannot run alone (they are still
#: compiled and their imports checked). Keyed by page and first line.
FRAGMENTS = {
    ("celery.rst", "from fcmclient import JSONMessage"): "calls the example app's send_push task",
    ("celery.rst", "from fcmclient.celery import FCMTask"): "a task class for the example app",
    ("celery.rst", "from fcmclient.celery import register_topic_task"): "a task for the example app",
}

_BLOCK = re.compile(r"^\.\. code-block:: (\w+)\n((?:   +:.*\n)*)\n((?:(?: {4}.*)?\n)+)", re.MULTILINE)
_LITERAL = re.compile(r"::\n\n((?:(?: {4}.*)?\n)+)")


def code_blocks(page: pathlib.Path, language: str) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [
        textwrap.dedent(body).strip() + "\n" for lang, _, body in _BLOCK.findall(text) if lang == language
    ]


def help_text(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([*args, "--help"])
    return out.getvalue()


def test_every_page_is_in_the_toctree() -> None:
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (\w+)$", index, flags=re.MULTILINE))
    pages = {path.stem for path in DOCS.glob("*.rst")} - {"index"}
    assert pages <= listed


def test_every_send_option_is_in_the_cli_reference() -> None:
    options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", help_text("send"))) - {"--help"}
    documented = (DOCS / "cli.rst").read_text(encoding="utf-8")
    assert len(options) > 15
    assert sorted(flag for flag in options if f"``{flag}" not in documented) == []


@pytest.mark.parametrize("action", ["subscribe", "unsubscribe", "list"])
def test_every_topics_option_is_in_the_cli_reference(action: str) -> None:
    options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", help_text("topics", action))) - {"--help"}
    documented = (DOCS / "cli.rst").read_text(encoding="utf-8")
    assert len(options) > 5
    assert f"``topics {action}" in documented
    assert sorted(flag for flag in options if f"``{flag}" not in documented) == []


def documented_names() -> set[str]:
    names: set[str] = set()
    for page in DOCS.glob("*.rst"):
        text = page.read_text(encoding="utf-8")
        for kind, name, options in re.findall(
            r"^\.\. auto(\w+):: (\S+)\n((?:   +:.*\n)*)", text, re.MULTILINE
        ):
            names.add(name)
            if kind == "module" and ":members:" in options:
                names.update(f"{name}.{member}" for member in importlib.import_module(name).__all__)
    return names


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    documented = documented_names()
    missing = []
    for name in module.__all__:
        home = getattr(getattr(module, name), "__module__", None)
        if f"{module_name}.{name}" not in documented and f"{home}.{name}" not in documented:
            missing.append(name)
    assert missing == []


def python_examples() -> list[tuple[str, str]]:
    return [(page.name, block) for page in PAGES for block in code_blocks(page, "python")]


@pytest.mark.parametrize(
    ("page", "code"), python_examples(), ids=lambda value: str(value).split("\n")[0][:40]
)
def test_python_examples_compile_and_import_what_exists(page: str, code: str) -> None:
    for node in ast.parse(code, page).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fcmclient"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{page}: {node.module} has no {alias.name}"


RUNNABLE = [(page, code) for page, code in python_examples() if (page, code.splitlines()[0]) not in FRAGMENTS]


@pytest.mark.parametrize(("page", "code"), RUNNABLE, ids=[f"{page}: {code[:30]}" for page, code in RUNNABLE])
def test_python_examples_run_against_the_emulator(
    page: str,
    code: str,
    fcm_emulator: FCMEmulator,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each example as written, with only the endpoint pointed at the emulator."""
    (tmp_path / "service-account.json").write_text(json.dumps(fcm_emulator.service_account_info("demo")))
    monkeypatch.chdir(tmp_path)
    pointed = code.replace(
        'from_service_account("service-account.json")',
        f'from_service_account("service-account.json", url="{fcm_emulator.v1_url("demo")}")',
    ).replace("FCM(API_KEY)", f'FCM(API_KEY, url="{fcm_emulator.legacy_url}")')
    fcm_emulator.set_outcome("token-2", "unregistered")
    namespace: dict[str, Any] = {"tokens": ["token-1", "token-2"], "API_KEY": fcm_emulator.api_key}
    exec("from fcmclient import FCM, JSONMessage", namespace)  # noqa: S102  # what the pages assume
    try:
        exec(compile(pointed, page, "exec"), namespace)  # noqa: S102  # the example under test
    finally:
        for value in namespace.values():
            if isinstance(value, FCM):
                value.close()
    assert isinstance(namespace.get("fcm"), FCM), "an example makes a connection"
    if ".send(" in code and "FCMEmulator()" not in code:  # (one with its own emulator asserts itself)
        assert [r.targets for r in fcm_emulator.requests if r.protocol == "v1"] != []
    if "result.not_registered" in code and "print(" in code:
        out = capsys.readouterr().out
        assert "sent to token-1: projects/demo/messages/" in out
        assert "delete token-2 from your database" in out


def test_the_readme_result_example_reports_each_bucket() -> None:
    """The README's example prints what to do for each bucket (checked by the test above)."""
    blocks = code_blocks(ROOT / "README.rst", "python")
    handling = [block for block in blocks if "result.not_registered" in block]
    assert len(handling) == 1
    for needed in ("result.success", "result.canonical", "result.failed", "result.retry()", "result.delay()"):
        assert needed in handling[0]


def command_lines() -> list[tuple[str, list[str]]]:
    """Every ``fcmclient`` command in a shell block or literal block of the docs."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        blocks = code_blocks(page, "sh") + [textwrap.dedent(b) for b in _LITERAL.findall(text)]
        for block in blocks:
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                words = shlex.split(line, comments=True)
                for start, word in enumerate(words):
                    if word.endswith("fcmclient") and not word.startswith("-"):
                        end = words.index("|", start) if "|" in words[start:] else len(words)
                        found.append((page.name, words[start + 1 : end]))
    return found


def test_the_docs_show_commands() -> None:
    pages = {page for page, _ in command_lines()}
    assert {"README.rst", "cli.rst", "quickstart.rst", "testing.rst"} <= pages


@pytest.mark.parametrize(
    ("page", "args"),
    command_lines(),
    ids=[f"{page}: {' '.join(args)[:40]}" for page, args in command_lines()],
)
def test_every_command_line_in_the_docs_parses(page: str, args: list[str]) -> None:
    if args[:1] == ["emulator"]:
        done = subprocess.run(
            [sys.executable, "-m", "fcmclient", "emulator", "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        for option in (arg for arg in args[1:] if arg.startswith("--")):
            assert option in done.stdout, f"{page}: fcmclient {' '.join(args)}"
        return
    parsed = build_parser().parse_args(args)
    assert parsed.command in ("send", "topics", "demo")
