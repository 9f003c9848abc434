"""Connections a worker cannot be starved by: header and idle timeouts, a header cap, a connection cap.

uvicorn's httptools protocol closes a connection that stays idle between two
requests (keep-alive timeout) but waits forever for the headers of a request,
buffers any header size, and with ``limit_concurrency`` answers 503 to every new
request - a health probe included - while idle sockets fill the table. This
subclass of it adds, per worker:

- a header timeout: a connection that has not sent complete headers within
  ``header_seconds`` of connecting (or of the first byte of its next request) is
  closed - slow or half-sent requests (slowloris) do not stay;
- a header cap: request line and headers larger than ``max_header_bytes`` are
  answered 431 (JSON) and the connection is closed;
- a body timeout: a request whose body has not arrived ``body_seconds`` after its
  headers is answered 408 (JSON) and the connection closed (a timer only when the
  body did not come with the headers, so the common request pays nothing);
- a connection cap: at ``max_connections`` the oldest connection with no request
  in progress (idle keep-alive, or still sending its headers) is closed to admit
  the new one; only when every connection has a request in progress is the new
  one answered 503 (JSON) and closed. So 2,200 idle sockets cost a probe nothing.

The request body's caps are in :mod:`seoib.serve.app`.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionGuard", "GuardedProtocol"]


def _refusal(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": {"message": message, "location": "connection"}}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


class ConnectionGuard:
    """One worker's table of connections: which are waiting (evictable) and which are busy."""

    def __init__(self, max_connections: int = 2048, header_seconds: float = 10.0,
                 max_header_bytes: int = 16 << 10, body_seconds: float = 10.0) -> None:
        self.max_connections = max_connections
        self.header_seconds = header_seconds
        self.body_seconds = body_seconds
        self.max_header_bytes = max_header_bytes
        self.waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()  # oldest first
        self.busy: set[GuardedProtocol] = set()
        self.evicted = 0
        self.refused = 0
        self.on_refusal: Any = None  # (reason) -> None, the metrics' hook

    def admit(self, conn: GuardedProtocol) -> bool:
        if len(self.waiting) + len(self.busy) >= self.max_connections:
            if not self.waiting:
                self.refused += 1
                if self.on_refusal:
                    self.on_refusal("connections")
                return False
            oldest, _ = self.waiting.popitem(last=False)
            self.evicted += 1
            oldest.transport.close()
        self.waiting[conn] = None
        return True

    def working(self, conn: GuardedProtocol) -> None:
        self.waiting.pop(conn, None)
        self.busy.add(conn)

    def resting(self, conn: GuardedProtocol) -> None:
        self.busy.discard(conn)
        self.waiting[conn] = None
        self.waiting.move_to_end(conn)

    def gone(self, conn: GuardedProtocol) -> None:
        self.waiting.pop(conn, None)
        self.busy.discard(conn)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol under a :class:`ConnectionGuard` (set per worker)."""

    guard = ConnectionGuard()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_body = False
        self._body_timer: asyncio.TimerHandle | None = None
        if not self.guard.admit(self):
            transport.write(_refusal(503, "Service Unavailable", "too many connections; try again"))
            transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.guard.header_seconds, self._head_timeout)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            if self.guard.on_refusal:
                self.guard.on_refusal("header-timeout")
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            room = self.guard.max_header_bytes - self._head_bytes
            if len(data) > room and b"\r\n\r\n" not in data[: max(room, 0) + 4]:
                if self.guard.on_refusal:
                    self.guard.on_refusal("header-size")
                self.transport.write(_refusal(431, "Request Header Fields Too Large",
                                              f"request headers over {self.guard.max_header_bytes} bytes"))
                self.transport.close()
                return
            self._head_bytes += len(data)
            self._arm()  # the next request's first byte: its headers have their time from now
        super().data_received(data)
        if self._in_body and self._body_timer is None and not self.transport.is_closing():
            self._body_timer = self.loop.call_later(self.guard.body_seconds, self._body_timeout)

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self._in_body and not self.transport.is_closing():
            if self.guard.on_refusal:
                self.guard.on_refusal("body-timeout")
            self.transport.write(_refusal(408, "Request Timeout", "the body did not arrive within "
                                          f"{self.guard.body_seconds:g} s"))
            self.transport.close()

    def on_message_complete(self) -> None:
        self._in_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm()
        self._in_body = True
        self.guard.working(self)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._in_head = True
        self.guard.resting(self)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self.guard.gone(self)
        super().connection_lost(exc)
