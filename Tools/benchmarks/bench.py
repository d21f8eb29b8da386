"""HandsetHub benchmark runner: every figure beside a baseline measured in the same run.

Each benchmark is a function returning rows (figure, value, unit, baseline name, baseline value).
The ratio printed is value / baseline; whether lower or higher is better is stated per row.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HUBD = os.environ.get("HANDSETHUB_HUBD", ".build/release/hubd")
BENCHMARKS = {}


def benchmark(name):
    def register(function):
        BENCHMARKS[name] = function
        return function
    return register


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_connectable(path, deadline):
    while time.monotonic() < deadline:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            return True
        except OSError:
            time.sleep(0.0002)
        finally:
            probe.close()
    return False


class Hubd:
    """hubd on the reference handset, with control and guest endpoints in a private directory."""

    def __init__(self, extra_yaml=""):
        self.dir = tempfile.mkdtemp(prefix="hubbench-")
        self.control = os.path.join(self.dir, "control.sock")
        default = subprocess.run([HUBD, "--print-default-config"], check=True, capture_output=True, text=True).stdout
        config = rewrite_endpoints(default, self.dir)
        self.config_path = os.path.join(self.dir, "hub.yaml")
        with open(self.config_path, "w") as handle:
            handle.write(config + extra_yaml)

    def start(self):
        started = time.monotonic()
        self.process = subprocess.Popen([HUBD, "--config", self.config_path, "--log-level", "warning"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_connectable(self.control, started + 10):
            raise RuntimeError("hubd did not become ready")
        return time.monotonic() - started

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


def rewrite_endpoints(yaml_text, directory):
    """Points the default configuration's endpoints at private Unix sockets (no port clashes)."""
    out = []
    for line in yaml_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("- tcp:127.0.0.1:740"):
            continue
        if stripped.startswith("- unix:/tmp/handsethub/"):
            name = stripped.rsplit("/", 1)[1]
            line = line.replace(stripped, f"- unix:{directory}/{name}")
        out.append(line)
    return "\n".join(out) + "\n"


class Redis:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="redisbench-")
        self.sock = os.path.join(self.dir, "redis.sock")

    def start(self):
        started = time.monotonic()
        self.process = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", self.sock, "--save", "",
                                         "--appendonly", "no", "--dir", self.dir],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_connectable(self.sock, started + 10):
            raise RuntimeError("redis-server did not become ready")
        return time.monotonic() - started

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


@benchmark("startup")
def bench_startup(quick):
    """hubd start to ready (control endpoint accepting) and idle resident memory, against redis-server."""
    runs = 5 if quick else 15
    hub_times, redis_times, hub_rss, redis_rss = [], [], [], []
    for _ in range(runs):
        hub, redis = Hubd(), Redis()
        hub_times.append(hub.start())
        redis_times.append(redis.start())
        time.sleep(0.3)
        hub_rss.append(rss_kib(hub.process.pid))
        redis_rss.append(rss_kib(redis.process.pid))
        hub.stop()
        redis.stop()
    return [
        ("hubd start to ready (median)", statistics.median(hub_times) * 1000, "ms", "redis-server",
         statistics.median(redis_times) * 1000, "lower is better; target < 100 ms"),
        ("hubd idle RSS, reference handset", statistics.median(hub_rss) / 1024, "MiB", "redis-server",
         statistics.median(redis_rss) / 1024, "lower is better; target < 20 MiB"),
    ]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def recv_line(sock, buffer):
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    return line, rest


@benchmark("control-rtt")
def bench_control_rtt(quick):
    """hub.info request round trip over Unix and TCP, against Redis PING from the same client loop."""
    count = 2000 if quick else 20000
    hub = Hubd(extra_yaml="")
    hub.start()
    redis = Redis()
    redis.start()
    rows = []
    try:
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.connect(hub.control)
        buffer = b""
        _, buffer = recv_line(unix, buffer)  # greeting
        request = b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}\n'
        samples = []
        for _ in range(count):
            started = time.perf_counter_ns()
            unix.sendall(request)
            _, buffer = recv_line(unix, buffer)
            samples.append(time.perf_counter_ns() - started)
        rsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        rsock.connect(redis.sock)
        base = []
        rbuffer = b""
        for _ in range(count):
            started = time.perf_counter_ns()
            rsock.sendall(b"PING\r\n")
            while b"\r\n" not in rbuffer:
                rbuffer += rsock.recv(65536)
            rbuffer = rbuffer.split(b"\r\n", 1)[1]
            base.append(time.perf_counter_ns() - started)
        for label, fraction in (("p50", 0.5), ("p99", 0.99)):
            rows.append((f"hub.info round trip over Unix {label}", percentile(samples, fraction) / 1000, "us",
                         "redis PING (Unix)", percentile(base, fraction) / 1000, "lower is better"))
    finally:
        hub.stop()
        redis.stop()
    return rows


# ---------------------------------------------------------------------------------------------
# Guest protocol benchmarks (issue 3). Load comes from the Swift `hubbench` executable (HubGuest),
# so the client side costs the same in the baseline and in the measured figure.

