"""The decision service as a plain ASGI application (no framework on the hot path).

Routes (bodies and answers are the CLI's JSON, see ``openapi.json``):

- ``POST /v1/policy``, ``POST /v1/migrate``: one batch line (an object) or a
  list of them; an object answers its verdict, a list a list of verdicts with
  ``{"error": ...}`` in place of a bad item. ``?view=compact`` answers compact
  verdicts (:mod:`seoib.query.compact`), ``&explain=true`` with their reasons.
- ``POST /v1/check``: a rollout plan (JSON or YAML) -> the ``seoib check`` report.
- ``POST /v1/reload`` and ``GET /v1/rules`` (admin): load the rule set again (a bad
  one is refused with its file:line and the old one keeps serving); the digest and
  sources of the rules in service.
- ``GET /healthz`` and ``GET /livez`` (liveness), ``GET /readyz`` (readiness: rules
  loaded and not stopping), ``GET /metrics`` (Prometheus), ``GET /openapi.json``.

Budgets: every request has ``request_seconds``. Cheap work (a probe, a single
verdict, a short list) runs in the event loop, bounded by the body caps and the
spec length; anything whose cost grows with its body (a plan, a list of more
than ``inline_items`` or a body over ``inline_bytes``, a reload) runs in a job
process (:mod:`seoib.serve.jobs`) that is killed at the time budget (503) and
meets MemoryError past the memory budget (413). Bodies are capped per content
type (413), must arrive within the budget (408), and must be JSON or YAML (415).
Every refusal is JSON ``{"error": {"message", "location"}}``. No answer names a
file of the server: rule directories are named ``built-in`` or ``site-N``.

The rule set is swapped by one assignment: a request in flight finishes on the
engine it started with.
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
from ..memo import SizedMemo
from ..query.api import Engine
from ..query.batch import answer, error_object
from ..query.compact import compact, rule_ids
from ..rules.ruleset import RuleSet, load_rules
from .exposure import Tokens
from .redact import public_names, scrub
from .requests import JSONISH_TYPES, YAML_TYPES, Headers, Refusal, header, media, refuse_files, view_options

__all__ = ["Limits", "Service"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Limits:
    """Request limits and budgets; the defaults suit a scheduler asking one placement at a time."""

    def __init__(self, max_body: int = 1 << 20, max_yaml_body: int = 256 << 10, max_items: int = 10_000,
                 body_seconds: float = 10.0, request_seconds: float = 10.0,
                 request_memory: int = 512 << 20, inline_items: int = 16,
                 inline_bytes: int = 64 << 10, jobs: int = 1) -> None:
        self.max_body = max_body
        self.max_yaml_body = max_yaml_body
        self.max_items = max_items
        self.body_seconds = body_seconds
        self.request_seconds = request_seconds
        self.request_memory = request_memory
        self.inline_items = inline_items
        self.inline_bytes = inline_bytes
        self.jobs = jobs


_JSON: Headers = [(b"content-type", b"application/json")]
_PUBLIC = frozenset({"/healthz", "/livez", "/readyz"})  # probes answer without a token
_ADMIN = frozenset({"/v1/reload", "/v1/rules"})
_ROUTES = {
    ("POST", "/v1/policy"), ("POST", "/v1/migrate"), ("POST", "/v1/check"), ("POST", "/v1/reload"),
    ("GET", "/v1/rules"), ("GET", "/healthz"), ("GET", "/livez"), ("GET", "/readyz"),
    ("GET", "/metrics"), ("GET", "/openapi.json"),
}
_PATHS = {path for _, path in _ROUTES}
class Service:
    """One worker's view: the current engine, limits, tokens, logs and metrics."""

    def __init__(self, rules: Any, rs: RuleSet, *, limits: Limits | None = None,
                 tokens: Tokens | None = None, loopback: bool = True, access_log: bool = False,
                 decision_log: str | None = None, log: Callable[[str], Any] | None = None) -> None:
        self.rules = rules
        self.limits = limits or Limits()
        self.tokens = tokens or Tokens()
        self.loopback = loopback
        self.access_log = access_log
        self.decision_log_path = decision_log
        self.log = log or sys.stderr.write
        self.metrics: Any = None  # ServiceMetrics, built in the worker (bind)
        self.decisions: Any = None
        self.jobs: Any = None
        self.ready = False
        self._openapi: bytes | None = None
        self._heartbeat: Callable[[], None] | None = None
        self._busy = 0  # requests in flight in this worker
        self.body_guarded = False  # True when the connections time their bodies (the workers')
        self._swap(rs)

    def _swap(self, rs: RuleSet) -> None:
        # One assignment: in-flight requests keep the old engine. Its memos hold 16 MiB at most,
        # the encoded answers 4 MiB: a worker stays flat under endless distinct texts.
        self.engine = Engine(rs, memo_bytes=16 << 20)
        self.labels = public_names(rs)
        self.public_rules = {"root": ", ".join(dict.fromkeys(name for _, name in self.labels)),
                             "digest": rs.digest}
        self.rule_ids = rule_ids(rs)
        self._encoded: SizedMemo[tuple[int, int], tuple[Any, bytes]] = SizedMemo(4 << 20, _encoded_cost)
        # (route, view, body) -> (verdict, request, answer): a repeated question skips parsing,
        # checking and encoding (a scheduler asks the same placement again and again)
        self._answers: SizedMemo[tuple[str, int, bytes], tuple[Any, Any, bytes]] = \
            SizedMemo(4 << 20, _answer_cost)
        if self.metrics is not None:
            self.metrics.rules(rs.digest)

    def bind(self, heartbeat: Callable[[], None] | None = None) -> None:
        """In the worker, after the fork: metrics, decision log and the job pool of its own."""
        from .jobs import JobPool
        from .metrics import ServiceMetrics

        self.metrics = ServiceMetrics()
        self.metrics.rules(self.engine.rs.digest)
        if self.decision_log_path:
            from .decisions import DecisionLog

            self.decisions = DecisionLog(self.decision_log_path)
        self.jobs = JobPool(self._job, size=self.limits.jobs, memory=self.limits.request_memory)
        self._heartbeat = heartbeat

    # --- rules ---------------------------------------------------------------------------

    def rules_info(self) -> dict[str, Any]:
        rs = self.engine.rs
        return {"digest": rs.digest, "sources": list(dict.fromkeys(name for _, name in self.labels)),
                "queries": sorted(rs.queries)}

    def reload(self) -> bool:
        """Load the rules again and swap them in; SeoibError (old rules kept) when bad."""
        rs = load_rules(self.rules)
        if rs is self.engine.rs or rs.digest == self.engine.rs.digest:
            return False
        self._swap(rs)
        if self.jobs is not None:
            self.jobs.renew()
        return True

    def reload_quietly(self) -> None:
        """SIGUSR1 from the supervisor (which loaded and cached the new rules): swap, or log
        the refusal and keep serving."""
        self._reopen()
        try:
            changed = self.reload()
            self.event("reload", changed=changed, digest=self.engine.rs.digest)
        except SeoibError as err:
            self.event("reload-refused", error=_error_fields(err))

    def _reopen(self) -> None:
        """On reload: the decision log again (rotation) and the token file again (rotation)."""
        if self.decisions is not None:
            try:
                self.decisions.open()
            except OSError as exc:
                self.event("decision-log-failed", error=exc.strerror or str(exc))
        if self.tokens.source:
            from .exposure import load_tokens

            try:
                self.tokens = load_tokens(self.tokens.source)
            except SeoibError as err:
                self.event("token-file-refused", error=str(err))

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
        metrics = self.metrics
        extra: Headers = []
        self._in_flight(1)
        try:
            status, body, headers = await self._dispatch(method, path, scope, receive, extra)
        except Refusal as r:
            status, body, headers = r.status, self._error(r.message, r.location), _JSON + r.headers
            if metrics is not None and r.reason:
                metrics.refused(r.reason)
        except Exception as exc:  # a bug: report it as one, never as a verdict
            self.event("internal-error", error=f"{type(exc).__name__}: {exc}", path=path)
            status = 500
            body, headers = self._error("internal error (see the service log)", path), _JSON
        finally:
            self._in_flight(-1)
        # Counted before the answer leaves, so a client that reads /metrics next sees it.
        took = time.perf_counter() - start
        route = path if path in _PATHS else "other"
        if metrics is not None:
            metrics.request(route, status, took)
        if self.access_log:
            client = scope.get("client") or ("", 0)
            self.log(json.dumps({"ts": round(time.time(), 3), "pid": os.getpid(), "client": client[0],
                                 "method": method, "path": route, "status": status,
                                 "ms": round(took * 1e3, 3), "bytes": len(body)}) + "\n")
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, *extra, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _in_flight(self, step: int) -> None:
        # A plain count, written to the shared gauge by the heartbeat and at a scrape: a
        # multiprocess gauge write per request cost half as much as the request's own metrics.
        self._busy += step

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                import signal

                loop = asyncio.get_running_loop()
                # The supervisor asks every worker to reload with SIGUSR1.
                loop.add_signal_handler(signal.SIGUSR1, self.reload_quietly)
                loop.add_signal_handler(signal.SIGUSR2, self._reopen)
                self._tasks = [asyncio.ensure_future(_stop_when_orphaned(os.getppid())),
                               asyncio.ensure_future(self._beat())]
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                if self.jobs is not None:
                    self.jobs.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _beat(self) -> None:
        """Tell the supervisor the loop turns (it replaces a worker whose loop stalls), and
        sample this process's figures for /metrics now and then."""
        n = 0
        while True:
            if self._heartbeat is not None:
                self._heartbeat()
            if self.metrics is not None:
                self.metrics.in_flight.set(self._busy)
            n += 1
            if n % 10 == 0 and self.metrics is not None:
                self.metrics.sample_process()
            await asyncio.sleep(0.5)

    def _authorize(self, path: str, scope: dict[str, Any]) -> None:
        if path in _PUBLIC:
            return
        if self.tokens:
            if not self.tokens.allows(header(scope.get("headers", ()), b"authorization")):
                raise Refusal(401, "this route needs Authorization: Bearer <token>", "authorization",
                              [(b"www-authenticate", b'Bearer realm="seoib"')], "authentication")
        elif path in _ADMIN and not self.loopback:
            raise Refusal(403, f"{path} is an admin route: start the service with --token-file (or "
                          "SEOIB_SERVE_TOKEN) to use it off this machine", path, reason="authentication")

    async def _dispatch(self, method: str, path: str, scope: dict[str, Any], receive: Receive,
                        extra: Headers) -> tuple[int, bytes, Headers]:
        if (method, path) not in _ROUTES:
            if path in _PATHS:
                raise Refusal(405, f"{method} is not allowed on {path}", path)
            raise Refusal(404, f"no such resource {path}", path)
        self._authorize(path, scope)
        if method == "GET":
            return self._get(path)
        headers = scope.get("headers", [])
        body = await self._body(headers, receive, path)
        if path == "/v1/reload":
            return await self._reload()
        if path == "/v1/check":
            return await self._check(body, scope, extra)
        compact_view, explain = view_options(scope.get("query_string", b""))
        return await self._decide(path[4:], body, compact_view, explain, scope, extra)

    def _get(self, path: str) -> tuple[int, bytes, Headers]:
        if path in ("/healthz", "/livez"):
            return 200, json.dumps({"status": "ok", "rules": self.engine.rs.digest}).encode(), _JSON
        if path == "/readyz":
            if not self.ready:
                return 503, json.dumps({"status": "stopping"}).encode(), _JSON
            return 200, json.dumps({"status": "ready", "rules": self.engine.rs.digest}).encode(), _JSON
        if path == "/v1/rules":
            return 200, json.dumps(self.rules_info()).encode(), _JSON
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST

            self.metrics.in_flight.set(self._busy)
            return 200, self.metrics.render(), [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        if self._openapi is None:
            from .openapi import document

            self._openapi = json.dumps(document()).encode()
        return 200, self._openapi, _JSON

    async def _body(self, headers: Headers, receive: Receive, path: str) -> bytes:
        kind = media(headers)
        if kind in YAML_TYPES and path == "/v1/check":
            limit = self.limits.max_yaml_body
        elif kind in JSONISH_TYPES or kind.endswith(b"+json") or path == "/v1/reload":
            limit = self.limits.max_body
        else:
            raise Refusal(415, f"content type {kind.decode('latin-1')!r} is not accepted here "
                          "(application/json" + (", application/yaml" if path == "/v1/check" else "")
                          + ")", "content-type", reason="content-type")
        length = header(headers, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise Refusal(413, f"request body is larger than {limit} bytes", reason="body-size")
        chunks: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Refusal(400, "the client went away before the body arrived")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise Refusal(413, f"request body is larger than {limit} bytes", reason="body-size")
                chunks.append(chunk)
                more = message.get("more_body", False)

        if self.body_guarded:  # the connection's protocol answers 408 (seoib.serve.protocol)
            await read()
        else:
            try:
                if sys.version_info >= (3, 11):
                    async with asyncio.timeout(self.limits.body_seconds):  # no extra task
                        await read()
                else:
                    await asyncio.wait_for(read(), self.limits.body_seconds)
            except asyncio.TimeoutError:
                raise Refusal(408, f"the body did not arrive within {self.limits.body_seconds:g} s",
                              reason="body-timeout") from None
        return b"".join(chunks)

    # --- decisions -----------------------------------------------------------------------

    @staticmethod
    def _parse(body: bytes) -> Any:
        from ..errors import Location
        from ..files import loads_json

        try:
            return loads_json(body, Location("body"))
        except SeoibError as err:
            raise Refusal(400, err.message, str(err.location or "body")) from None

    async def _decide(self, kind: str, body: bytes, compact_view: bool, explain: bool,
                      scope: dict[str, Any], extra: Headers) -> tuple[int, bytes, Headers]:
        start = time.perf_counter_ns()
        view = 2 if explain else 1 if compact_view else 0
        known = self._answers.get((kind, view, body))
        if known is not None:
            verdict, doc, data = known
            if self.metrics is not None:
                self.metrics.verdict(kind, verdict)
            if self.decisions is not None:
                self._decided(kind, doc, compact(verdict, self.rule_ids), 200, scope, extra, start)
            return 200, data, _JSON
        if len(body) > self.limits.inline_bytes:
            doc = None  # parsed by the job process
        else:
            doc = self._parse(body)
            refuse_files(doc, "body")
        if doc is None or (isinstance(doc, list) and len(doc) > self.limits.inline_items):
            status, out = await self._run_job({"op": "decide", "kind": kind, "compact": compact_view,
                                               "explain": explain}, body)
            if status != 200:
                return status, out, _JSON
            if self.decisions is not None or self.metrics is not None:
                self._after_list(kind, out, compact_view, body, scope, extra, start)
            return status, out, _JSON
        engine = self.engine  # the whole request runs on one rule set
        if isinstance(doc, list):
            if len(doc) > self.limits.max_items:
                raise Refusal(400, f"more than {self.limits.max_items} items in one request")
            verdicts = [self._one(engine, kind, item, f"body[{i}]") for i, item in enumerate(doc)]
            for v in verdicts:
                if self.metrics is not None:
                    self.metrics.verdict(kind, v)
            shown = [self._view(v, compact_view, explain) for v in verdicts]
            if self.decisions is not None:
                self._decided(kind, doc, [compact(v, self.rule_ids) for v in verdicts], 200, scope,
                              extra, start)
            return 200, json.dumps(shown, separators=(",", ":")).encode(), _JSON
        try:
            verdict = answer(engine, kind, doc, allow_files=False)
        except SeoibError as err:
            if self.metrics is not None:
                self.metrics.verdict(kind, {"error": True})
            raise Refusal(400, str(err), "body") from None
        if self.metrics is not None:
            self.metrics.verdict(kind, verdict)
        if self.decisions is not None:
            self._decided(kind, doc, compact(verdict, self.rule_ids), 200, scope, extra, start)
        data = self._encode(verdict, view)
        self._answers.put((kind, view, body), (verdict, doc, data))
        return 200, data, _JSON

    @staticmethod
    def _one(engine: Engine, kind: str, item: Any, where: str) -> dict[str, Any]:
        try:
            return answer(engine, kind, item, allow_files=False)
        except SeoibError as err:
            return error_object(err, where)

    def _view(self, verdict: dict[str, Any], compact_view: bool, explain: bool) -> Any:
        if compact_view:
            return compact(verdict, self.rule_ids, explain=explain)
        if "rules" in verdict:
            return {**verdict, "rules": self.public_rules}
        return verdict

    def _encode(self, verdict: dict[str, Any], view: int = 0) -> bytes:
        """A repeated question gets the same verdict object: encode it once per view (0 whole,
        its rule directory named publicly; 1 compact; 2 compact with reasons)."""
        hit = self._encoded.get((id(verdict), view))
        if hit is not None and hit[0] is verdict:
            return hit[1]
        shown = self._view(verdict, view > 0, view == 2)
        data = json.dumps(shown, separators=(",", ":")).encode()
        self._encoded.put((id(verdict), view), (verdict, data))
        return data

    def _after_list(self, kind: str, out: bytes, compact_view: bool, body: bytes,
                    scope: dict[str, Any], extra: Headers, start: int) -> None:
        """Metrics and the decision record of a list answered by a job process."""
        try:
            verdicts = json.loads(out)
        except ValueError:
            return
        if not isinstance(verdicts, list):
            verdicts = [verdicts]
        for v in verdicts:
            if self.metrics is not None and isinstance(v, dict):
                self.metrics.verdict(kind, v if "error" in v or "severity" in v else {"error": True})
        if self.decisions is not None:
            short = verdicts if compact_view else [compact(v, self.rule_ids) for v in verdicts]
            self._decided(kind, self._parse(body), short, 200, scope, extra, start)

    def _decided(self, path: str, given: Any, result: Any, status: int, scope: dict[str, Any],
                 extra: Headers, start: int) -> None:
        if self.decisions is None:
            return
        from .. import __version__

        decision_id = self.decisions.new_id()
        client = scope.get("client") or ("", 0)
        ok = self.decisions.write(decision_id, {
            "path": f"/v1/{path}", "requested_by": f"{client[0]}:{client[1]}", "status": status,
            "rules": self.engine.rs.digest, "labels": {"version": __version__, "pid": os.getpid()},
            "input": given, "result": result,
            "metrics": {"timer_server_ns": time.perf_counter_ns() - start}})
        if ok:
            extra.append((b"x-seoib-decision-id", decision_id.encode()))
        elif self.metrics is not None:
            self.metrics.log_errors.inc()

    # --- work in a job process -----------------------------------------------------------

    async def _run_job(self, meta: dict[str, Any], body: bytes) -> tuple[int, bytes]:
        from .jobs import JobFailed

        if self.jobs is None:  # not bound to a worker (in-process use): run it here
            return self._job(meta, body)
        try:
            return await self.jobs.run(meta, body, self.limits.request_seconds)
        except JobFailed as failed:
            raise Refusal(failed.status, failed.message,
                          reason="memory" if failed.status == 413 else "time") from None

    def _job(self, meta: dict[str, Any], body: bytes) -> tuple[int, bytes]:
        """In the job process: one heavy request, answered as (status, body)."""
        try:
            op = meta["op"]
            if op == "decide":
                return 200, self._decide_list(meta, body)
            if op == "check":
                return 200, self._check_plan(body)
            if op == "validate":
                rs = load_rules(self.rules)
                return 200, json.dumps({"digest": rs.digest}).encode()
            raise Refusal(500, f"unknown job {op!r}")
        except Refusal as r:
            return r.status, self._error(r.message, r.location)
        except SeoibError as err:
            if meta.get("op") == "validate":
                return 400, json.dumps({"error": scrub(_error_fields(err), self.labels)}).encode()
            return 400, self._error(scrub(err.message, self.labels),
                                    scrub(str(err.location or "body"), self.labels))
        except RecursionError:
            return 400, self._error("the input is nested too deeply", "body")

    def _decide_list(self, meta: dict[str, Any], body: bytes) -> bytes:
        doc = self._parse(body)
        refuse_files(doc, "body")
        kind, compact_view, explain = meta["kind"], meta["compact"], meta["explain"]
        engine = self.engine
        if not isinstance(doc, list):
            try:
                verdict = answer(engine, kind, doc, allow_files=False)
            except SeoibError as err:
                raise Refusal(400, str(err), "body") from None
            return json.dumps(self._view(verdict, compact_view, explain), separators=(",", ":")).encode()
        if len(doc) > self.limits.max_items:
            raise Refusal(400, f"more than {self.limits.max_items} items in one request")
        out = [self._view(self._one(engine, kind, item, f"body[{i}]"), compact_view, explain)
               for i, item in enumerate(doc)]
        return json.dumps(out, separators=(",", ":")).encode()

    def _check_plan(self, body: bytes) -> bytes:
        from ..plan.checker import check_plan
        from ..plan.planfile import parse_plan
        from ..plan.report import render
        from ..yamlio import loads_yaml

        try:
            doc = loads_yaml(body, "body")
            refuse_files(doc, "body")
            plan = parse_plan(doc, "body")
            report = check_plan(plan, self.engine.rs)
        except SeoibError as err:
            raise Refusal(400, scrub(err.message, self.labels),
                          scrub(str(err.location or "body"), self.labels)) from None
        return json.dumps(scrub(json.loads(render(report, "json", "warn")), self.labels)).encode()

    async def _check(self, body: bytes, scope: dict[str, Any], extra: Headers
                     ) -> tuple[int, bytes, Headers]:
        start = time.perf_counter_ns()
        status, out = await self._run_job({"op": "check"}, body)
        if status == 200 and self.decisions is not None:
            import hashlib

            try:
                summary = json.loads(out).get("summary")
            except (ValueError, AttributeError):
                summary = None
            self._decided("check", {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)},
                          summary, status, scope, extra, start)
        return status, out, _JSON

    async def _reload(self) -> tuple[int, bytes, Headers]:
        # The rule set is loaded (and checked, and cached) in a job process within the budget;
        # this worker then reads it from the cache.
        self._reopen()
        status, out = await self._run_job({"op": "validate"}, b"")
        if status != 200:
            self.event("reload-refused", error=json.loads(out).get("error"))
            if self.metrics is not None:
                self.metrics.reloads.labels("refused").inc()
            return status, out, _JSON
        try:
            changed = self.reload()
        except SeoibError as err:
            self.event("reload-refused", error=_error_fields(err))
            if self.metrics is not None:
                self.metrics.reloads.labels("refused").inc()
            return 400, json.dumps({"error": scrub(_error_fields(err), self.labels)}).encode(), _JSON
        if self.metrics is not None:
            self.metrics.reloads.labels("changed" if changed else "unchanged").inc()
        if changed and os.environ.get("SEOIB_SERVE_SUPERVISOR") == str(os.getppid()):
            import signal

            os.kill(os.getppid(), signal.SIGHUP)  # the other workers swap too
        self.event("reload", changed=changed, digest=self.engine.rs.digest)
        return 200, json.dumps({"reloaded": changed, "rules": self.rules_info()}).encode(), _JSON

    @staticmethod
    def _error(message: str, location: str) -> bytes:
        return json.dumps({"error": {"message": message, "location": location}}).encode()


def _encoded_cost(key: tuple[int, int], value: tuple[Any, bytes]) -> int:
    return 200 + len(value[1])


def _answer_cost(key: tuple[str, int, bytes], value: tuple[Any, Any, bytes]) -> int:
    return 400 + 2 * len(key[2]) + len(value[2])  # the body twice: as bytes and as parsed


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
