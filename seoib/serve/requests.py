"""Reading a request to the decision service: refusals, headers, content types, query options.

Every refusal is a :class:`Refusal` - an HTTP status, a message and where the problem
is - that the application answers as JSON ``{"error": {"message", "location"}}`` and
counts by ``reason`` in the metrics.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JSONISH_TYPES", "YAML_TYPES", "Headers", "Refusal", "header", "media", "refuse_files",
           "view_options"]

Headers = list[tuple[bytes, bytes]]


class Refusal(Exception):
    """A request the service will not answer with a verdict: its status and why."""

    def __init__(self, status: int, message: str, location: str = "body",
                 headers: Headers | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.location = location
        self.headers = headers or []
        self.reason = reason


YAML_TYPES = (b"application/yaml", b"application/x-yaml", b"text/yaml", b"text/x-yaml")
# JSON, and what clients send when they do not say (curl -d: form-urlencoded)
JSONISH_TYPES = (b"application/json", b"application/x-www-form-urlencoded", b"text/plain", b"")


def media(headers: Headers) -> bytes:
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return b""


def header(headers: Headers, wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


def refuse_files(value: Any, where: str) -> None:
    """A network client never makes the service read a file: no ``@file`` specs anywhere."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str) and v.lstrip().startswith("@"):
            raise Refusal(400, "@file specs are not accepted by the service; send the spec itself",
                          where)
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def view_options(query: bytes) -> tuple[bool, bool]:
    """(compact, explain) from the query string; unknown parameters are refused."""
    compact_view = explain = False
    if not query:
        return compact_view, explain
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                          max_num_fields=8)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "the query string does not parse", "query") from None
    for key, value in pairs:
        if key == "view" and value in ("compact", "full"):
            compact_view = value == "compact"
        elif key == "explain" and value in ("true", "false", "1", "0"):
            explain = value in ("true", "1")
        else:
            raise Refusal(400, f"unknown query parameter {key}={value!r} (known: view=compact|full, "
                          "explain=true|false)", "query")
    if explain and not compact_view:
        raise Refusal(400, "explain=true adds reasons to view=compact (whole verdicts have them)",
                      "query")
    return compact_view, explain