HUBBENCH = os.environ.get("HANDSETHUB_HUBBENCH", os.path.join(os.path.dirname(HUBD), "hubbench"))


class GuestHub:
    """hubd with its guest endpoints reported through --ready-file (Unix socket and an ephemeral TCP port)."""

    def __init__(self, config_text=None, edit=None):
        from handsethub.pytest_plugin import isolate_endpoints
        self.dir = tempfile.mkdtemp(prefix="hubbench-")
        if config_text is None:
            config_text = subprocess.run([HUBD, "--print-default-config"], check=True, capture_output=True,
                                         text=True).stdout
        if edit:
            config_text = edit(config_text)
        self.config_path = os.path.join(self.dir, "hub.yaml")
        with open(self.config_path, "w") as handle:
            handle.write(isolate_endpoints(config_text, __import__("pathlib").Path(self.dir)))
        ready = os.path.join(self.dir, "ready.json")
        self.process = subprocess.Popen([HUBD, "--config", self.config_path, "--log-level", "warning",
                                         "--ready-file", ready], stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.dir, "hubd.log"), "wb"))
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hubd did not start: " + open(os.path.join(self.dir, "hubd.log")).read())
            time.sleep(0.01)
        time.sleep(0.01)
        endpoints = json.load(open(ready))["guest"]
        self.unix = next(e for e in endpoints if e.startswith("unix:"))
        self.tcp = next(e for e in endpoints if e.startswith("tcp:"))

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def free_tcp_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def hubbench(*args):
    return subprocess.Popen([HUBBENCH, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)


def json_line(process, timeout=300):
    import select
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        raise RuntimeError(f"{process.args[1]}: no output; stderr: {process.stderr.read()}")
    return json.loads(line)


def ping_pong(hub_endpoint, direct, count, a="rtos", b="secure", line=2, secret_free=False):
    """Direct ping-pong, then the cross-interrupt round trip, between the same two hubbench processes."""
    responder = hubbench("pingpong-responder", "--direct", direct, "--hub", hub_endpoint, "--partition", b,
                         "--peer", a, "--line", line, "--count", count)
    json_line(responder, 10)  # listening
    initiator = hubbench("pingpong-initiator", "--direct", direct, "--hub", hub_endpoint, "--partition", a,
                         "--peer", b, "--line", line, "--count", count)
    result = json_line(initiator)
    for process in (initiator, responder):
        process.wait(timeout=30)
    return result


def rtt_rows(label, result, direct_label):
    rows = []
    for index, name, target in ((0, "p50", "target <= 2.5x"), (1, "p99", "target <= 3x"), (2, "p99.9", "")):
        rows.append((f"cross-interrupt round trip {label} {name}", result["hub_us"][index], "us", direct_label,
                     result["direct_us"][index], f"lower is better; {target}".rstrip("; ")))
    return rows


@benchmark("guest-rtt")
def bench_guest_rtt(quick):
    """rtos raises on secure, secure's handler raises back: Unix and TCP, against a direct socket ping-pong."""
    count = 5000 if quick else 50000
    hub = GuestHub()
    try:
        unix = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", count)
        tcp = ping_pong(hub.tcp, f"tcp:127.0.0.1:{free_tcp_port()}", count)
    finally:
        hub.stop()
    return rtt_rows("over Unix", unix, "direct Unix ping-pong") + rtt_rows("over TCP", tcp, "direct TCP ping-pong")


@benchmark("guest-rtt-flood")
def bench_guest_rtt_flood(quick):
    """The real-time pair's round trip while linux and mgmt flood each other on mgmt-linux at full speed."""
    count = 5000 if quick else 30000
    hub = GuestHub()
    flooders = []
    try:
        idle = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", count)
        flooders = [hubbench("flood", "--hub", hub.unix, "--partition", p, "--link", "mgmt-linux",
                             "--seconds", 600) for p in ("linux", "mgmt")]
        time.sleep(0.5)
        started = time.monotonic()
        loaded = ping_pong(hub.unix, f"unix:{hub.dir}/direct2.sock", count)
        elapsed = time.monotonic() - started
        link = None
        for process in flooders:
            process.terminate()
            process.wait(timeout=10)
        with socket.socket(socket.AF_UNIX) as control:
            control.connect(os.path.join(hub.dir, next(n for n in os.listdir(hub.dir) if n.endswith("control.sock"))))
            buffer = b""
            _, buffer = recv_line(control, buffer)
            control.sendall(b'{"jsonrpc":"2.0","id":1,"method":"link.get","params":{"name":"mgmt-linux"}}\n')
            reply, buffer = recv_line(control, buffer)
            link = json.loads(reply).get("result", {})
        delivered = link.get("counters", {}).get("delivered", 0)
    finally:
        for process in flooders:
            if process.poll() is None:
                process.kill()
        hub.stop()
    return [
        ("rt round trip p99 under fair-share flood", loaded["hub_us"][1], "us", "same pair idle p99",
         idle["hub_us"][1], "lower is better; target <= 1.5x"),
        ("rt round trip p50 under fair-share flood", loaded["hub_us"][0], "us", "same pair idle p50",
         idle["hub_us"][0], "lower is better"),
        ("flood messages delivered (linux<->mgmt, approx.)", delivered / max(elapsed + 0.5, 1e-9), "msg/s",
         "-", 0.0, "context: the flood's rate over the run"),
    ]


@benchmark("guest-throughput")
def bench_guest_throughput(quick):
    """64-byte messages on one link (rtos -> linux, depth 4096), against Redis pub/sub on the same machine."""
    count = 100000 if quick else 1000000

    def deeper(text):
        return text.replace("{name: rtos-linux, a: rtos, b: linux}", "{name: rtos-linux, a: rtos, b: linux, depth: 4096}")
    hub = GuestHub(edit=deeper)
    redis = Redis()
    redis.start()
    try:
        receiver = hubbench("msg-recv", "--hub", hub.unix, "--partition", "linux", "--link", "rtos-linux",
                            "--count", count)
        json_line(receiver, 10)
        sender = hubbench("msg-send", "--hub", hub.unix, "--partition", "rtos", "--link", "rtos-linux",
                          "--count", count)
        hub_rate = json_line(receiver)["rate"]
        sender.wait(timeout=60)
        subscriber = hubbench("redis-sub", "--socket", redis.sock, "--count", count)
        json_line(subscriber, 10)
        publisher = hubbench("redis-pub", "--socket", redis.sock, "--count", count)
        redis_rate = json_line(subscriber)["rate"]
        publisher.wait(timeout=60)
    finally:
        hub.stop()
        redis.stop()
    return [("64-byte messages, one link (Unix)", hub_rate, "msg/s", "redis pub/sub 64 B (Unix)", redis_rate,
             "higher is better; target >= 1x")]


def many_partitions_config(count):
    lines = ["platform: {name: many-guests}",
             "hub:",
             "  controlEndpoints: [unix:/tmp/x/control.sock]",
             "  guestEndpoints: [unix:/tmp/x/guest.sock, tcp:127.0.0.1:7401]",
             "partitions:",
             "  - {name: rtos, class: real-time, priority: 0, memoryBytes: 4MiB, secret: rtos-dev-secret,"
             " mayInterrupt: [secure]}",
             "  - {name: secure, class: real-time, priority: 1, memoryBytes: 4MiB, secret: secure-dev-secret,"
             " mayInterrupt: [rtos]}"]
    for number in range(count):
        lines.append(f"  - {{name: p{number}, class: fair-share, priority: 8, memoryBytes: 4MiB,"
                     f" secret: secret-p{number}}}")
    return "\n".join(lines) + "\n"


@benchmark("guest-many")
def bench_guest_many(quick):
    """1,000 attached guests: hub RSS per guest, and the real-time round trip against 2 guests."""
    count = 1000
    rounds = 5000 if quick else 20000
    hub = GuestHub(config_text=many_partitions_config(count))
    crowd = None
    try:
        two = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", rounds)
        time.sleep(0.3)
        before = rss_kib(hub.process.pid)
        crowd = hubbench("attach-many", "--hub", hub.unix, "--prefix", "p", "--count", count)
        attached = json_line(crowd, 120)["attached"]
        time.sleep(0.3)
        after = rss_kib(hub.process.pid)
        many = ping_pong(hub.unix, f"unix:{hub.dir}/direct2.sock", rounds)
        crowd.stdin.close()
        crowd.wait(timeout=30)
    finally:
        if crowd and crowd.poll() is None:
            crowd.kill()
        hub.stop()
    return [
        (f"hub RSS per attached guest ({attached} guests)", (after - before) / attached, "KiB",
         "hub RSS before they attached", before, "lower is better; context"),
        (f"rt round trip p99 with {attached + 2} guests attached", many["hub_us"][1], "us", "with 2 guests",
         two["hub_us"][1], "lower is better"),
        (f"rt round trip p50 with {attached + 2} guests attached", many["hub_us"][0], "us", "with 2 guests",
         two["hub_us"][0], "lower is better"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    arguments = parser.parse_args()
    names = arguments.only.split(",") if arguments.only else list(BENCHMARKS)
    results = []
    for name in names:
        if name not in BENCHMARKS:
            sys.exit(f"bench: unknown benchmark {name}; known: {', '.join(BENCHMARKS)}")
        for figure, value, unit, baseline_name, baseline, note in BENCHMARKS[name](arguments.quick):
            ratio = value / baseline if baseline else float("nan")
            results.append({"benchmark": name, "figure": figure, "value": round(value, 3), "unit": unit,
                            "baseline": baseline_name, "baselineValue": round(baseline, 3),
                            "ratio": round(ratio, 3), "note": note})
    widths = [max(len(row["figure"]) for row in results), 10, 5, max(len(row["baseline"]) for row in results), 10, 7]
    header = ["figure", "value", "unit", "baseline", "baseline", "ratio"]
    print("  ".join(title.ljust(width) for title, width in zip(header, widths)) + "  note")
    for row in results:
        cells = [row["figure"], f'{row["value"]:.3f}', row["unit"], row["baseline"], f'{row["baselineValue"]:.3f}',
                 f'{row["ratio"]:.2f}']
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + "  " + row["note"])
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
