"""The pytest plugin: the fixture works, and tests sharing the server stay isolated."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from fcmclient.testing import FCMEmulator

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "fcmclient.testing.pytest_plugin"

ISOLATION_TESTS = """
import requests


def _send(emu):
    return requests.post(
        emu.legacy_url,
        json={"to": "shared-token"},
        headers={"Authorization": "key=" + emu.api_key},
        timeout=10,
    )


def test_first_dirties_the_emulator(fcm_emulator):
    fcm_emulator.set_outcome("shared-token", "unregistered", "unregistered")
    fcm_emulator.default_outcome = "internal"
    fcm_emulator.latency = 0.01
    assert _send(fcm_emulator).json()["results"] == [{"error": "NotRegistered"}]


def test_second_sees_a_clean_emulator(fcm_emulator, fcm_emulator_server):
    assert fcm_emulator is fcm_emulator_server
    assert fcm_emulator.requests == []
    assert fcm_emulator.stats.requests_total == 0
    assert fcm_emulator.latency == 0
    assert _send(fcm_emulator).json()["success"] == 1
    assert fcm_emulator.inbox("shared-token") == [{"token": "shared-token"}]


def test_service_account_fixture(fcm_service_account, fcm_emulator):
    assert fcm_service_account["token_uri"] == fcm_emulator.token_uri
"""


def _plugin_installed() -> bool:
    return any(ep.value.split(":")[0] == PLUGIN for ep in entry_points(group="pytest11"))


def test_fixture_gives_a_running_reset_emulator(fcm_emulator: FCMEmulator) -> None:
    assert fcm_emulator.running
    assert fcm_emulator.requests == []
    assert fcm_emulator.stats.requests_total == 0


def test_tests_sharing_the_server_do_not_see_each_other(tmp_path: Path) -> None:
    (tmp_path / "test_isolation.py").write_text(ISOLATION_TESTS)
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    if not _plugin_installed():
        args += ["-p", PLUGIN]
    result = subprocess.run(
        [*args, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_regression_plugin_loading_required_the_emulators_dependencies() -> None:
    # pytest loads the plugin in every project where fcm-client is installed. It imported
    # the emulator (asyncio server, cryptography) up front, so a project whose google-auth
    # predates its cryptography dependency could not run pytest at all.
    script = (
        "import sys\n"
        "sys.modules['cryptography'] = None  # as if it were not installed\n"
        "import fcmclient.testing.pytest_plugin\n"
        "assert 'fcmclient.testing.emulator' not in sys.modules\n"
        "import fcmclient.testing\n"
        "try:\n"
        "    fcmclient.testing.FCMEmulator\n"
        "except ImportError as exc:\n"
        "    print('needs', exc.name, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("needs cryptography")
    assert "pip install 'fcm-client[emulator]'" in result.stdout  # and says how to get it


def test_the_package_names_import_on_first_use() -> None:
    import fcmclient.testing as testing

    namespace: dict[str, object] = {}
    exec("from fcmclient.testing import *", namespace)  # noqa: S102 - the star import is under test
    assert {name: namespace[name] for name in testing.__all__} == {
        name: getattr(testing, name) for name in testing.__all__
    }
    assert namespace["FCMEmulator"] is FCMEmulator
