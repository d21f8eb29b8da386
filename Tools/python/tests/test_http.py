"""The hub's HTTP listener against a real hubd (Protocols/http.md): the probes, /metrics validated by
`promtool check metrics` and scraped by a real Prometheus server (Debian `prometheus`) whose query API must
then return a series of every family the spec lists, and hostile clients: garbage, a byte at a time, a huge
request line, too many headers, slowloris, a client that never reads, thousands of idle connections.

Everything runs on loopback; every test bounds its time, closes its sockets, and the Prometheus server is
stopped and its data directory removed; the hubd fixture stops the hub.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from handsethub.pytest_plugin import find_hubd
from handsethub import vectors

ROOT = Path(__file__).resolve().parents[3]

def spec_families() -> list[str]:
    """Every family the table of Protocols/http.md §4 lists (its first column), so a family added there is
    checked here without a second list to keep in step."""
    text = (ROOT / "Protocols" / "http.md").read_text()
    section = text.split("## 4. `/metrics`", 1)[1].split("\n## ", 1)[0]
    families = []
    for line in section.splitlines():
        if line.startswith("| `handsethub_"):
            families += re.findall(r"`(handsethub_[a-z0-9_]+)`", line.split("|")[1])
    return families


FAMILIES = spec_families()
# Families with no series on the reference handset, which has no state directory and so no provisioning
# authority; the Swift glue tests (Tests/HTTPEndpointTests) cover them.
WITHOUT_SERIES_HERE = {"handsethub_provisioned_partitions"}


def config(limits: dict[str, int] | None = None) -> str:
    """The reference handset with the HTTP listener on loopback (the fixture moves it to port 0)."""
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=10).stdout
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("  guestEndpoints:"))
    lines.insert(index + 1, "  httpEndpoints: [tcp:127.0.0.1:9100]")
    for key, value in (limits or {}).items():
        index = next(i for i, line in enumerate(lines) if line.startswith(f"    {key}:"))
        lines[index] = f"    {key}: {value}"
    return "\n".join(lines) + "\n"


def http_address(client) -> tuple[str, int]:
    endpoint = client.call("http.status")["endpoints"][0]
    host, _, port = endpoint[len("tcp:"):].rpartition(":")
    return host, int(port)


def exchange(address, request: bytes, *, byte_at_a_time: bool = False, timeout: float = 5.0) -> bytes:
    """Sends `request`, then reads until the hub closes; tolerates the hub closing while we still send."""
    with socket.create_connection(address, timeout=timeout) as sock:
        try:
            if byte_at_a_time:
                for byte in request:
                    sock.sendall(bytes([byte]))
            else:
                sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer[9:12])


def body_of(answer: bytes) -> bytes:
    return answer.split(b"\r\n\r\n", 1)[1]


@pytest.fixture
def hub(hubd):
    client = hubd(config=config({"httpHandshakeMs": 500, "httpResponseMs": 500}))
    client.http = http_address(client)
    return client


def test_probes_answer_and_everything_else_is_refused(hub):
    get = lambda path: exchange(hub.http, f"GET {path} HTTP/1.1\r\nHost: hub\r\n\r\n".encode())
    assert status_of(get("/healthz")) == 200 and body_of(get("/healthz")) == b"ok\n"
    assert status_of(get("/readyz")) == 200
    assert status_of(get("/nothing")) == 404
    answer = exchange(hub.http, b"DELETE /metrics HTTP/1.1\r\nHost: hub\r\n\r\n")
    assert status_of(answer) == 405 and b"\r\nAllow: GET, HEAD\r\n" in answer
    assert status_of(exchange(hub.http, b"GET / HTTP/2.0\r\n\r\n")) == 505
    assert b"Connection: close\r\n" in get("/healthz")
    counts = hub.call("http.status")["answers"]
    assert counts["405"] == 1 and counts["505"] == 1 and counts["404"] == 1


def test_the_vectors_refusals_over_a_real_socket(hub):
    """Every refused vector of Protocols/vectors/http/requests.vectors that uses the default limits."""
    checked = 0
    for vector in vectors.load("http/requests.vectors"):
        if "status" not in vector or "limits" in vector:
            continue
        answer = exchange(hub.http, vector.escaped_bytes("input"))
        assert status_of(answer) == int(vector["status"]), vector.name
        checked += 1
    assert checked >= 20


def test_metrics_pass_promtool_and_survive_hostile_clients(hub):
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus; Tools/hub deps installs it)")
    request = b"GET /metrics HTTP/1.1\r\nHost: hub\r\nAccept: text/plain\r\n\r\n"
    answer = exchange(hub.http, request, byte_at_a_time=True)
    assert status_of(answer) == 200
    assert b"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n" in answer
    checked = subprocess.run(["promtool", "check", "metrics"], input=body_of(answer), capture_output=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = body_of(answer).decode()
    assert len(FAMILIES) > 40 and "handsethub_power_platform_state" in FAMILIES, FAMILIES
    for family in set(FAMILIES) - WITHOUT_SERIES_HERE:
        assert f"\n# TYPE {family} " in "\n" + text, family
    # The state sets have exactly one current state; the reference handset runs its base policy.
    samples = [line for line in text.splitlines() if line.startswith("handsethub_power_platform_state{")]
    assert len(samples) == 3 and sum(float(line.rsplit(" ", 1)[1]) for line in samples) == 1, samples
    assert 'handsethub_policy_profile_info{profile="base"} 1' in text.splitlines()
    # Garbage, a huge request line, too many headers.
    assert status_of(exchange(hub.http, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" * 50 + b"\r\n")) == 400
    assert status_of(exchange(hub.http, b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\n\r\n")) == 414
    many = b"GET /metrics HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n"
    assert status_of(exchange(hub.http, many)) == 431
    endless = b"GET /metrics HTTP/1.1\r\n" + b"X-Filler: " + b"z" * 100_000 + b"\r\n\r\n"
    assert status_of(exchange(hub.http, endless)) == 431


def test_slowloris_gets_408_and_a_client_that_never_reads_is_let_go(hub):
    with socket.create_connection(hub.http, timeout=5) as slow:
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        started = time.monotonic()
        answer = slow.recv(4096)
        assert status_of(answer) == 408
        assert slow.recv(4096) == b""  # closed after the 408
        assert time.monotonic() - started < 4.5
    # Clients that ask for /metrics and never read: the hub lets them go after httpResponseMs and goes on.
    readers = []
    for _ in range(10):
        sock = socket.create_connection(hub.http, timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        readers.append(sock)
    try:
        deadline = time.monotonic() + 5
        gate = None
        while time.monotonic() < deadline:
            gate = next(g for g in hub.call("hub.admission")["listeners"] if g["name"] == "http")
            if gate["authenticated"] == 0 and gate["pending"] == 0:
                break
            time.sleep(0.05)
        assert gate["authenticated"] == 0 and gate["pending"] == 0, gate
        assert status_of(exchange(hub.http, b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")) == 200
    finally:
        for sock in readers:
            sock.close()


def test_thousands_of_idle_connections_do_not_lock_out_a_probe(hub):
    idle = []
    try:
        for _ in range(2000):
            idle.append(socket.create_connection(hub.http, timeout=5))
        answer = exchange(hub.http, b"GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n")
        assert status_of(answer) == 200
        gate = next(g for g in hub.call("hub.admission")["listeners"] if g["name"] == "http")
        assert gate["pending"] <= gate["limits"]["maxPending"]
        assert gate["refused"]["evicted"] > 0
    finally:
        for sock in idle:
            sock.close()


def test_concurrent_scrapers_share_one_build_of_the_metrics(hub):
    """Sixteen clients asking for /metrics at once, twice over within httpMetricsReuseMs (1000 ms by default):
    one build serves them all (Protocols/http.md §4), so scrapers cannot make the loop build the text once each."""
    request = b"GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
    before = hub.call("http.status")
    assert hub.call("hub.limits")["http"]["metricsReuseMs"] == 1000
    for _ in range(2):
        clients = [socket.create_connection(hub.http, timeout=5) for _ in range(16)]
        try:
            for sock in clients:
                sock.sendall(request)
            answers = []
            for sock in clients:
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                answers.append(data)
        finally:
            for sock in clients:
                sock.close()
        assert all(status_of(answer) == 200 for answer in answers)
        # Every client got the same text (the uptime sample would differ between two builds).
        assert len({body_of(answer) for answer in answers}) == 1
    after = hub.call("http.status")
    built = after["metricsBuilt"] - before["metricsBuilt"]
    reused = after["metricsReused"] - before["metricsReused"]
    # 32 answers; a build only when the period had ended (a slow machine can end it between the two rounds).
    assert built + reused == 32 and 1 <= built <= 2, (built, reused)
    assert after["metricsLongestBuildUs"] > 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_prometheus_scrapes_every_family(hub, tmp_path):
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed (Debian package prometheus; Tools/hub deps installs it)")
    host, port = hub.http
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: hubd\n    static_configs: [{{targets: ['{host}:{port}']}}]\n")
    web = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    server = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{web}"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        query = urllib.parse.quote('count by (__name__) ({__name__=~"handsethub_.+"})')
        found: set[str] = set()
        deadline = time.monotonic() + 60
        expected = set(FAMILIES) - WITHOUT_SERIES_HERE
        while time.monotonic() < deadline and not expected <= found:
            assert server.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?query={query}", timeout=2) as r:
                    result = json.load(r)["data"]["result"]
                found = {series["metric"]["__name__"] for series in result}
            except OSError:
                pass
            time.sleep(0.5)
        assert expected <= found, sorted(expected - found)
        # One series read back through the query API with its labels.
        query = urllib.parse.quote('handsethub_partition_state{partition="rtos"}')
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?query={query}", timeout=2) as r:
            series = json.load(r)["data"]["result"]
        assert series and series[0]["metric"]["job"] == "hubd" and series[0]["value"][1] == "1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
