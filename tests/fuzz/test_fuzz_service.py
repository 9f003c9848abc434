"""Fuzzing the decision service over real sockets: bodies, headers, slow clients, concurrency.

One `seoib serve` (two workers, short budgets) takes, for SEOIB_FUZZ_SECONDS each
(default 4 s), requests built the hostile way over raw sockets:

- bodies: batch lines, lists and plans, mutated (bytes flipped, spans cut or
  repeated, hostile tokens, raw bytes), to every route, with mutated query strings;
- headers: random names and values, wrong or missing Content-Length and
  Content-Type, chunked bodies, bare LFs, NULs, oversized values;
- slow clients: requests trickled byte by byte, or stopped half-way;
- concurrency: all of the above from several threads at once.

Every answer must be an HTTP status the service documents, never 500, with a
JSON ``{"error": {"message", "location"}}`` body for a refusal; a connection may
also be closed (a refused connection or a timed-out header). Throughout,
``/healthz`` answers within 1 s. ``pytest -s`` prints the tally per target.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

SEED = int(os.environ.get("SEOIB_FUZZ_SEED", "12"))
SECONDS = float(os.environ.get("SEOIB_FUZZ_SECONDS", "4"))
ALLOWED = {200, 400, 401, 403, 404, 405, 408, 413, 415, 431, 503}
TOKENS = [b"\x00", b"\x1b[31m", b"\r\n", b"\n", b"\xff\xfe", "\u202e".encode(), b"9" * 5000, b"1e999",
          b"NaN", b"[" * 300, b"{" * 300, b'"', b"\\", b"@/etc/passwd", b"&a", b"*a",
          b"!!python/object:os.system", b"6.10", b"name=" + b"n" * 3000]
BODIES = [json.dumps({"host": "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "vm": "machine=q35,irqchip=split"}),
          json.dumps([{"host": {"kernel": "6.18.16", "qemu": "11.0.0"}, "vm": "machine=pc-q35-11.0"}] * 20),
          json.dumps({"src": "kernel=7.0.3,qemu=11.0.0", "dst": "kernel=6.18.16,qemu=11.0.0",
                      "vm": "machine=q35", "snapshot": True}),
          "hosts:\n  - {group: r, count: 4, kernel: 6.12.40, qemu: 10.2.0}\nvms:\n"
          "  - {group: w, count: 10, hosts: r, machine: pc-q35-10.2}\n"
          "rollout:\n  - {name: k, hosts: [r], set: {kernel: 7.0.3}}\n"]
ROUTES = ["/v1/policy", "/v1/migrate", "/v1/check", "/v1/reload", "/v1/rules", "/healthz", "/readyz",
          "/metrics", "/openapi.json", "/nowhere", "/v1/policy?view=compact", "/v1/policy?explain=1"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return rng.choice(TOKENS)
    i, j = sorted(rng.randrange(len(data) + 1) for _ in range(2))
    choice = rng.randrange(6)
    if choice == 0:
        return data[:i] + rng.choice(TOKENS) + data[i:]
    if choice == 1:
        return data[:i] + data[j:]
    if choice == 2:
        return data[:j] + data[i:j] * rng.randrange(2, 5) + data[j:]
    if choice == 3:
        return data[:i]
    if choice == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    return data


def exchange(port: int, raw: bytes, *, trickle: float = 0.0, timeout: float = 15.0) -> int | None:
    """Send ``raw``; the status of the answer (its body checked), or None if the service closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            if trickle:
                for k in range(0, len(raw), 7):
                    s.sendall(raw[k:k + 7])
                    time.sleep(trickle)
            else:
                s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # closed on us mid-send: a refusal
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert status in ALLOWED, data[:500]
    if status >= 400 and b"application/json" in head.lower() and not raw.startswith(b"HEAD "):
        err = json.loads(body[: int(_length(head))] if _length(head) else body)
        assert err["error"]["message"] and err["error"]["location"], body[:300]
    return status


