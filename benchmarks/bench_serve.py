"""The decision service under load: throughput, p99 latency, memory, reload under load.

Targets: >= 4,000 requests/s on cached classes with p99 <= 10 ms, load generator
and server on the same machine against 127.0.0.1; worker memory flat over the
run; a reload (SIGHUP with a changed rule set) in the middle loses no request.

The load generator is asyncio (uvloop when installed) on keep-alive connections
with prebuilt requests, so it costs far less than the server per request.
Bounded: ``--requests`` in total and ``--seconds`` at most.

Run: python benchmarks/bench_serve.py [--requests N] [--connections C] [--seconds S]
(``--requests 1000000`` for the memory check: RSS is sampled every ``--segment``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import random_queries

from seoib.paths import builtin_rules_dir
from seoib.rules.ruleset import load_rules


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(port: int, body: bytes) -> bytes:
    return (b"POST /v1/policy HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (port, len(body))) + body


async def _connection(port: int, requests: list[bytes], budget: list[int], deadline: float,
                      latencies: list[float], statuses: dict[int, int], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            req = requests[i % len(requests)]
            i += 1
            t = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port: int, requests: list[bytes], total: int, connections: int,
                seconds: float) -> tuple[float, list[float], dict[int, int]]:
    budget = [total]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    results = await asyncio.gather(*(
        _connection(port, requests, budget, deadline, latencies, statuses, k * 7)
        for k in range(connections)), return_exceptions=True)
    took = time.perf_counter() - start
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        statuses[-1] = len(failed)  # a connection that broke: requests lost
    return took, latencies, statuses


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _workers(server: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--segment", type=int, default=100_000, help="requests between memory samples")
    ap.add_argument("--reload-requests", type=int, default=30_000)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    rs = load_rules()
    bodies = [json.dumps(q).encode() for q in random_queries(rs, 256, seed=3)]
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(builtin_rules_dir(), rules)
        port = _free_port()
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        server = subprocess.Popen([sys.executable, "-m", "seoib", "serve", "--port", str(port),
                                   "--workers", str(args.workers), "--rules", str(rules),
                                   "--no-access-log"], env=env, stderr=subprocess.PIPE)
        try:
            requests = [_request(port, b) for b in bodies]
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # Warm every worker's classes: the target is for cached classes.
            asyncio.run(_load(port, requests, len(requests) * 8, 8, 60))
            workers = _workers(server.pid)
            rss = [_rss_kb(workers)]
            steady: list[float] = []
            statuses: dict[int, int] = {}
            took = 0.0
            segment = max(1, min(args.segment, args.requests))
            began = time.perf_counter()
            while len(steady) < args.requests and time.perf_counter() - began < args.seconds:
                t, lat, st = asyncio.run(_load(port, requests, min(segment, args.requests - len(steady)),
                                               args.connections, args.seconds))
                took += t
                steady += lat
                for k, v in st.items():
                    statuses[k] = statuses.get(k, 0) + v
                rss.append(_rss_kb(workers))
            done = len(steady)
            steady.sort()
            print(f"service, steady: {done:,} requests in {took:.2f} s = {done / took:,.0f} req/s "
                  f"({args.connections} connections, {len(workers)} workers); latency p50 "
                  f"{statistics.median(steady) * 1e3:.2f} ms, p99 "
                  f"{steady[int(0.99 * (done - 1))] * 1e3:.2f} ms (targets >= 4,000 req/s, "
                  f"p99 <= 10 ms); statuses {statuses}")
            print("worker RSS (MiB) after each segment of "
                  f"{segment:,}: {' '.join(f'{kb / 1024:.1f}' for kb in rss)}")

            def reload_midway() -> None:
                time.sleep(1.0)
                with (rules / "policies.yaml").open("a") as fh:
                    fh.write("\n# changed while serving\n")
                server.send_signal(signal.SIGHUP)

            import threading

            reloader = threading.Thread(target=reload_midway)
            reloader.start()
            t, lat, st = asyncio.run(_load(port, requests, args.reload_requests, args.connections,
                                           args.seconds))
            reloader.join()
            lat.sort()
            print(f"reload under load: {len(lat):,} requests in {t:.2f} s, statuses {st} "
                  f"(anything but 200 is a lost request); p99 {lat[int(0.99 * (len(lat) - 1))] * 1e3:.2f} ms")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                _, err = server.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                _, err = server.communicate()
        events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
        print("reload events:", [e["event"] for e in events if "reload" in e.get("event", "")])


if __name__ == "__main__":
    main()
