"""The ``fcmclient`` command: ``send`` pushes, manage ``topics``, run the ``emulator``, or a ``demo``.

Exit status: 0 every target was sent; 1 some were not (the summary and the report say which);
2 bad input (one line on stderr, no traceback); 3 the credentials were rejected; 130
interrupted (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._args import Parser
from .._checks import seconds
from .common import EXIT_INTERRUPTED, EXIT_PARTIAL, EXIT_USAGE, StopRequest, UsageError

__all__ = ["main", "build_parser"]


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        return seconds(float(text), "--timeout")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}") from None


_MESSAGES_FILE_HELP = (
    "personalised messages, one JSON object per line ('-' for stdin): "
    '{"token"|"topic"|"condition": ..., "title": ..., "body": ..., "data": {...}}'
)


_EXIT_STATUSES = (
    "Exit status: 0 every target {done}; 1 some were not (the summary and the report say "
    "which); 2 bad input; 3 credentials rejected; 130 interrupted."
)


def _token_targets(group: Any) -> None:
    group.add_argument(
        "--token", action="append", default=[], metavar="TOKEN", help="a registration token (repeatable)"
    )
    group.add_argument("--tokens-file", metavar="FILE", help="tokens, one per line ('-' for stdin)")


def _credentials(parser: Any, *, topics: bool = False) -> None:
    creds = parser.add_argument_group("credentials (one kind)")
    creds.add_argument("--service-account", metavar="FILE", help="service-account key file (HTTP v1)")
    legacy = "legacy server key (refused: topics need HTTP v1)" if topics else "legacy server key"
    creds.add_argument("--api-key", help=legacy + " (better: the FCM_API_KEY variable)")
    creds.add_argument(
        "--emulator", action="store_true", help="send to a local emulator started for this run"
    )
    creds.add_argument("--project-id", help="send for this project instead of the key file's")
    url_help = "the v1 send endpoint, whose project's subscriptions are managed" if topics else None
    creds.add_argument("--url", help=url_help or "send endpoint, for emulators and proxies")


def _run(parser: Any, *, chunks: bool = True) -> Any:
    run = parser.add_argument_group("run")
    if chunks:
        run.add_argument(
            "--chunk-size", type=_count(1), default=500, metavar="N", help="tokens per call (500)"
        )
        run.add_argument("--retries", type=_count(0), default=0, metavar="N", help="retry rounds (0: none)")
        run.add_argument("--report", metavar="FILE", help="write each target's outcome as a JSON line")
    run.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="per-request timeout (10)")
    return run


def _progress(run: Any) -> None:
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )


def _send_parser(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="send one message to tokens, a topic or a condition",
        description="Send one message. Credentials: --service-account or "
        "GOOGLE_APPLICATION_CREDENTIALS (HTTP v1), --api-key or FCM_API_KEY (legacy), or "
        "--emulator (a local emulator started for this run).",
        epilog=_EXIT_STATUSES.format(done="sent"),
    )
    target = send.add_argument_group("targets (exactly one kind)")
    _token_targets(target)
    target.add_argument("--topic", help="a topic name")
    target.add_argument("--condition", help="a condition over topics")
    target.add_argument("--messages-file", metavar="FILE", help=_MESSAGES_FILE_HELP)
    content = send.add_argument_group("content")
    content.add_argument("--title", help="notification title")
    content.add_argument("--body", help="notification body")
    content.add_argument("--data", metavar="JSON", help="data payload, a JSON object")
    content.add_argument("--data-file", metavar="FILE", help="data payload from a JSON file")
    options = send.add_argument_group("options")
    options.add_argument("--ttl", type=_count(0), metavar="SECONDS", help="time to live")
    options.add_argument("--priority", choices=("high", "normal"), help="delivery priority")
    options.add_argument("--collapse-key", help="messages with the same key replace each other")
    options.add_argument("--dry-run", action="store_true", help="validate only, deliver nothing")
    _credentials(send)
    _progress(_run(send))


def _topics_parser(commands: Any) -> None:
    topics = commands.add_parser(
        "topics",
        help="subscribe tokens to a topic, unsubscribe them, or list a token's topics (HTTP v1)",
        description="Manage topic subscriptions through FCM HTTP v1. Credentials: "
        "--service-account or GOOGLE_APPLICATION_CREDENTIALS, or --emulator.",
    )
    actions = topics.add_subparsers(dest="topic_command", metavar="ACTION", required=True)
    for action, verb in (("subscribe", "subscribed"), ("unsubscribe", "unsubscribed")):
        change = actions.add_parser(
            action,
            help=f"{action} tokens {'to' if action == 'subscribe' else 'from'} TOPIC",
            description=f"{action.capitalize()} every token given, one request each.",
            epilog=_EXIT_STATUSES.format(done=verb),
        )
        change.add_argument("topic", metavar="TOPIC", help="the topic name ('/topics/' is accepted)")
        _token_targets(change.add_argument_group("tokens"))
        _credentials(change, topics=True)
        _progress(_run(change))
    listing = actions.add_parser(
        "list",
        help="the topics TOKEN is subscribed to",
        description="Print the topics a token is subscribed to, one per line.",
        epilog="Exit status: 0 listed; 1 FCM refused (a dead token, an outage); 2 bad input; "
        "3 credentials rejected.",
    )
    listing.add_argument("token", metavar="TOKEN", help="a registration token")
    _credentials(listing, topics=True)
    _run(listing, chunks=False)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line (``fcmclient emulator`` has its own for the rest)."""
    parser = Parser(prog="fcmclient", description="Send Firebase Cloud Messaging pushes.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _send_parser(commands)
    _topics_parser(commands)
    commands.add_parser(
        "emulator", help="run the local FCM emulator in the foreground (--help for its options)"
    )
    commands.add_parser("demo", help="send a multicast to the built-in emulator and explain each outcome")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments[:1] == ["emulator"]:  # its own parser owns the rest of the line
            from ..testing.cli import main as emulator_main

            return emulator_main(arguments[1:], prog="fcmclient emulator")
        parsed = build_parser().parse_args(arguments)
        if parsed.command == "demo":
            from .demo import run_demo

            return run_demo(sys.stdout)
        # late: `emulator` and `--help` need no requests or google-auth
        from .each import run_send_each
        from .sending import run_send
        from .topics import run_topics

        if parsed.command == "topics":
            run = run_topics
        else:
            run = run_send_each if parsed.messages_file is not None else run_send
        stop = StopRequest()
        with stop.installed():
            return run(parsed, os.environ, sys.stdin.buffer, sys.stdout, sys.stderr, stop)
    except UsageError as exc:
        print(f"fcmclient: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fcmclient: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (``| head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PARTIAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
