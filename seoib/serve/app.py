"""The decision service as a plain ASGI application (no framework on the hot path).

Routes (bodies and answers are the CLI's JSON, see ``openapi.json``):

- ``POST /v1/policy``, ``POST /v1/migrate``: one batch line (an object) or a
  list of them; an object answers its verdict, a list a list of verdicts with
  ``{"error": ...}`` in place of a bad item.
- ``POST /v1/check``: a rollout plan (JSON or YAML) -> the ``seoib check`` report.
- ``POST /v1/reload``: load the rule set again; a bad one is refused with its
  file:line and the old one keeps serving. ``GET /v1/rules``: digest, sources.
- ``GET /healthz``, ``GET /metrics`` (Prometheus), ``GET /openapi.json``.

A bad request (bad JSON, unknown keys, a spec naming a file, a body over the
size limit, too many items) is HTTP 400 with ``{"error": {"message",
"location"}}``; a body that does not arrive in time is 408, a request over its
time budget 503. The rule set is swapped by one assignment: a request in flight
finishes on the engine it started with.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import SeoibError
from ..query.api import Engine
from ..query.batch import answer, error_object
from ..rules.ruleset import RuleSet, load_rules
from .metrics import Metrics

__all__ = ["Limits", "Service"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Limits:
    """Request limits; the defaults suit a scheduler asking one placement at a time."""

    def __init__(self, max_body: int = 1 << 20, max_items: int = 10_000, body_seconds: float = 10.0,
                 request_seconds: float = 10.0) -> None:
        self.max_body = max_body
        self.max_items = max_items
        self.body_seconds = body_seconds
        self.request_seconds = request_seconds


class _Refusal(Exception):
    def __init__(self, status: int, message: str, location: str = "body") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.location = location


_JSON = [(b"content-type", b"application/json")]
_ROUTES = {
    ("POST", "/v1/policy"), ("POST", "/v1/migrate"), ("POST", "/v1/check"), ("POST", "/v1/reload"),
    ("GET", "/v1/rules"), ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/openapi.json"),
}
_PATHS = {path for _, path in _ROUTES}


def _refuse_files(value: Any, where: str) -> None:
    """A network client never makes the service read a file: no ``@file`` specs anywhere."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str) and v.lstrip().startswith("@"):
            raise _Refusal(400, "@file specs are not accepted by the service; send the spec itself",
                           where)
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


