"""The small HTML pages and headers Google's front end answers with (401, 404, 502, ...)."""

from __future__ import annotations

import math

from ._http import Response, reason_phrase

__all__ = ["front_end_error", "html_page", "retry_after_headers"]


def html_page(status: int, message: str) -> bytes:
    """Return a small HTML error page like the ones Google's front end serves.

    :param status: the HTTP status shown on the page.
    :param message: one sentence of explanation (plain text, HTML-escaped here).
    """
    text = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    title = f"Error {status} ({reason_phrase(status)})!!1"
    page = (
        f"<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<p><b>{status}.</b> <ins>That\u2019s an error.</ins><p>{text} "
        f"<ins>That\u2019s all we know.</ins></html>\n"
    )
    return page.encode("utf-8")


def retry_after_headers(seconds: float | None) -> tuple[tuple[str, str], ...]:
    """Return a ``Retry-After`` header pair for ``seconds`` (rounded up), or nothing.

    :param seconds: the delay, or ``None`` for no header.
    """
    if seconds is None:
        return ()
    return (("Retry-After", str(math.ceil(seconds))),)


def front_end_error(status: int, retry_after: float | None = None) -> Response:
    """An HTML error response like the ones Google's front end sends (e.g. a 502).

    :param status: the HTTP status.
    :param retry_after: seconds for a ``Retry-After`` header, if any.
    """
    message = (
        "The server encountered a temporary error and could not complete your request. "
        "Please try again in 30 seconds."
    )
    return Response(
        status,
        html_page(status, message),
        "text/html; charset=UTF-8",
        retry_after_headers(retry_after),
    )