def _length(head: bytes) -> int | None:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return None


def _request(rng: random.Random, port: int) -> bytes:
    path = rng.choice(ROUTES).encode()
    if rng.random() < 0.2:
        path = mutate(rng, path).replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b"")
    body = rng.choice(BODIES).encode()
    if rng.random() < 0.8:
        body = mutate(rng, body)
    method = rng.choice([b"POST", b"POST", b"GET", b"PUT", b"DELETE", b"HEAD"])
    kind = rng.choice([b"application/json", b"application/yaml", b"text/plain", b"image/png", None])
    headers = [b"Host: 127.0.0.1:%d" % port]
    if kind is not None:
        headers.append(b"Content-Type: " + kind)
    length = rng.choice(["right", "right", "right", "short", "long", "none", "chunked", "bad"])
    if length == "right":
        headers.append(b"Content-Length: %d" % len(body))
    elif length == "short":
        headers.append(b"Content-Length: %d" % max(0, len(body) - 5))
    elif length == "long":
        headers.append(b"Content-Length: %d" % (len(body) + 50))
    elif length == "bad":
        headers.append(b"Content-Length: " + rng.choice([b"-1", b"abc", b"9" * 30, b"1, 2"]))
    elif length == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        body = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    for _ in range(rng.randrange(3)):
        headers.append(mutate(rng, b"X-Fuzz: value").replace(b"\r\n", b""))
    if rng.random() < 0.05:
        headers.append(b"X-Big: " + b"a" * (20 << 10))
    if rng.random() < 0.1:
        headers.append(b"Authorization: Bearer " + mutate(rng, b"not-the-token"))
    sep = b"\n" if rng.random() < 0.05 else b"\r\n"
    return method + b" " + path + b" HTTP/1.1" + sep + sep.join(headers) + sep + sep + body


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("fuzz-serve")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "seoib", "serve", "--port", str(port), "--workers", "2",
                             "--request-seconds", "3", "--header-seconds", "1", "--idle-seconds", "1"],
                            stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")})
    try:
        for _ in range(600):
            try:
                if exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=2) == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the service did not come up")
        yield port
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        text = (tmp / "serve.log").read_text()
        assert "internal-error" not in text and "worker-failed" not in text, text[-3000:]


def _probing(port: int, body: Callable[[], None]) -> list[float]:
    """Run ``body`` while a thread times /healthz every 50 ms; the times."""
    stop, times = [False], []

    def probe() -> None:
        while not stop[0]:
            t = time.monotonic()
            status = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                              timeout=5)
            times.append(time.monotonic() - t if status == 200 else 99.0)
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        body()
    finally:
        stop[0] = True
        prober.join()
    return times


def _fuzz(port: int, name: str, threads: int, trickle: float = 0.0) -> Counter[str]:
    tally: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    end = time.monotonic() + SECONDS

    def worker(k: int) -> None:
        rng = random.Random(SEED * 1000 + k)
        while time.monotonic() < end and not failures:
            raw = _request(rng, port)
            try:
                status = exchange(port, raw, trickle=trickle * rng.random())
            except (AssertionError, ValueError, IndexError) as exc:
                failures.append(f"{exc!r} for {raw[:300]!r}")
                return
            with lock:
                tally["closed" if status is None else str(status)] += 1

    def run() -> None:
        pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    times = _probing(port, run)
    print(f"\nfuzz service {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
          + f"; /healthz max {max(times) * 1e3:.0f} ms over {len(times)} probes", file=sys.stderr)
    assert not failures, failures
    assert times and max(times) < 1.0, times
    assert "500" not in tally
    return tally


def test_bodies_and_headers(service: int) -> None:
    tally = _fuzz(service, "bodies and headers", threads=1)
    assert tally["200"] and tally["400"]


def test_concurrent_requests(service: int) -> None:
    _fuzz(service, "concurrent", threads=8)


def test_slow_clients(service: int) -> None:
    _fuzz(service, "slow clients", threads=6, trickle=0.05)