class Service:
    """One worker's view: the current engine, the limits, metrics and the access log."""

    def __init__(self, rules: Any, rs: RuleSet, metrics: Metrics, *, limits: Limits | None = None,
                 access_log: bool = True, log: Callable[[str], Any] | None = None) -> None:
        self.rules = rules
        self.engine = Engine(rs)
        self.metrics = metrics
        self.limits = limits or Limits()
        self.access_log = access_log
        self.log = log or sys.stderr.write
        self._encoded: dict[int, tuple[Any, bytes]] = {}
        self._openapi: bytes | None = None
        self._watchdog: asyncio.Future[None] | None = None

    # --- rules ---------------------------------------------------------------------------

    def rules_info(self) -> dict[str, Any]:
        rs = self.engine.rs
        return {"digest": rs.digest, "sources": [str(rs.root)], "queries": sorted(rs.queries)}

    def reload(self) -> bool:
        """Load the rules again and swap them in; SeoibError (old rules kept) when bad."""
        rs = load_rules(self.rules)
        if rs is self.engine.rs or rs.digest == self.engine.rs.digest:
            return False
        self.engine = Engine(rs)  # one assignment: in-flight requests keep the old engine
        self._encoded.clear()
        return True

    def reload_quietly(self) -> None:
        """SIGUSR1 from the supervisor: swap, or log the refusal and keep serving."""
        try:
            changed = self.reload()
            self.event("reload", changed=changed, digest=self.engine.rs.digest)
        except SeoibError as err:
            self.event("reload-refused", error=_error_fields(err))

    def event(self, name: str, **fields: Any) -> None:
        self.log(json.dumps({"ts": round(time.time(), 3), "event": name, "pid": os.getpid(),
                             **fields}) + "\n")

    # --- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        start = time.perf_counter()
        method, path = scope["method"], scope["path"]
        try:
            status, body, headers = await self._dispatch(method, path, scope, receive)
        except _Refusal as r:
            status, body, headers = r.status, self._error(r.message, r.location), _JSON
        except Exception as exc:  # a bug: report it as one, never as a verdict
            self.event("internal-error", error=f"{type(exc).__name__}: {exc}", path=path)
            status = 500
            body, headers = self._error("internal error (see the service log)", path), _JSON
        # Counted before the answer leaves, so a client that reads /metrics next sees it.
        took = time.perf_counter() - start
        route = path if path in _PATHS else "other"
        self.metrics.request(route, status, took)
        if self.access_log:
            self.log(json.dumps({"ts": round(time.time(), 3), "pid": os.getpid(), "method": method,
                                 "path": route, "status": status, "ms": round(took * 1e3, 3),
                                 "bytes": len(body)}) + "\n")
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                import signal

                # The supervisor asks every worker to reload with SIGUSR1.
                asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self.reload_quietly)
                self._watchdog = asyncio.ensure_future(_stop_when_orphaned(os.getppid()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(self, method: str, path: str, scope: dict[str, Any],
                        receive: Receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if (method, path) not in _ROUTES:
            if path in _PATHS:
                raise _Refusal(405, f"{method} is not allowed on {path}", path)
            raise _Refusal(404, f"no such resource {path}", path)
        if method == "GET":
            return self._get(path)
        body = await self._body(scope, receive)
        if path == "/v1/reload":
            return self._reload()
        if path == "/v1/check":
            return 200, self._check(body), _JSON
        return 200, self._decide(path[4:], body), _JSON

    def _get(self, path: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if path == "/healthz":
            return 200, json.dumps({"status": "ok", "rules": self.engine.rs.digest}).encode(), _JSON
        if path == "/v1/rules":
            return 200, json.dumps(self.rules_info()).encode(), _JSON
        if path == "/metrics":
            return 200, self.metrics.render().encode(), [
                (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
        if self._openapi is None:
            from .openapi import document

            self._openapi = json.dumps(document()).encode()
        return 200, self._openapi, _JSON

    async def _body(self, scope: dict[str, Any], receive: Receive) -> bytes:
        limit = self.limits.max_body
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise _Refusal(400, f"request body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Refusal(400, "the client went away before the body arrived")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _Refusal(400, f"request body is larger than {limit} bytes")
                chunks.append(chunk)
                more = message.get("more_body", False)

        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self.limits.body_seconds):  # no extra task per request
                    await read()
            else:
                await asyncio.wait_for(read(), self.limits.body_seconds)
        except asyncio.TimeoutError:
            raise _Refusal(408, f"the body did not arrive within {self.limits.body_seconds:g} s") \
                from None
        return b"".join(chunks)

    @staticmethod
    def _parse(body: bytes) -> Any:
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise _Refusal(400, f"invalid JSON: {exc.msg}", f"body:{exc.lineno}:{exc.colno}") from None
        except (ValueError, RecursionError) as exc:
            raise _Refusal(400, f"invalid JSON: {type(exc).__name__}") from None

    def _decide(self, kind: str, body: bytes) -> bytes:
        doc = self._parse(body)
        engine = self.engine  # the whole request runs on one rule set
        if isinstance(doc, list):
            if len(doc) > self.limits.max_items:
                raise _Refusal(400, f"more than {self.limits.max_items} items in one request")
            deadline = time.perf_counter() + self.limits.request_seconds
            out = []
            for i, item in enumerate(doc):
                if time.perf_counter() > deadline:
                    raise _Refusal(503, f"the request ran past its {self.limits.request_seconds:g} s "
                                   "budget; send fewer items", f"body[{i}]")
                try:
                    verdict = answer(engine, kind, item, allow_files=False)
                except SeoibError as err:
                    verdict = error_object(err, f"body[{i}]")
                self.metrics.verdict(kind, verdict)
                out.append(verdict)
            return json.dumps(out, separators=(",", ":")).encode()
        try:
            verdict = answer(engine, kind, doc, allow_files=False)
        except SeoibError as err:
            self.metrics.verdict(kind, {"error": True})
            raise _Refusal(400, str(err), "body") from None
        self.metrics.verdict(kind, verdict)
        return self._encode(verdict)

    def _encode(self, verdict: dict[str, Any]) -> bytes:
        """A repeated question gets the same verdict object: encode it once."""
        hit = self._encoded.get(id(verdict))
        if hit is not None and hit[0] is verdict:
            return hit[1]
        data = json.dumps(verdict, separators=(",", ":")).encode()
        if len(self._encoded) > 50_000:
            self._encoded.clear()
        self._encoded[id(verdict)] = (verdict, data)
        return data

    def _check(self, body: bytes) -> bytes:
        from ..plan.checker import check_plan
        from ..plan.planfile import parse_plan
        from ..plan.report import render
        from ..yamlio import loads_yaml

        try:
            doc = loads_yaml(body, "body")
            _refuse_files(doc, "body")
            plan = parse_plan(doc, "body")
            report = check_plan(plan, self.engine.rs)
        except SeoibError as err:
            raise _Refusal(400, err.message, str(err.location or "body")) from None
        return render(report, "json", "warn").encode()

    def _reload(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            changed = self.reload()
        except SeoibError as err:
            self.event("reload-refused", error=_error_fields(err))
            return 400, json.dumps({"error": _error_fields(err)}).encode(), _JSON
        if changed and os.environ.get("SEOIB_SERVE_SUPERVISOR") == str(os.getppid()):
            import signal

            os.kill(os.getppid(), signal.SIGHUP)  # the other workers swap too
        self.event("reload", changed=changed, digest=self.engine.rs.digest)
        return 200, json.dumps({"reloaded": changed, "rules": self.rules_info()}).encode(), _JSON

    def _error(self, message: str, location: str) -> bytes:
        return json.dumps({"error": {"message": message, "location": location}}).encode()


async def _stop_when_orphaned(parent: int) -> None:
    """A worker whose supervisor died (even by SIGKILL) stops instead of serving on alone."""
    import signal

    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _error_fields(err: SeoibError) -> dict[str, Any]:
    out: dict[str, Any] = {"message": err.message, "location": str(err.location or "rules")}
    more = getattr(err, "more", None)
    if more:
        out["problems"] = [f"{loc}: {msg}" if loc else msg for loc, msg in more]
    return out
