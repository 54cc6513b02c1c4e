"""scripts/ensure-redis.sh, run by bash against fake apt-get, sudo and id commands on PATH.

The real script runs; only the system commands it calls are stand-ins that record their
arguments, so every branch is checked without root or a network.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from tests.celery.conftest import ROOT

SCRIPT = ROOT / "scripts" / "ensure-redis.sh"
BASH = shutil.which("bash") or "/bin/bash"


def fake(bin_dir: pathlib.Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A PATH with the few real tools the script needs, and nothing else."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("cp", "mktemp", "rm", "tail"):
        real = shutil.which(tool)
        assert real is not None
        os.symlink(real, directory / tool)
    return directory


def run(bin_dir: pathlib.Path, *, uid: int = 0, ci: bool = False) -> subprocess.CompletedProcess[str]:
    fake(bin_dir, "id", f'[ "$1" = -u ] && echo {uid}')
    env = {"PATH": str(bin_dir), **({"CI": "true"} if ci else {})}
    return subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def fake_apt_get(bin_dir: pathlib.Path, log: pathlib.Path, *, works: bool = True) -> None:
    install = f'cp "{bin_dir}/id" "{bin_dir}/redis-server"' if works else 'echo "E: no network" >&2; exit 100'
    fake(
        bin_dir,
        "apt-get",
        f'echo "$DEBIAN_FRONTEND apt-get $*" >> "{log}"\nif [ "$1" = install ]; then {install}; fi',
    )


def test_nothing_happens_when_redis_server_is_there(bin_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    fake(bin_dir, "redis-server", "exit 0")
    fake_apt_get(bin_dir, tmp_path / "apt.log")
    done = run(bin_dir, ci=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not (tmp_path / "apt.log").exists()


@pytest.mark.parametrize("uid", [0, 1000])
def test_apt_get_installs_it_as_root_or_with_sudo(
    bin_dir: pathlib.Path, tmp_path: pathlib.Path, uid: int
) -> None:
    log = tmp_path / "apt.log"
    fake_apt_get(bin_dir, log)
    fake(bin_dir, "sudo", f'echo "sudo $*" >> "{log}"\n[ "$1" = -n ] && shift\nexec "$@"')

    done = run(bin_dir, uid=uid, ci=True)

    assert done.returncode == 0, done.stderr
    assert "installing redis-server" in done.stdout
    calls = log.read_text().splitlines()
    apt = [
        "noninteractive apt-get update -qq",
        "noninteractive apt-get install -y -qq --no-install-recommends redis-server",
    ]
    if uid == 0:
        assert calls == apt
    else:
        assert calls == ["sudo -n apt-get update -qq", apt[0], f"sudo -n {apt[1][15:]}", apt[1]]
    assert (bin_dir / "redis-server").exists()


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("no-apt", "redis-server is not on PATH and apt-get is not available"),
        ("no-root", "redis-server is not on PATH and we are not root"),
        ("apt-fails", "apt-get could not install redis-server"),
    ],
)
@pytest.mark.parametrize("ci", [True, False])
def test_when_it_cannot_be_installed_ci_fails_and_elsewhere_the_tests_skip(
    bin_dir: pathlib.Path, tmp_path: pathlib.Path, setup: str, reason: str, ci: bool
) -> None:
    if setup != "no-apt":
        fake_apt_get(bin_dir, tmp_path / "apt.log", works=setup != "apt-fails")

    done = run(bin_dir, uid=1000 if setup == "no-root" else 0, ci=ci)

    assert f"ensure-redis: {reason}\n" in done.stderr
    assert "apt-get install redis-server" in done.stderr  # what to do about it
    if setup == "apt-fails":
        assert "E: no network" in done.stderr  # apt-get's own words are shown
    if ci:
        assert done.returncode == 1
    else:
        assert done.returncode == 0
        assert "the Celery integration tests will skip" in done.stderr
