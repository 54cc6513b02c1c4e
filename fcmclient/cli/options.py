"""The options of ``fcmclient send``, read and checked before anything is sent.

The message content (``--data`` JSON), the kind of target, the credentials (options or
environment) and the report file: each problem becomes a :class:`~fcmclient.cli.command.UsageError`,
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from ..api import FCM
from ..messages import JSONMessage, TopicMessage
from .common import UsageError

__all__ = ["LEGACY_MAX_TOKENS", "message_content", "target_is_tokens", "connect", "open_report"]

#: The other targets a command line can give (``--messages-file`` gives its own).
_TARGET_FLAGS: dict[str, Callable[[argparse.Namespace], bool]] = {
    "--token": lambda args: bool(args.token),
    "--tokens-file": lambda args: args.tokens_file is not None,
    "--topic": lambda args: args.topic is not None,
    "--condition": lambda args: args.condition is not None,
}

#: Tokens per legacy request at most (``registration_ids``).
LEGACY_MAX_TOKENS = 1000


def _read_data(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.data is not None and args.data_file is not None:
        raise UsageError("give --data or --data-file, not both")
    if args.data is not None:
        text, where = args.data, "--data"
    elif args.data_file is not None:
        where = f"data file {args.data_file!r}"
        try:
            with open(args.data_file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise UsageError(f"cannot read {where}: {reason}") from None
    else:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a JSON object, got {type(data).__name__}")
    return data


def message_content(args: argparse.Namespace) -> dict[str, Any]:
    """The message's keyword arguments, apart from its targets.

    :raises UsageError: ``--data``/``--data-file`` unreadable, not JSON or not an object; or
        ``--messages-file`` with another kind of target.
    """
    others = [flag for flag, given in _TARGET_FLAGS.items() if given(args)]
    if getattr(args, "messages_file", None) is not None and others:
        raise UsageError(f"--messages-file gives every target: drop {' and '.join(others)}")
    content: dict[str, Any] = {
        "data": _read_data(args),
        "message_title": args.title,
        "message_body": args.body,
        "time_to_live": args.ttl,
        "priority": args.priority,
        "collapse_key": args.collapse_key,
    }
    if args.dry_run:
        content["dry_run"] = True
    return content


def _credentials_kind(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str]:
    """``(kind, value)``: ``("v1", path)``, ``("legacy", key)`` or ``("emulator", "")``."""
    given = [
        (flag, kind, value)
        for flag, kind, value in (
            ("--service-account", "v1", args.service_account),
            ("--api-key", "legacy", args.api_key),
            ("--emulator", "emulator", "" if args.emulator else None),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise UsageError(f"give one kind of credentials, not {' and '.join(flag for flag, _, _ in given)}")
    if given:
        return given[0][1], given[0][2]
    if environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return "v1", environ["GOOGLE_APPLICATION_CREDENTIALS"]
    if environ.get("FCM_API_KEY"):
        return "legacy", environ["FCM_API_KEY"]
    raise UsageError(
        "no credentials: give --service-account FILE (or set GOOGLE_APPLICATION_CREDENTIALS), "
        "--api-key KEY (or set FCM_API_KEY), or --emulator"
    )


def _build(kind: str, value: Any, args: argparse.Namespace, url: str | None) -> FCM:
    """The connection for credentials of ``kind``; bad credentials or options are a UsageError."""
    where = "GOOGLE_APPLICATION_CREDENTIALS: " if kind == "v1" and not args.service_account else ""
    try:
        if kind == "legacy":
            return FCM(value, url=url, timeout=args.timeout)
        return FCM.from_service_account(value, project_id=args.project_id, url=url, timeout=args.timeout)
    except OSError as exc:
        raise UsageError(
            f"{where}cannot read service-account file {value!r}: {exc.strerror or exc}"
        ) from None
    except (ValueError, TypeError) as exc:  # a bad key file, or an option FCM() refuses
        raise UsageError(f"{where}{exc}") from None


@contextlib.contextmanager
def connect(args: argparse.Namespace, environ: Mapping[str, str]) -> Iterator[FCM]:
    """The connection the command line asks for (with ``--emulator``, to an emulator it runs).

    :raises UsageError: no credentials, several kinds, or a key file or option that is refused.
    """
    kind, given = _credentials_kind(args, environ)
    value: Any = given
    if kind == "legacy" and args.project_id:
        raise UsageError("--project-id is for HTTP v1: give a service account, not an API key")
    if kind == "emulator" and args.url:
        raise UsageError("--url and --emulator do not go together: --emulator picks its own URL")
    with contextlib.ExitStack() as stack:
        url = args.url
        if kind == "emulator":
            from ..testing import FCMEmulator

            emulator = stack.enter_context(FCMEmulator())
            project = args.project_id or "demo"
            kind, value, url = "v1", emulator.service_account_info(project), emulator.v1_url(project)
        yield stack.enter_context(_build(kind, value, args, url))


def target_is_tokens(args: argparse.Namespace, content: dict[str, Any]) -> bool:
    """True for tokens, False for a topic or condition; checks the content once, up front.

    :raises UsageError: not exactly one kind of target, or content the message refuses.
    """
    tokens = bool(args.token) or args.tokens_file is not None
    if tokens + (args.topic is not None) + (args.condition is not None) != 1:
        raise UsageError(
            "give tokens (--token/--tokens-file), --topic, --condition or --messages-file: exactly one kind"
        )
    try:
        if tokens:
            JSONMessage(["probe"], **content)
        else:
            TopicMessage(topic=args.topic, condition=args.condition, **content)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    return tokens


@contextlib.contextmanager
def open_report(path: str | None) -> Iterator[TextIO | None]:
    """Open the report before anything is sent, so that an unwritable path costs nothing.

    :raises UsageError: the file cannot be created.
    """
    if path is None:
        yield None
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write report {path!r}: {exc.strerror or exc}") from None
    with handle:
        yield handle
