"""The decision service, started for real on 127.0.0.1 and asked over HTTP.

Answers must be the CLI's JSON; bad requests are 400 with a location, never a
500; a bad rule set is refused with its file:line while the old one keeps
serving; a good one is swapped in by SIGHUP or POST /v1/reload.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
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
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path,
                 tls: ssl.SSLContext | None = None, token: str | None = None) -> None:
        self.port, self.proc, self.log, self.tls, self.token = port, proc, log, tls, token
        self.headers: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
        if self.tls is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=20, context=self.tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        sent = dict(headers if headers is not None else self._auth())
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                         headers=sent)
            resp = conn.getresponse()
            data = resp.read()
            kind = resp.getheader("content-type", "")
            self.headers = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        return resp.status, json.loads(data) if "json" in kind else data.decode(), kind

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

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


@contextlib.contextmanager
def running(tmp_path: Path, *args: str, tls: ssl.SSLContext | None = None, token: str | None = None,
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """`seoib serve` on a free port of 127.0.0.1 with ``args``, until the block ends."""
    port = _free_port()
    log = tmp_path / f"serve-{port}.log"
    environ = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **(env or {})}
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "seoib", "serve", "--port", str(port), *args],
                                stdout=subprocess.DEVNULL, stderr=err, env=environ)
    srv = Server(port, proc, log, tls, token)
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


@pytest.fixture
def server(tmp_path: Path, rules_copy: Path) -> Iterator[Server]:
    with running(tmp_path, "--workers", "2", "--rules", str(rules_copy), "--access-log",
                 "--decision-log", str(tmp_path / "decisions.jsonl")) as srv:
        yield srv


def _cli_json(rules: RuleSet, host: str, vm: str) -> dict[str, Any]:
    """The CLI's verdict, its rule directory named as the service names it (site-1)."""
    h = rules.resolver.host(parse_host_spec(host, Location("host")))
    v = rules.resolver.vm(parse_vm_spec(vm, Location("vm")), h)
    out = json.loads(json.dumps(policy_verdict(rules, h, v)))
    out["rules"]["root"] = "site-1"
    return out


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
    ("/v1/check", "hosts: [", "YAML"),
    ("/v1/policy?view=tiny", json.dumps({"host": HOST, "vm": VM}), "unknown query parameter"),
    ("/v1/policy", json.dumps({"host": HOST + ",name=" + "n" * 5000, "vm": VM}), "at most"),
])
def test_bad_requests_are_400_with_a_location(server: Server, path: str, body: str, words: str) -> None:
    status, data, _ = server.request("POST", path, body)
    assert status == 400, data
    assert words in data["error"]["message"]
    assert data["error"]["location"]


