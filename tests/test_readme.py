"""README.rst opens with two commands; they must work on a fresh copy with only python3."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    section = text.split("Try it: two commands", 1)[1].split("\nWhat you get", 1)[0]
    return [block.strip() for block in re.findall(r"\.\. code-block:: sh\n\n((?: {4}.+\n)+)", section)]


def test_readme_opens_with_exactly_two_one_line_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = readme_commands()[1]
    assert f"exec {test_command}" in ci.splitlines()


def fresh_copy(destination: pathlib.Path) -> pathlib.Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def clean_env() -> dict[str, str]:
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "GOOGLE_APPLICATION_CREDENTIALS", "FCM_API_KEY")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST")}
    return env


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_readme_commands_work_in_a_fresh_copy(tmp_path: pathlib.Path) -> None:
    """The first command end to end; the second with the suite narrowed to one module."""
    copy = fresh_copy(tmp_path / "fcm-client")
    assert not (copy / ".venv").exists()
    demo, tests = readme_commands()
    first = subprocess.run(
        ["bash", "-c", demo],
        cwd=copy,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "retry after 1.0 s (UNAVAILABLE)" in first.stdout
    assert "update: replace the stored token by watch-gina-v2" in first.stdout
    second = subprocess.run(
        ["bash", "-c", f"{tests} -q tests/test_public_api.py"],
        cwd=copy,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    assert "== mypy --strict" in second.stdout
    assert re.search(r"\d+ passed", second.stdout)
