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