def test_rules_health_metrics_openapi(server: Server, rules_copy: Path) -> None:
    status, info, _ = server.request("GET", "/v1/rules")
    assert status == 200 and info["sources"] == ["site-1"] and len(info["digest"]) == 64
    server.post("/v1/policy", {"host": HOST, "vm": VM})
    status, text, kind = server.request("GET", "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    from prometheus_client.parser import text_string_to_metric_families

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    names = {name for name, _ in samples}
    assert samples[("seoib_requests_total", (("code", "200"), ("route", "/v1/policy")))] >= 1
    assert samples[("seoib_verdicts_total", (("command", "policy"), ("outcome", "storm"),
                                             ("severity", "block")))] >= 1
    assert ("seoib_request_seconds_bucket", (("le", "+Inf"), ("route", "/v1/policy"))) in samples
    assert {"seoib_build_info", "seoib_rules_info", "process_resident_memory_bytes",
            "process_cpu_seconds_total", "process_open_fds", "seoib_requests_in_flight"} <= names
    workers = {dict(labels)["pid"] for name, labels in samples if name == "process_resident_memory_bytes"}
    assert len(workers) == 2  # both workers, whichever answered the scrape
    status, doc, _ = server.request("GET", "/openapi.json")
    assert status == 200 and "/v1/policy" in doc["paths"]
    _holds_to_openapi(doc, "PolicyVerdict", server.post("/v1/policy", {"host": HOST, "vm": VM})[1])
    compact_answer = server.request("POST", "/v1/policy?view=compact", json.dumps({"host": HOST, "vm": VM}))
    _holds_to_openapi(doc, "CompactVerdict", compact_answer[1])
    assert server.request("GET", "/v1/policy")[0] == 405
    assert server.request("GET", "/nowhere")[0] == 404
    log = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert any(e.get("path") == "/v1/policy" and e.get("status") == 200 for e in log)


def _holds_to_openapi(doc: dict[str, Any], component: str, answer: Any) -> None:
    """The answer is valid against the API document's typed component (refs resolved in it)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:api", Resource(contents=doc, specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": f"urn:api#/components/schemas/{component}"},
                                     registry=registry)
    assert not [e.message for e in validator.iter_errors(answer)]


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
    assert refused["error"]["location"].startswith("site-1/policies.yaml:")  # no server path
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


# --- sizes, content types, compact answers, the decision log -------------------------------

@pytest.mark.parametrize(("path", "body", "kind", "status"), [
    ("/v1/policy", "x" * (2 << 20), "application/json", 413),
    ("/v1/check", "hosts: []\n" + "#" * (300 << 10), "application/yaml", 413),
    ("/v1/policy", "<xml/>", "application/xml", 415),
])
def test_bodies_are_capped_per_content_type(server: Server, path: str, body: str, kind: str,
                                            status: int) -> None:
    got, data, _ = server.request("POST", path, body, headers={"Content-Type": kind})
    assert got == status and data["error"]["message"], data


def test_compact_answers_and_the_decision_log(server: Server, tmp_path: Path) -> None:
    status, data, _ = server.request("POST", "/v1/policy?view=compact",
                                     json.dumps({"host": HOST, "vm": VM}))
    assert status == 200 and data["outcome"] == "storm" and "effect.storm" in data["rules"]
    assert len(json.dumps(data, separators=(",", ":"))) <= 300
    decision = server.headers["x-seoib-decision-id"]
    many = [{"host": HOST, "vm": VM}] * 40  # a long list: answered by a job process
    status, data, _ = server.request("POST", "/v1/policy?view=compact&explain=true", json.dumps(many))
    assert status == 200 and len(data) == 40 and data[0]["reasons"][0]["rule"] == "effect.storm"
    records = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    first = next(r for r in records if r["decision_id"] == decision)
    assert first["input"] == {"host": HOST, "vm": VM} and first["result"]["outcome"] == "storm"
    assert first["path"] == "/v1/policy" and len(first["rules"]) == 64
    assert any(isinstance(r["result"], list) and len(r["result"]) == 40 for r in records)
    assert oct((tmp_path / "decisions.jsonl").stat().st_mode & 0o777) == "0o600"


def test_no_answer_names_a_server_path(server: Server, rules_copy: Path) -> None:
    """Verdicts, plans, rules, refusals, metrics and the API document never show where the
    rules or the package live."""
    from seoib.paths import builtin_rules_dir

    fleet = (Path(__file__).resolve().parent.parent / "fleets" / "representative.yaml").read_text()
    answers = [server.request("POST", "/v1/policy", json.dumps({"host": HOST, "vm": VM})),
               server.request("POST", "/v1/migrate", json.dumps({"src": HOST, "dst": HOST, "vm": VM})),
               server.request("POST", "/v1/check", fleet, headers={"Content-Type": "application/yaml"}),
               server.request("GET", "/v1/rules"), server.request("GET", "/metrics"),
               server.request("GET", "/openapi.json"),
               server.request("POST", "/v1/check", "hosts: [{name: a, kernel: nope, qemu: 11.0.0}]\nvms: []")]
    (rules_copy / "facts.yaml").write_text("facts: [oops\n")
    answers.append(server.request("POST", "/v1/reload", ""))
    assert answers[2][0] == 200 and answers[-1][0] == 400
    text = json.dumps([a[1] for a in answers])
    for path in (str(rules_copy), str(rules_copy.parent), str(builtin_rules_dir().parent),
                 str(Path(__file__).resolve().parent.parent)):
        assert path not in text


# --- exposure: tokens, TLS, where it may listen ---------------------------------------------

TOKEN = "s3cr3t-token-0123456789"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_a_token_protected_tls_service_answers_on_loopback(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    tokens = tmp_path / "tokens"
    tokens.write_text("# rotated monthly\n" + "old-token-abcdefghijkl\n" + TOKEN + "\n")
    tokens.chmod(0o600)
    client = ssl.create_default_context(cafile=str(cert))
    with running(tmp_path, "--workers", "1", "--token-file", str(tokens), "--tls-cert", str(cert),
                 "--tls-key", str(key), tls=client, token=TOKEN) as srv:
        status, verdict = srv.post("/v1/policy", {"host": HOST, "vm": VM})
        assert status == 200 and verdict["outcome"] == "storm"
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                        {"Authorization": TOKEN}):
            status, data, _ = srv.request("POST", "/v1/policy", json.dumps({"host": HOST, "vm": VM}),
                                          headers=headers)
            assert status == 401 and "Bearer" in data["error"]["message"]
            assert srv.headers["www-authenticate"].startswith("Bearer")
        for path in ("/v1/rules", "/metrics", "/openapi.json"):
            assert srv.request("GET", path, headers={})[0] == 401
        assert srv.request("POST", "/v1/reload", "", headers={})[0] == 401
        assert srv.request("POST", "/v1/reload", "",
                           headers={"Authorization": "Bearer old-token-abcdefghijkl"})[0] == 200
        for probe in ("/healthz", "/livez", "/readyz"):
            assert srv.request("GET", probe, headers={})[0] == 200
        plain = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        with pytest.raises((OSError, http.client.HTTPException)):  # TLS only: no plain HTTP
            plain.request("GET", "/healthz")
            plain.getresponse().read()
        plain.close()


@pytest.mark.parametrize(("args", "env", "words"), [
    (["--host", "0.0.0.0"], {}, "no token is set"),
    (["--request-seconds", "nan"], {}, "--request-seconds"),
    (["--request-seconds", "inf"], {}, "--request-seconds"),
    (["--header-seconds", "-1"], {}, "--header-seconds"),
    (["--token-file", "/nonexistent"], {}, "no such file"),
    (["--token-file", ""], {}, "needs a file name"),
    (["--tls-cert", "/etc/hostname"], {}, "both --tls-cert and --tls-key"),
    (["--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"], {}, "do not load"),
    ([], {"SEOIB_SERVE_TOKEN": "short"}, "at least 16"),
    (["--decision-log", "/"], {}, "cannot write"),
])
def test_unsafe_or_bad_options_are_refused(args: list[str], env: dict[str, str], words: str,
                                           tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "seoib", "serve", "--port", str(_free_port()), *args],
                          capture_output=True, timeout=60, env={**os.environ, **env}, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and words in err, err


def test_insecure_serves_off_loopback_with_a_warning_and_no_admin(tmp_path: Path) -> None:
    with running(tmp_path, "--workers", "1", "--host", "0.0.0.0", "--insecure") as srv:
        assert srv.post("/v1/policy", {"host": HOST, "vm": VM})[0] == 200
        assert srv.request("POST", "/v1/reload", "")[0] == 403
        assert srv.request("GET", "/v1/rules")[0] == 403
        log = srv.log.read_text()
    assert "WITHOUT authentication" in log


# --- budgets: heavy work outside the loop, slow and idle clients -----------------------------

def _heavy_plan(hosts: int = 2000, groups: int = 60) -> str:
    lines = ["hosts:", f"  - &rack {{group: rack, count: {hosts}, kernel: 6.12.40, qemu: 10.2.0}}"]
    lines += ["  - {group: lab, count: 50, kernel: 6.18.16, qemu: 11.0.0, seoib: rfc-v2}", "vms:"]
    lines += [f"  - {{group: g{i}, count: 20, hosts: rack, machine: pc-q35-10.2, irqchip: split}}"
              for i in range(groups)]
    lines += ["rollout:"]
    lines += [f"  - {{name: w{i}, hosts: [rack], set: {{kernel: 6.18.{i + 1}}}}}" for i in range(40)]
    return "\n".join(lines) + "\n"


def _probe_times(srv: Server, stop: list[bool], out: list[float]) -> None:
    while not stop[0]:
        t = time.monotonic()
        status = srv.request("GET", "/healthz")[0]
        out.append(time.monotonic() - t if status == 200 else 99.0)
        time.sleep(0.05)


def test_check_is_bounded_in_time_and_memory_while_probes_answer(tmp_path: Path) -> None:
    import threading

    plan = _heavy_plan()
    with running(tmp_path, "--workers", "2", "--request-seconds", "2") as srv:
        stop, probes = [False], []
        prober = threading.Thread(target=_probe_times, args=(srv, stop, probes))
        prober.start()
        try:
            t = time.monotonic()
            status, data, _ = srv.request("POST", "/v1/check", plan,
                                          headers={"Content-Type": "application/yaml"})
            took = time.monotonic() - t
        finally:
            stop[0] = True
            prober.join()
        assert status in (200, 503), data
        if status == 503:
            assert "budget" in data["error"]["message"] and took < 10
        assert probes and max(probes) < 1.0, probes
    with running(tmp_path, "--workers", "1", "--request-memory", "1") as srv:
        status, data, _ = srv.request("POST", "/v1/check", plan, headers={"Content-Type": "application/yaml"})
        assert status == 413 and "memory budget" in data["error"]["message"], data
        assert srv.request("GET", "/healthz")[0] == 200


def test_slow_huge_and_idle_connections_do_not_starve_the_probe(tmp_path: Path) -> None:
    with running(tmp_path, "--workers", "2", "--header-seconds", "1", "--request-seconds", "2",
                 "--max-connections", "1024") as srv:
        half = socket.create_connection(("127.0.0.1", srv.port))
        half.sendall(b"POST /v1/policy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"host\"")  # and never the rest of the body
        half.settimeout(6)
        answer = half.recv(1000)
        assert b" 408 " in answer and b"did not arrive" in answer, answer
        half.close()
        slow = socket.create_connection(("127.0.0.1", srv.port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        slow.settimeout(5)
        t = time.monotonic()
        assert slow.recv(100) == b""  # closed by the header timeout
        assert time.monotonic() - t < 4
        slow.close()
        huge = socket.create_connection(("127.0.0.1", srv.port))
        huge.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * (64 << 10) + b"\r\n\r\n")
        huge.settimeout(5)
        assert b" 431 " in huge.recv(200)
        huge.close()
        idle = []
        try:
            for _ in range(2200):
                idle.append(socket.create_connection(("127.0.0.1", srv.port)))
            t = time.monotonic()
            status = srv.request("GET", "/healthz")[0]
            assert status == 200 and time.monotonic() - t < 1.0
            assert srv.post("/v1/policy", {"host": HOST, "vm": VM})[0] == 200
        finally:
            for s in idle:
                s.close()
