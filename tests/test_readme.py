"""README.rst opens with two commands; they must work on a fresh copy with only python3.

The copy holds the repository's files (tracked, plus new ones not ignored), without
``.venv`` or any build output; the commands run with a PATH and environment cleared of any
virtualenv, so nothing of the developer's setup can help them.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"


def readme_commands() -> list[str]:
    """The shell blocks of the README's first section."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    first_section = re.split(r"\n[^\n]+\n-{3,}\n", text)[1]
    return [block.strip() for block in re.findall(r"\.\. code-block:: sh\n\n((?: {4}.+\n)+)", first_section)]


def test_readme_opens_with_exactly_two_one_line_commands() -> None:
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    assert "\nTry it: two commands\n---" in text.split(".. code-block::")[0]  # nothing comes before
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert commands[0].startswith("python3 -m venv .venv && ")
    assert commands[0].endswith(" demo")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"exec {readme_commands()[1]}" in ci.splitlines()


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
    """The environment without virtualenvs, Python paths, credentials or pytest's variables."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "GOOGLE_APPLICATION_CREDENTIALS", "FCM_API_KEY")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST")}
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(d for d in path if not (pathlib.Path(d).parent / "pyvenv.cfg").exists())
    return env


def without_noise(output: str) -> str:
    """``output`` without pip's warnings about this machine's package index locations."""
    return "\n".join(line for line in output.splitlines() if "is ignored: it is neither" not in line)


def run_readme_command(command: str, cwd: pathlib.Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_readme_commands_work_in_a_fresh_copy(tmp_path: pathlib.Path) -> None:
    """The first command end to end; the second with pytest narrowed to one module (all its
    setup and checks run: venv, dev install, ruff, mypy, sphinx, redis, pytest)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        if IN_CI:
            pytest.fail("CI=true: this test needs git and a checkout, and must run")
        pytest.skip("needs a git checkout")
    copy = fresh_copy(tmp_path / "fcm-client")
    assert not (copy / ".venv").exists()
    assert not list(copy.glob("*.egg-info"))
    demo, tests = readme_commands()

    first = run_readme_command(demo, copy, timeout=600)
    assert first.returncode == 0, without_noise(first.stderr)[-3000:]
    rows = [re.split(r"\s{2,}", line.strip()) for line in first.stdout.splitlines() if line.startswith("  ")]
    advice = {cells[1].split()[0]: cells[2] for cells in rows if len(cells) == 3 and cells[0] != "token"}
    assert set(advice) == {"success", "not_registered", "failed", "retry"}  # every bucket shown
    assert advice["not_registered"].startswith("remove")
    assert advice["retry"].startswith("retry after 1.0 s")
    assert "update: replace the stored token by watch-gina-v2" in first.stdout

    second = run_readme_command(f"{tests} -q tests/api/test_public_api.py", copy, timeout=900)
    output = without_noise(second.stdout + second.stderr)
    assert second.returncode == 0, output[-3000:]
    for step in (
        "== ruff",
        "== mypy --strict",
        "== sphinx-build -W",
        "== pytest (newest releases)",
        "== pytest (newest releases, requests' path: FCMCLIENT_ENGINE=off)",
        "== sphinx-build -W (lowest versions)",
        "== pytest (lowest versions)",
    ):
        assert step in second.stdout
    assert len(re.findall(r"\d+ passed", second.stdout)) == 3  # newest, requests' path, lowest
    assert (copy / "docs" / "_build" / "html" / "index.html").exists()
