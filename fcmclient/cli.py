"""The ``fcmclient`` command: ``send`` pushes, run the ``emulator``, or a ``demo``.

Exit status: 0 everything was accepted; 1 some targets failed or still need a retry (the
report says which); 2 bad input (one line on stderr, no traceback); 3 the credentials were
rejected.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main", "UsageError", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "EXIT_AUTH"]

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_AUTH = 3


class UsageError(Exception):
    """Bad input from the person at the keyboard: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fcmclient", description="Send Firebase Cloud Messaging pushes.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    send = commands.add_parser(
        "send",
        help="send a message to tokens, a topic or a condition",
        description="Send one message. Credentials: --service-account or "
        "GOOGLE_APPLICATION_CREDENTIALS (HTTP v1), --api-key or FCM_API_KEY (legacy), or "
        "--emulator (a local emulator started for this run).",
    )
    target = send.add_argument_group("targets")
    target.add_argument("--token", action="append", default=[], help="a registration token (repeatable)")
    target.add_argument("--tokens-file", metavar="FILE", help="tokens, one per line ('-' for stdin)")
    target.add_argument("--topic", help="a topic name")
    target.add_argument("--condition", help="a condition over topics")
    content = send.add_argument_group("content")
    content.add_argument("--title", help="notification title")
    content.add_argument("--body", help="notification body")
    content.add_argument("--data", metavar="JSON", help="data payload, a JSON object")
    content.add_argument("--data-file", metavar="FILE", help="data payload from a JSON file")
    options = send.add_argument_group("options")
    options.add_argument("--ttl", type=int, metavar="SECONDS", help="time to live")
    options.add_argument("--priority", choices=("high", "normal"))
    options.add_argument("--collapse-key")
    options.add_argument("--dry-run", action="store_true", help="validate only, deliver nothing")
    creds = send.add_argument_group("credentials")
    creds.add_argument("--service-account", metavar="FILE", help="service-account key file (v1)")
    creds.add_argument("--api-key", help="legacy server key (better: FCM_API_KEY)")
    creds.add_argument("--emulator", action="store_true", help="send to a local emulator")
    creds.add_argument("--project-id", help="override the service account's project")
    creds.add_argument("--url", help="send endpoint (emulators, proxies)")
    run = send.add_argument_group("run")
    run.add_argument("--chunk-size", type=int, default=500, metavar="N", help="tokens per send (500)")
    run.add_argument("--retries", type=int, default=0, metavar="N", help="retry rounds (default 0: none)")
    run.add_argument("--report", metavar="FILE", help="write per-target outcomes as JSON lines")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request timeout")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: on a terminal)",
    )

    emulator = commands.add_parser(
        "emulator", help="run the local FCM emulator in the foreground", add_help=False
    )
    emulator.add_argument("args", nargs=argparse.REMAINDER)

    commands.add_parser("demo", help="send a multicast to the built-in emulator and explain each outcome")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments[:1] == ["emulator"]:  # its own parser owns the rest of the line
            from .testing.cli import main as emulator_main

            return emulator_main(arguments[1:])
        parsed = _parser().parse_args(arguments)
        if parsed.command == "demo":
            from .demo import run_demo

            return run_demo(sys.stdout)
        from .sending import run_send

        return run_send(parsed, os.environ, sys.stdin, sys.stdout, sys.stderr)
    except UsageError as exc:
        print(f"fcmclient: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fcmclient: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
