"""The ``fcmclient send`` command: build the message, send in chunks, report per target."""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import requests

from .api import FCM
from .cli import EXIT_AUTH, EXIT_OK, EXIT_PARTIAL, UsageError
from .errors import FCMAuthenticationError, FCMRequestError, FCMResponseError
from .messages import JSONMessage, Message, TopicMessage
from .outcomes import Bucket, Outcome
from .result import Result

__all__ = ["run_send", "ACTIONS", "report_line"]

#: What the app should do with a target, by bucket (``replace`` for a canonical success).
ACTIONS = {
    Bucket.SUCCESS: "keep",
    Bucket.NOT_REGISTERED: "delete",
    Bucket.FAILED: "investigate",
    Bucket.RETRY: "retry",
}
_LEGACY_MAX_IDS = 1000


def _read_tokens(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    tokens = list(args.token)
    if args.tokens_file:
        try:
            if args.tokens_file == "-":
                lines = stdin.read().splitlines()
            else:
                with open(args.tokens_file, encoding="utf-8") as handle:
                    lines = handle.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read tokens file {args.tokens_file!r}: {exc}") from None
        tokens.extend(line.strip() for line in lines)
    return list(dict.fromkeys(token for token in tokens if token))


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
            raise UsageError(f"cannot read {where}: {exc}") from None
    else:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a JSON object, got {type(data).__name__}")
    return data


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "time_to_live": args.ttl,
        "priority": args.priority,
        "collapse_key": args.collapse_key,
    }
    if args.dry_run:
        options["dry_run"] = True
    return options


def _messages(args: argparse.Namespace, stdin: TextIO, legacy: bool) -> Iterator[Message]:
    tokens = _read_tokens(args, stdin)
    given = [bool(tokens or args.tokens_file), args.topic is not None, args.condition is not None]
    if sum(given) != 1:
        raise UsageError("give tokens (--token/--tokens-file), --topic or --condition: exactly one kind")
    data = _read_data(args)
    content: dict[str, Any] = {
        "data": data,
        "message_title": args.title,
        "message_body": args.body,
    }
    content.update(_options(args))
    if args.topic is not None or args.condition is not None:
        yield TopicMessage(topic=args.topic, condition=args.condition, **content)
        return
    if not tokens:
        raise UsageError("the token list is empty")
    size = args.chunk_size
    if size < 1 or (legacy and size > _LEGACY_MAX_IDS):
        raise UsageError(f"--chunk-size must be between 1 and {_LEGACY_MAX_IDS if legacy else 'any'}")
    for start in range(0, len(tokens), size):
        yield JSONMessage(tokens[start : start + size], **content)


@contextlib.contextmanager
def _connect(args: argparse.Namespace, environ: Mapping[str, str]) -> Iterator[FCM]:
    kinds = [
        name
        for name, given in (
            ("--service-account", args.service_account),
            ("--api-key", args.api_key),
            ("--emulator", args.emulator),
        )
        if given
    ]
    if len(kinds) > 1:
        raise UsageError(f"give one kind of credentials, not {' and '.join(kinds)}")
    kwargs: dict[str, Any] = {"timeout": args.timeout}
    if args.emulator:
        from .testing import FCMEmulator

        project = args.project_id or "demo"
        with FCMEmulator() as emulator:
            info = emulator.service_account_info(project_id=project)
            with FCM.from_service_account(info, url=emulator.v1_url(project), **kwargs) as fcm:
                yield fcm
        return
    service_account = args.service_account or (
        None if args.api_key else environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    )
    api_key = args.api_key or (None if service_account else environ.get("FCM_API_KEY"))
    if service_account:
        if args.project_id:
            kwargs["project_id"] = args.project_id
        if args.url:
            kwargs["url"] = args.url
        try:
            fcm = FCM.from_service_account(service_account, **kwargs)
        except OSError as exc:
            raise UsageError(
                f"cannot read service-account file {service_account!r}: {exc.strerror or exc}"
            ) from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif api_key:
        fcm = FCM(api_key, url=args.url, **kwargs)
    else:
        raise UsageError(
            "no credentials: give --service-account FILE (or set GOOGLE_APPLICATION_CREDENTIALS), "
            "--api-key (or set FCM_API_KEY), or --emulator"
        )
    with fcm:
        yield fcm


def report_line(target: str, outcome: Outcome) -> dict[str, Any]:
    """One JSON-lines record: the target, its bucket, and what the app should do."""
    action = "replace" if outcome.canonical_id is not None else ACTIONS[outcome.bucket]
    line: dict[str, Any] = {"target": target, "outcome": outcome.bucket.value, "action": action}
    for key in ("message_id", "canonical_id", "error", "detail"):
        value = getattr(outcome, key)
        if value is not None:
            line[key] = value
    return line


