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


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid} (did the process exit?)")


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
        self.ready_path = os.path.join(self.dir, "ready.json")
        self.process = subprocess.Popen([HUBD, "--config", self.config_path, "--log-level", "warning",
                                         "--ready-file", self.ready_path],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_connectable(self.control, started + 10):
            raise RuntimeError("hubd did not become ready")
        return time.monotonic() - started

    def endpoints(self):
        deadline = time.monotonic() + 5
        while not os.path.exists(self.ready_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(self.ready_path) as handle:
            return json.load(handle)

    def control_tcp(self):
        address = next(a for a in self.endpoints()["control"] if a.startswith("tcp:"))
        host, port = address[4:].rsplit(":", 1)
        return host, int(port)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


def rewrite_endpoints(yaml_text, directory):
    """Points the default configuration's endpoints at private Unix sockets plus port-0 TCP (no clashes)."""
    out = []
    for line in yaml_text.splitlines():
        stripped = line.strip()
        indent = line[:len(line) - len(line.lstrip())]
        if stripped.startswith("controlEndpoints:"):
            line = f"{indent}controlEndpoints: [unix:{directory}/control.sock, tcp:127.0.0.1:0]"
        elif stripped.startswith("guestEndpoints:"):
            line = f"{indent}guestEndpoints: [unix:{directory}/guest.sock, tcp:127.0.0.1:0]"
        out.append(line)
    return "\n".join(out) + "\n"


class Redis:
    def __init__(self, tcp=False):
        self.dir = tempfile.mkdtemp(prefix="redisbench-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.port = free_port() if tcp else 0

    def start(self):
        started = time.monotonic()
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--unixsocket", self.sock, "--save", "",
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
    hub_times, redis_times, hub_rss, redis_rss, hub_anon, redis_anon = [], [], [], [], [], []
    for _ in range(runs):
        hub, redis = Hubd(), Redis()
        hub_times.append(hub.start())
        redis_times.append(redis.start())
        time.sleep(0.3)
        hub_rss.append(rss_kib(hub.process.pid))
        redis_rss.append(rss_kib(redis.process.pid))
        hub_anon.append(rss_kib(hub.process.pid, "RssAnon"))
        redis_anon.append(rss_kib(redis.process.pid, "RssAnon"))
        hub.stop()
        redis.stop()
    return [
        ("hubd start to ready (median)", statistics.median(hub_times) * 1000, "ms", "redis-server",
         statistics.median(redis_times) * 1000, "lower is better; target < 100 ms"),
        ("hubd idle RSS, reference handset", statistics.median(hub_rss) / 1024, "MiB", "redis-server",
         statistics.median(redis_rss) / 1024, "lower is better; target < 20 MiB"),
        ("hubd idle private (anonymous) RSS", statistics.median(hub_anon) / 1024, "MiB", "redis-server",
         statistics.median(redis_anon) / 1024, "lower is better; the rest is shared library pages"),
    ]


def free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


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


def round_trips(sock, request, count, terminator=b"\n"):
    """Sequential request/response times in ns over a connected socket."""
    buffer = b""
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        sock.sendall(request)
        while terminator not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            buffer += chunk
        buffer = buffer.split(terminator, 1)[1]
        samples.append(time.perf_counter_ns() - started)
    return samples


@benchmark("control-rtt")
def bench_control_rtt(quick):
    """hub.info round trip over Unix and TCP, against Redis PING over the same transport from the same client loop
    (both include this Python client's own cost, which is the same on both sides)."""
    count = 2000 if quick else 20000
    hub = Hubd()
    hub.start()
    redis = Redis(tcp=True)
    redis.start()
    rows = []
    try:
        transports = {
            "Unix": (lambda: connect_unix(hub.control), lambda: connect_unix(redis.sock)),
            "TCP": (lambda: connect_tcp(*hub.control_tcp()), lambda: connect_tcp("127.0.0.1", redis.port)),
        }
        for name, (hub_connect, redis_connect) in transports.items():
            hsock = hub_connect()
            buffer = b""
            while b"\n" not in buffer:
                buffer += hsock.recv(65536)  # greeting
            samples = round_trips(hsock, b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}\n', count)
            base = round_trips(redis_connect(), b"PING\r\n", count, terminator=b"\r\n")
            hsock.close()
            for label, fraction in (("p50", 0.5), ("p99", 0.99)):
                rows.append((f"hub.info round trip over {name} {label}", percentile(samples, fraction) / 1000, "us",
                             f"redis PING ({name})", percentile(base, fraction) / 1000, "lower is better"))
    finally:
        hub.stop()
        redis.stop()
    return rows


def connect_unix(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def connect_tcp(host, port):
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@benchmark("events")
def bench_events(quick):
    """Events per second delivered to 1 and to 10 subscribers, against Redis pub/sub fan-out to the same
    number of subscribers (published by one client, counted by subscriber threads)."""
    import threading
    total = 20000 if quick else 100000
    rows = []
    for subscribers in (1, 10):
        hub = Hubd()
        hub.start()
        redis = Redis()
        redis.start()
        try:
            rate = fan_out_rate(lambda: hub_subscriber(hub.control), lambda: hub_publish(hub.control, total),
                                subscribers, total, b'"method":"event"')
            base = fan_out_rate(lambda: redis_subscriber(redis.sock), lambda: redis_publish(redis.sock, total),
                                subscribers, total, b"message")
            rows.append((f"events/s delivered to {subscribers} subscriber(s)", rate, "events/s",
                         f"redis pub/sub to {subscribers}", base, "higher is better"))
        finally:
            hub.stop()
            redis.stop()
    return rows


def fan_out_rate(make_subscriber, publish, subscribers, total, marker):
    """Starts `subscribers` readers, runs `publish`, and returns events/s until every reader saw `total`."""
    import threading
    socks = [make_subscriber() for _ in range(subscribers)]
    done = []

    def count(sock):
        seen = 0
        buffer = b""
        sock.settimeout(30)
        while seen < total:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            buffer += chunk
            seen += buffer.count(marker)
            buffer = buffer[buffer.rfind(b"\n") + 1:] if b"\n" in buffer else buffer
        done.append(seen)

    threads = [threading.Thread(target=count, args=(sock,)) for sock in socks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    publish()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for sock in socks:
        sock.close()
    return min(done) / elapsed


def hub_subscriber(path):
    sock = connect_unix(path)
    sock.sendall(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"filter":{"kinds":["irq.*"]}}}\n')
    buffer = b""
    while b'"subscribed":true' not in buffer:
        buffer += sock.recv(65536)
    return sock


def hub_publish(path, total):
    """Raises `total` interrupts as a test peer, pipelined in batches (each makes one irq.raised event)."""
    sock = connect_unix(path)
    batch = 500
    sent = 0
    buffer = b""
    while sent < total:
        lines = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"irq.raise","params":{"partition":"rtos","line":%d,"as":"bench"}}\n'
                         % (sent + i, (sent + i) % 32) for i in range(min(batch, total - sent)))
        sock.sendall(lines)
        want = min(batch, total - sent)
        got = 0
        while got < want:
            chunk = sock.recv(1 << 20)
            got += chunk.count(b'"result"')
        sent += want
    sock.close()


def redis_subscriber(path):
    sock = connect_unix(path)
    sock.sendall(b"SUBSCRIBE bench\r\n")
    buffer = b""
    while b"subscribe" not in buffer:
        buffer += sock.recv(65536)
    return sock


def redis_publish(path, total):
    sock = connect_unix(path)
    batch = 500
    sent = 0
    while sent < total:
        count = min(batch, total - sent)
        sock.sendall(b"".join(b"PUBLISH bench %d\r\n" % (sent + i) for i in range(count)))
        got = 0
        while got < count:
            got += sock.recv(1 << 20).count(b":")
        sent += count
    sock.close()


ETHBENCH_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ethbench.c")


def build_ethbench(directory):
    binary = os.path.join(directory, "ethbench")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", binary, ETHBENCH_SOURCE], check=True)
    return binary


def eth_hub(directory, tcp_ports):
    """hubd on the reference handset with four stream ports on lan0: two Unix, two TCP."""
    default = subprocess.run([HUBD, "--print-default-config"], check=True, capture_output=True, text=True).stdout
    config = default.replace("/tmp/handsethub/", directory + "/")
    for port in (7400, 7401):
        config = config.replace(f"tcp:127.0.0.1:{port}", "tcp:127.0.0.1:0")
    extra = (f'\n        - {{name: u1, stream: "unix:{directory}/u1.sock"}}'
             f'\n        - {{name: u2, stream: "unix:{directory}/u2.sock"}}'
             f'\n        - {{name: t1, stream: "tcp:127.0.0.1:{tcp_ports[0]}"}}'
             f'\n        - {{name: t2, stream: "tcp:127.0.0.1:{tcp_ports[1]}"}}')
    marker = "        - name: linux\n          partition: linux"
    assert marker in config, "reference handset lost its lan0 ports"
    config = config.replace(marker, marker + extra, 1)
    path = os.path.join(directory, "hub.yaml")
    with open(path, "w") as handle:
        handle.write(config)
    process = subprocess.Popen([HUBD, "--config", path, "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_connectable(os.path.join(directory, "control.sock"), time.monotonic() + 10):
        process.kill()
        raise RuntimeError("hubd did not become ready")
    return process


def free_tcp_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def run_load(binary, send, receive, size, count, batch):
    result = subprocess.run([binary, "load", send, receive, str(size), str(count), str(batch)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ethbench load {send} {receive} failed: {result.stderr.strip()}")
    out = result.stdout.split()
    # Let the hub notice both peers hung up before the next run connects (one peer per stream port).
    time.sleep(0.3)
    frames, elapsed = int(out[0]), float(out[1])
    return frames, (frames / elapsed if elapsed > 0 else 0.0)


@benchmark("ethernet")
def bench_ethernet(quick):
    """Frames/s through a lan0 stream port pair against a trivial C relay that copies bytes between two sockets."""
    directory = tempfile.mkdtemp(prefix="ethbench-")
    binary = build_ethbench(directory)
    tcp = [free_tcp_port(), free_tcp_port()]
    hub = eth_hub(directory, tcp)
    rows = []
    regimes = [
        ("coalesced 64 B, Unix", "unix", 64, 256),
        ("coalesced 1500 B, Unix", "unix", 1500, 64),
        ("one frame per write 64 B, Unix", "unix", 64, 1),
        ("one frame per write 64 B, TCP", "tcp", 64, 1),
    ]
    try:
        for label, transport, size, batch in regimes:
            count = (20000 if quick else 200000) if batch > 1 else (5000 if quick else 50000)
            if transport == "unix":
                hub_ends = (f"unix:{directory}/u1.sock", f"unix:{directory}/u2.sock")
                relay_ends = (f"unix:{directory}/r1.sock", f"unix:{directory}/r2.sock")
            else:
                hub_ends = (f"tcp:127.0.0.1:{tcp[0]}", f"tcp:127.0.0.1:{tcp[1]}")
                relay_ports = (free_tcp_port(), free_tcp_port())
                relay_ends = (f"tcp:127.0.0.1:{relay_ports[0]}", f"tcp:127.0.0.1:{relay_ports[1]}")
            hub_frames, hub_rate = run_load(binary, hub_ends[0], hub_ends[1], size, count, batch)
            relay = subprocess.Popen([binary, "relay", relay_ends[0], relay_ends[1]])
            try:
                _, relay_rate = run_load(binary, relay_ends[0], relay_ends[1], size, count, batch)
            finally:
                relay.kill()
                relay.wait()
            loss = 100.0 * (count - hub_frames) / count
            rows.append((f"lan0 {label}", hub_rate, "frames/s", "C byte relay", relay_rate,
                         f"{loss:.1f}% lost at full offered load"))
        rows.append(("hubd RSS after the Ethernet runs", rss_kib(hub.pid) / 1024, "MiB", "-", 0.0, ""))
    finally:
        hub.terminate()
        hub.wait(timeout=5)
        shutil.rmtree(directory, ignore_errors=True)
    return rows


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
