"""The decision service, started for real on 127.0.0.1 and asked over HTTP.

Answers must be the CLI's JSON; bad requests are 400 with a location, never a
500; a bad rule set is refused with its file:line while the old one keeps
serving; a good one is swapped in by SIGHUP or POST /v1/reload.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn")

from seoib.errors import Location
from seoib.paths import builtin_rules_dir
from seoib.query.verdicts import policy_verdict
from seoib.rules.ruleset import RuleSet
from seoib.rules.specs import parse_host_spec, parse_vm_spec

HOST = "kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2"
VM = "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv"
DEADLINE = 60.0


class Server:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.proc, self.log = port, proc, log

    def request(self, method: str, path: str, body: bytes | str | None = None
                ) -> tuple[int, Any, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body)
            resp = conn.getresponse()
            data = resp.read()
            kind = resp.getheader("content-type", "")
        finally:
            conn.close()
        return resp.status, json.loads(data) if "json" in kind else data.decode(), kind

    def post(self, path: str, obj: Any) -> tuple[int, Any]:
        status, data, _ = self.request("POST", path, json.dumps(obj))
        return status, data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), copy)
    return copy


@pytest.fixture
def server(tmp_path: Path, rules_copy: Path) -> Iterator[Server]:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "seoib", "serve", "--port", str(port),
                                 "--workers", "2", "--rules", str(rules_copy)],
                                stdout=subprocess.DEVNULL, stderr=err, env=env)
    srv = Server(port, proc, log)
    try:
        start = time.monotonic()
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if srv.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() - start < DEADLINE, "the service did not come up"
            time.sleep(0.1)
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _cli_json(rules: RuleSet, host: str, vm: str) -> dict[str, Any]:
    h = rules.resolver.host(parse_host_spec(host, Location("host")))
    v = rules.resolver.vm(parse_vm_spec(vm, Location("vm")), h)
    return json.loads(json.dumps(policy_verdict(rules, h, v)))


def test_answers_are_the_cli_json(server: Server, rules_copy: Path) -> None:
    from seoib.rules.ruleset import load_rules

    rules = load_rules(rules_copy, use_cache=False)
    status, verdict = server.post("/v1/policy", {"host": HOST, "vm": VM})
    assert status == 200
    assert verdict == _cli_json(rules, HOST, VM)
    status, many = server.post("/v1/policy", [{"host": HOST, "vm": VM},
                                              {"host": HOST, "vm": "machine=nope"}])
    assert status == 200
    assert many[0] == verdict
    assert "unknown machine type" in many[1]["error"]["message"]
    assert many[1]["error"]["location"] == "body[1]"
    status, mig = server.post("/v1/migrate", {"src": "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2",
                                              "dst": HOST, "vm": "machine=pc-q35-11.0,irqchip=split"})
    assert status == 200 and mig["outcome"] == "dest-abort"


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/v1/policy", "{not json", "invalid JSON"),
    ("/v1/policy", json.dumps({"host": HOST, "vm": VM, "colour": "red"}), "unknown key 'colour'"),
    ("/v1/policy", json.dumps({"host": "@/etc/passwd", "vm": VM}), "@file"),
    ("/v1/migrate", json.dumps({"src": HOST, "vm": VM}), "missing key 'dst'"),
    ("/v1/policy", json.dumps({"host": "kernel=not-a-kernel,qemu=11.0.0", "vm": VM}), "kernel"),
    ("/v1/policy", "x" * (2 << 20), "larger than"),
    ("/v1/check", "hosts: [", "YAML"),
])
def test_bad_requests_are_400_with_a_location(server: Server, path: str, body: str, words: str) -> None:
    status, data, _ = server.request("POST", path, body)
    assert status == 400, data
    assert words in data["error"]["message"]
    assert data["error"]["location"]


def test_rules_health_metrics_openapi(server: Server, rules_copy: Path) -> None:
    status, info, _ = server.request("GET", "/v1/rules")
    assert status == 200 and info["sources"] == [str(rules_copy)] and len(info["digest"]) == 64
    server.post("/v1/policy", {"host": HOST, "vm": VM})
    status, text, kind = server.request("GET", "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    assert 'seoib_requests_total{route="/v1/policy",code="200"}' in text
    assert 'seoib_verdicts_total{command="policy",outcome="storm",severity="block"}' in text
    assert 'seoib_request_seconds_bucket{route="/v1/policy",le="+Inf"}' in text
    status, doc, _ = server.request("GET", "/openapi.json")
    assert status == 200 and "/v1/policy" in doc["paths"]
    assert server.request("GET", "/v1/policy")[0] == 405
    assert server.request("GET", "/nowhere")[0] == 404
    log = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert any(e.get("path") == "/v1/policy" and e.get("status") == 200 for e in log)


def _wait_for(predicate: Any, what: str) -> None:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < DEADLINE, what
        time.sleep(0.1)


def test_a_bad_rule_set_is_refused_and_a_good_one_swapped_in(server: Server,
                                                             rules_copy: Path) -> None:
    _, before = server.post("/v1/policy", {"host": HOST, "vm": VM})
    old_digest = before["rules"]["digest"]
    policies = rules_copy / "policies.yaml"
    good = policies.read_text()
    policies.write_text(good + "\n  - this is: [not valid\n")
    status, refused = server.post("/v1/reload", {})
    assert status == 400
    assert refused["error"]["location"].startswith(str(policies) + ":")
    server.proc.send_signal(signal.SIGHUP)
    _wait_for(lambda: "reload-refused" in server.log.read_text(), "SIGHUP refusal logged")
    for _ in range(4):  # both workers still answer with the old rules
        status, again = server.post("/v1/policy", {"host": HOST, "vm": VM})
        assert status == 200 and again["rules"]["digest"] == old_digest

    policies.write_text(good + "\n# a comment changes the digest, not the verdicts\n")
    server.proc.send_signal(signal.SIGHUP)

    def swapped() -> bool:
        digests = {server.post("/v1/policy", {"host": HOST, "vm": VM})[1]["rules"]["digest"]
                   for _ in range(6)}
        return digests != {old_digest} and len(digests) == 1

    _wait_for(swapped, "every worker serves the new rule set")
