"""Command line: run the emulator in the foreground and print how to reach it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from types import FrameType
from typing import TextIO

from .._args import Parser, UsageError
from .emulator import FCMEmulator

__all__ = ["main"]


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description=(
            "Run a local FCM emulator until SIGINT or SIGTERM. It prints KEY=value lines "
            "(URL, LEGACY_URL, V1_URL, TOKEN_URI, API_KEY, SERVICE_ACCOUNT_FILE, ...) "
            "and READY=1 last."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free one)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds to wait before each send response"
    )
    parser.add_argument("--project", default="demo", help="project id of the service account")
    parser.add_argument(
        "--history-limit",
        type=int,
        default=100_000,
        help="recorded requests and inbox messages to keep (about 3 KB each)",
    )
    return parser


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(
    argv: list[str] | None = None, *, out: TextIO | None = None, prog: str = "python -m fcmclient.testing"
) -> int:
    """Run the emulator until SIGINT/SIGTERM; return the exit status.

    The service-account key file is written (mode 600) to a temporary directory that
    is removed on exit.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :param out: where to print the ``KEY=value`` lines (default: stdout).
    :param prog: the command's name in help and error messages.
    """
    try:
        args = _parser(prog).parse_args(argv)
    except UsageError as exc:  # one line, as ``fcmclient send`` does
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    stream = out if out is not None else sys.stdout
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    directory = tempfile.mkdtemp(prefix="fcm-emulator-")
    emulator = FCMEmulator(args.host, args.port, latency=args.latency, history_limit=args.history_limit)
    try:
        emulator.start()
        key_file = os.path.join(directory, "service-account.json")
        _write_private(key_file, json.dumps(emulator.service_account_info(args.project)))
        lines = {
            "URL": emulator.url,
            "HOST": emulator.host,
            "PORT": str(emulator.port),
            "LEGACY_URL": emulator.legacy_url,
            "V1_URL": emulator.v1_url(args.project),
            "TOKEN_URI": emulator.token_uri,
            "API_KEY": emulator.api_key,
            "PROJECT_ID": args.project,
            "SERVICE_ACCOUNT_FILE": key_file,
            "READY": "1",
        }
        for key, value in lines.items():
            print(f"{key}={value}", file=stream, flush=True)
        while not stopping.wait(1.0):
            pass
    finally:
        emulator.stop()
        shutil.rmtree(directory, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
