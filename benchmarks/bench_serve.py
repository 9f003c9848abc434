"""The decision service under load: throughput, p99 latency, memory over distinct texts, reload.

Targets (a quiet machine): >= 20,000 requests/s with p99 <= 5 ms at 16 connections
on cached classes; worker memory flat within 50 MiB over 50,000 DISTINCT spec texts
(names, key order, release points: what real traffic sends); a reload (SIGHUP with a
changed rule set) in the middle loses no request.

Every figure is printed beside a same-run baseline, so a reader sees ratios on a
shared machine: the compact view and the access log against the default full view
without it, distinct texts against repeated ones, and the load average.

The load generator is asyncio (uvloop when installed) on keep-alive connections
with prebuilt requests, so it costs far less than the server per request.

Run: python benchmarks/bench_serve.py [--requests N] [--distinct N] [--connections C]
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


def _request(port: int, body: bytes, path: bytes = b"/v1/policy") -> bytes:
    return (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (path, port, len(body))) + body


def distinct_bodies(queries: list[dict[str, str]], n: int, seed: int = 5) -> list[bytes]:
    """``n`` distinct request texts over the same questions, as real traffic varies them: a
    host or VM name per request, keys in another order, specs as strings or objects."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        q = queries[i % len(queries)]
        host = [*q["host"].split(","), f"name=node-{i:06d}.rack{i % 97}.example"]
        vm = q["vm"].split(",") + ([f"name=vm-{i}"] if rng.random() < 0.5 else [])
        rng.shuffle(host)
        rng.shuffle(vm)
        if rng.random() < 0.3:
            line: dict[str, object] = {"vm": ",".join(vm),
                                       "host": dict(item.split("=", 1) for item in host)}
        else:
            line = {"host": ",".join(host), "vm": ",".join(vm)}
        out.append(json.dumps(line).encode())
    return out


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


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes used so far (/proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def _cpu_line(workers: list[int], requests: int, work: float, generator: float) -> str:
    """The service's own CPU per request, beside the load generator's: on a machine whose
    cores both share, the throughput the workers alone could give is cores / that figure."""
    per = work / max(requests, 1) * 1e6
    cores = os.cpu_count() or 1
    return (f"  CPU per request: workers {per:.0f} us, load generator "
            f"{generator / max(requests, 1) * 1e6:.0f} us (the workers alone on {cores} cores: "
            f"~{cores / (per / 1e6):,.0f} req/s)" if per else "  CPU per request: not measured")


def _workers(server: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def _start(rules: Path, tmp: str, workers: int, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
    log = (Path(tmp) / f"serve-{port}.log").open("wb")  # a file: a full pipe would block the workers
    server = subprocess.Popen([sys.executable, "-m", "seoib", "serve", "--port", str(port),
                               "--workers", str(workers), "--rules", str(rules), *extra],
                              env=env, stderr=log)
    server.log = log.name  # type: ignore[attr-defined]
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, port


def _stop(server: subprocess.Popen[bytes]) -> bytes:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return Path(server.log).read_bytes()  # type: ignore[attr-defined]


def _measure(port: int, requests: list[bytes], total: int, connections: int, seconds: float
             ) -> tuple[float, float, float, dict[int, int]]:
    """(requests/s, p50 ms, p99 ms, statuses) of ``total`` requests."""
    took, lat, statuses = asyncio.run(_load(port, requests, total, connections, seconds))
    lat.sort()
    if not lat:
        return 0.0, 0.0, 0.0, statuses
    return (len(lat) / took, statistics.median(lat) * 1e3, lat[int(0.99 * (len(lat) - 1))] * 1e3,
            statuses)


def _line(name: str, figures: tuple[float, float, float, dict[int, int]],
          base: tuple[float, float, float, dict[int, int]] | None = None) -> str:
    rate, p50, p99, statuses = figures
    text = f"{name:<34} {rate:>8,.0f} req/s  p50 {p50:5.2f} ms  p99 {p99:6.2f} ms  statuses {statuses}"
    if base is not None and base[0]:
        text += f"  ({rate / base[0]:.2f}x the throughput, p99 {p99 / base[2]:.2f}x)"
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000, help="requests per steady phase")
    ap.add_argument("--distinct", type=int, default=50_000, help="distinct spec texts for the memory check")
    ap.add_argument("--connections", type=int, default=16)
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
    queries = random_queries(rs, 256, seed=3)
    bodies = [json.dumps(q).encode() for q in queries]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores; the load generator shares them with the service)")
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(builtin_rules_dir(), rules)
        server, port = _start(rules, tmp, args.workers)
        try:
            full = [_request(port, b) for b in bodies]
            compact = [_request(port, b, b"/v1/policy?view=compact") for b in bodies]
            # Warm every worker's classes: the throughput target is for cached classes.
            _measure(port, full, len(full) * 8, 8, 60)
            workers = _workers(server.pid)
            cpu, own = _cpu_seconds(workers), time.process_time()
            base = _measure(port, full, args.requests, args.connections, args.seconds)
            print(_line("full verdicts, repeated texts", base))
            print(_cpu_line(workers, sum(base[3].values()), _cpu_seconds(workers) - cpu,
                            time.process_time() - own))
            cpu, own = _cpu_seconds(workers), time.process_time()
            figures = _measure(port, compact, args.requests, args.connections, args.seconds)
            print(_line("compact verdicts (?view=compact)", figures, base))
            print(_cpu_line(workers, sum(figures[3].values()), _cpu_seconds(workers) - cpu,
                            time.process_time() - own))

            distinct = [_request(port, b) for b in distinct_bodies(queries, args.distinct)]
            before = _rss_kb(workers)
            figures = _measure(port, distinct, len(distinct), args.connections, args.seconds)
            after = _rss_kb(workers)
            print(_line(f"{len(distinct):,} distinct spec texts", figures, base))
            print(f"worker RSS over {len(distinct):,} distinct texts ({len(workers)} workers together): "
                  f"{before / 1024:.1f} -> {after / 1024:.1f} MiB ({(after - before) / 1024:+.1f} MiB; "
                  "target: within 50 MiB)")
            again = _measure(port, distinct, len(distinct), args.connections, args.seconds)
            print(f"worker RSS after the same texts again: {_rss_kb(workers) / 1024:.1f} MiB "
                  f"({again[0]:,.0f} req/s)")

            def reload_midway() -> None:
                time.sleep(1.0)
                with (rules / "policies.yaml").open("a") as fh:
                    fh.write("\n# changed while serving\n")
                server.send_signal(signal.SIGHUP)

            import threading

            reloader = threading.Thread(target=reload_midway)
            reloader.start()
            figures = _measure(port, full, args.reload_requests, args.connections, args.seconds)
            reloader.join()
            print(_line("reload under load", figures) + " (anything but 200 is a lost request)")
        finally:
            err = _stop(server)
        events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
        print("reload events:", [e["event"] for e in events if "reload" in e.get("event", "")])

        server, port = _start(rules, tmp, args.workers, "--access-log")
        try:
            full = [_request(port, b) for b in bodies]
            _measure(port, full, len(full) * 8, 8, 60)
            print(_line("full verdicts with --access-log", _measure(
                port, full, args.requests, args.connections, args.seconds), base))
        finally:
            _stop(server)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