class _Progress:
    def __init__(self, stream: TextIO, total: int, enabled: bool) -> None:
        self._stream, self._total, self._enabled, self._done = stream, total, enabled, 0

    def advance(self, count: int) -> None:
        self._done += count
        if self._enabled:
            filled = 30 * self._done // max(self._total, 1)
            self._stream.write(f"\rsending [{'#' * filled}{'.' * (30 - filled)}] {self._done}/{self._total}")
            self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()


def _send_one(fcm: FCM, message: Message, round_: int) -> tuple[dict[str, Outcome], Message | None, float]:
    """Send, turning whole-message failures into per-target outcomes (nothing is lost)."""
    try:
        result = fcm.send(message)
    except requests.RequestException as exc:
        outcome = Outcome.retry("TRANSPORT_ERROR", f"{type(exc).__name__}: {str(exc)[:200]}")
        return dict.fromkeys(message.targets, outcome), message, fcm_backoff(fcm, round_)
    except (FCMRequestError, FCMResponseError) as exc:
        outcome = Outcome.failed(type(exc).__name__, str(exc)[:300])
        return dict.fromkeys(message.targets, outcome), None, 0.0
    retry = result.retry()
    return result.outcomes, retry, result.delay(round_) if retry is not None else 0.0


def fcm_backoff(fcm: FCM, round_: int) -> float:
    """The connection's backoff for a message that could not be sent at all."""
    return float(fcm.backoff * 2 ** min(round_, 16)) / 1000.0


def _summary(outcomes: Mapping[str, Outcome], wait: float | None) -> str:
    counts = collections.Counter(outcome.bucket for outcome in outcomes.values())
    canonical = sum(outcome.canonical_id is not None for outcome in outcomes.values())
    parts = [
        f"{len(outcomes)} target(s): {counts[Bucket.SUCCESS]} delivered",
        f"{canonical} to replace (canonical)",
        f"{counts[Bucket.NOT_REGISTERED]} not registered",
        f"{counts[Bucket.FAILED]} failed",
        f"{counts[Bucket.RETRY]} to retry"
        + (f" after {wait:.1f} s" if counts[Bucket.RETRY] and wait is not None else ""),
    ]
    lines = [", ".join(parts)]
    errors = collections.Counter(o.error for o in outcomes.values() if o.bucket is Bucket.FAILED)
    if errors:
        lines.append("failed: " + ", ".join(f"{code} x{count}" for code, count in errors.most_common()))
    return "\n".join(lines)


def run_send(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """The ``send`` command; returns the exit status."""
    if args.retries < 0:
        raise UsageError("--retries must be 0 or more")
    with _connect(args, environ) as fcm:
        messages = list(_messages(args, stdin, fcm.protocol == "legacy"))
        order = [target for message in messages for target in message.targets]
        outcomes: dict[str, Outcome] = {}
        progress = _Progress(stderr, len(order), stderr.isatty() if args.progress is None else args.progress)
        pending, round_, wait = messages, 0, None
        status = EXIT_OK
        try:
            while pending:
                retries: list[Message] = []
                waits: list[float] = []
                for message in pending:
                    settled, retry, delay = _send_one(fcm, message, round_)
                    outcomes.update(settled)
                    if retry is not None:
                        retries.append(retry)
                        waits.append(delay)
                    if round_ == 0:
                        progress.advance(len(message.targets))
                wait = max(waits) if waits else None
                if not retries or round_ >= args.retries:
                    break
                round_ += 1
                count = sum(len(message.targets) for message in retries)
                print(f"retry round {round_}: {count} target(s) in {wait:.1f} s", file=stderr)
                time.sleep(wait or 0.0)
                pending = retries
        except FCMAuthenticationError as exc:
            partial = exc.result
            if isinstance(partial, Result):
                outcomes.update(partial.outcomes)
            print(f"fcmclient: credentials rejected: {exc}", file=stderr)
            status = EXIT_AUTH
        finally:
            progress.close()
        unsent = Outcome.retry("NOT_SENT", "not sent: the credentials were rejected")
        final = {target: outcomes.get(target, unsent) for target in order}
        if args.report:
            _write_report(args.report, final)
        print(_summary(final, wait), file=stdout)
        if status != EXIT_OK:
            return status
        return EXIT_OK if all(o.bucket is Bucket.SUCCESS for o in final.values()) else EXIT_PARTIAL


def _write_report(path: str, outcomes: Mapping[str, Outcome]) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            for target, outcome in outcomes.items():
                handle.write(json.dumps(report_line(target, outcome), ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write report {path!r}: {exc.strerror or exc}") from None
