"""HandsetHub benchmark runner: every figure beside a baseline measured in the same run.

Each benchmark is a function returning rows (figure, value, unit, baseline name, baseline value).
The ratio printed is value / baseline; whether lower or higher is better is stated per row.
A row's target is stated in its note ("target < 100 ms", "target >= 0.8", "target <= 3x"; grammar in
parse_target) and printed beside the figure with a pass/FAIL column. With --repeat N the selected benchmarks
run N times and each figure, baseline and ratio is reported as the median with its min-max spread; targets are
judged on the medians. The JSON output keeps every field of a single run and adds "target" and "pass" (null
when the row has no target); with --repeat it also adds "runs", "valueMin"/"valueMax",
"baselineMin"/"baselineMax" and "ratioMin"/"ratioMax".
"""
import argparse
import json
import os
import re
import shutil
import socket
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HUBD = os.environ.get("HANDSETHUB_HUBD", ".build/release/hubd")
# The same hubd split by Tools/split-debug, for the size figure (Tools/bench makes it).
SHIPPED = os.environ.get("HANDSETHUB_HUBD_SHIPPED")
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
        try:
            hub_times.append(hub.start())
            redis_times.append(redis.start())
            time.sleep(0.3)
            hub_rss.append(rss_kib(hub.process.pid))
            redis_rss.append(rss_kib(redis.process.pid))
            hub_anon.append(rss_kib(hub.process.pid, "RssAnon"))
            redis_anon.append(rss_kib(redis.process.pid, "RssAnon"))
        finally:  # a failed start (redis-server missing, say) must not leave a hubd holding its ports
            for process in (hub, redis):
                if getattr(process, "process", None) is not None and process.process.poll() is None:
                    process.stop()
    return [
        ("hubd start to ready (median)", statistics.median(hub_times) * 1000, "ms", "redis-server",
         statistics.median(redis_times) * 1000, "lower is better; target < 100 ms"),
        ("hubd idle RSS, reference handset", statistics.median(hub_rss) / 1024, "MiB", "redis-server",
         statistics.median(redis_rss) / 1024, "lower is better; target < 16 MiB"),
        ("hubd idle private (anonymous) RSS", statistics.median(hub_anon) / 1024, "MiB", "redis-server",
         statistics.median(redis_anon) / 1024, "lower is better; the rest is shared library pages"),
        # The static build's file: Foundation's internationalisation data (ICU) alone was 70 MB of it. What ships
        # is split by Tools/split-debug (debug information beside it in hubd.debug), as Debian ships redis-server.
        ("hubd binary as built (static Swift runtime, with debug information)", os.path.getsize(HUBD) / 1e6, "MB",
         "redis-server", os.path.getsize(shutil.which("redis-server") or HUBD) / 1e6, "lower is better"),
    ] + ([("hubd binary as shipped (Tools/split-debug)", os.path.getsize(SHIPPED) / 1e6, "MB", "redis-server",
           os.path.getsize(shutil.which("redis-server") or SHIPPED) / 1e6, "lower is better; target < 30 MB")]
         if SHIPPED and os.path.exists(SHIPPED) else [])


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
    (both include this Python client's own cost, which is the same on both sides).

    Where the servers run is pinned, the same for both, because on an idle 2-CPU VM the placement is bistable: a
    server whose previous CPU is idle is woken there, so a pair that starts on two CPUs stays apart (each round trip
    pays two cross-CPU wake-ups, about 25 us each here) and a pair that starts together stays together. Unpinned,
    one run measured the hub apart and Redis together (65 against 7 us), another the reverse. Both placements are
    reported, each with the target."""
    count = 2000 if quick else 20000
    hub = Hubd()
    hub.start()
    redis = Redis(tcp=True)
    redis.start()
    rows = []
    cpus = sorted(os.sched_getaffinity(0))
    placements = [("same CPU", cpus[:1], cpus[:1])]
    if len(cpus) > 1:
        placements.append(("two CPUs", cpus[:1], cpus[1:2]))
    try:
        transports = {
            "Unix": (lambda: connect_unix(hub.control), lambda: connect_unix(redis.sock)),
            "TCP": (lambda: connect_tcp(*hub.control_tcp()), lambda: connect_tcp("127.0.0.1", redis.port)),
        }
        hub_request, redis_request = b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}\n', b"PING\r\n"
        for placement, client_cpus, server_cpus in placements:
            os.sched_setaffinity(0, client_cpus)
            os.sched_setaffinity(hub.process.pid, server_cpus)
            os.sched_setaffinity(redis.process.pid, server_cpus)
            for name, (hub_connect, redis_connect) in transports.items():
                hsock, rsock = hub_connect(), redis_connect()
                buffer = b""
                while b"\n" not in buffer:
                    buffer += hsock.recv(65536)  # greeting
                # A warm-up each, then alternating blocks, so what changes during the run falls on both.
                round_trips(hsock, hub_request, count // 4)
                round_trips(rsock, redis_request, count // 4, terminator=b"\r\n")
                samples, base = [], []
                for _ in range(4):
                    samples += round_trips(hsock, hub_request, count // 4)
                    base += round_trips(rsock, redis_request, count // 4, terminator=b"\r\n")
                hsock.close()
                rsock.close()
                for label, fraction in (("p50", 0.5), ("p99", 0.99)):
                    target = "; target <= 2x" if label == "p50" else ""
                    rows.append((f"hub.info round trip over {name} {label}, {placement}",
                                 percentile(samples, fraction) / 1000, "us", f"redis PING ({name}, {placement})",
                                 percentile(base, fraction) / 1000, "lower is better" + target))
    finally:
        os.sched_setaffinity(0, cpus)
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
    number of subscribers, driven by the same C client (evbench.c: one pipelining publisher, one thread per
    subscriber), hub and Redis runs alternating; medians.

    One publication is one delivered message on both sides: the hub's subscribers filter on the one kind
    `irq.raised`, as each Redis subscriber gets one message per PUBLISH (`irq.*` would also take the `irq.latched`
    event each raise at a detached partition makes). Only whole lines are counted. The client is C because a
    Python client (ten reader threads and the publisher under one interpreter lock) limited both sides: with it
    the hub sat at 70-90% of a CPU, and the C client raised both figures (to 10 subscribers, on the same hub
    binary: hub 132k -> 162k events/s, Redis 290k -> 330k)."""
    total = 20000 if quick else 100000
    repeats = 3 if quick else 5
    directory = tempfile.mkdtemp(prefix="evbench-")
    binary = os.path.join(directory, "evbench")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", binary, EVBENCH_SOURCE], check=True)
    rows = []

    def rate(kind, sock, subscribers):
        result = subprocess.run([binary, kind, sock, str(subscribers), str(total)], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"evbench {kind} failed: {result.stderr.strip()}")
        seen, seconds = result.stdout.split()
        if int(seen) < total:
            raise RuntimeError(f"evbench {kind}: a subscriber saw {seen} of {total}")
        return int(seen) / float(seconds)

    try:
        for subscribers in (1, 10):
            hub = Hubd()
            hub.start()
            redis = Redis()
            redis.start()
            try:
                hub_rates, redis_rates = [], []
                for _ in range(repeats):
                    hub_rates.append(rate("hub", hub.control, subscribers))
                    redis_rates.append(rate("redis", redis.sock, subscribers))
                target = "; target >= 0.5x" if subscribers == 10 else ""
                rows.append((f"events/s delivered to {subscribers} subscriber(s)", statistics.median(hub_rates),
                             "events/s", f"redis pub/sub to {subscribers}", statistics.median(redis_rates),
                             "higher is better" + target))
            finally:
                hub.stop()
                redis.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rows


EVBENCH_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "evbench.c")
ETHBENCH_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ethbench.c")


def build_ethbench(directory):
    binary = os.path.join(directory, "ethbench")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", binary, ETHBENCH_SOURCE], check=True)
    return binary


def eth_hub(directory, tcp_ports=(), unix_ports=0, edit=None):
    """hubd on the reference handset with extra stream ports on lan0: u1, u2 (Unix), t1, t2 (TCP, when given)
    and p0..p{unix_ports-1} (Unix); `edit` rewrites the configuration text first. Returns the process."""
    default = subprocess.run([HUBD, "--print-default-config"], check=True, capture_output=True, text=True).stdout
    if edit:
        default = edit(default)
    config = default.replace("/tmp/handsethub/", directory + "/")
    for port in (7400, 7401, 5900):
        config = config.replace(f"tcp:127.0.0.1:{port}", "tcp:127.0.0.1:0")
    extra = (f'\n        - {{name: u1, stream: "unix:{directory}/u1.sock"}}'
             f'\n        - {{name: u2, stream: "unix:{directory}/u2.sock"}}')
    for index, port in enumerate(tcp_ports):
        extra += f'\n        - {{name: t{index + 1}, stream: "tcp:127.0.0.1:{port}"}}'
    for index in range(unix_ports):
        extra += f'\n        - {{name: p{index}, stream: "unix:{directory}/p{index}.sock"}}'
    marker = "        - name: linux\n          partition: linux"
    assert marker in config, "reference handset lost its lan0 ports"
    config = config.replace(marker, marker + extra, 1)
    path = os.path.join(directory, "hub.yaml")
    with open(path, "w") as handle:
        handle.write(config)
    process = subprocess.Popen([HUBD, "--config", path, "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_connectable(os.path.join(directory, "control.sock"), time.monotonic() + 30):
        process.kill()
        raise RuntimeError("hubd did not become ready")
    return process
# ---------------------------------------------------------------------------------------------
# Guest protocol benchmarks (`Protocols/guest.md`). Load comes from the Swift `hubbench` executable (HubGuest),
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


def run_load(binary, send, receive, size, count, batch, rate=0, pair=0, prefix=(), settle=0.3, cpus=None):
    """One ethbench run; returns (frames received, frames/s as the receiver saw them). `cpus`, when given, is
    (sender CPU, receiver CPU): where the generator's two threads run."""
    env = None
    if cpus is not None:
        env = dict(os.environ, ETHBENCH_SENDER_CPU=str(cpus[0]), ETHBENCH_RECEIVER_CPU=str(cpus[1]))
    result = subprocess.run([*prefix, binary, "load", send, receive, str(size), str(count), str(batch), str(rate),
                             str(pair)], capture_output=True, text=True, timeout=120, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"ethbench load {send} {receive} failed: {result.stderr.strip()}")
    out = result.stdout.split()
    # Let the switch notice both peers hung up before the next run connects (one peer per stream port).
    time.sleep(settle)
    frames, elapsed = int(out[0]), float(out[1])
    return frames, (frames / elapsed if elapsed > 0 else 0.0)


def median_load(repeats, *args, **kwargs):
    """Median rate over `repeats` runs (the machine is shared); returns (median frames, median rate)."""
    runs = [run_load(*args, **kwargs) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def run_latency(binary, send, receive, count, rate):
    result = subprocess.run([binary, "latency", send, receive, "64", str(count), str(rate)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ethbench latency {send} failed: {result.stderr.strip()}")
    frames, p50, p99 = result.stdout.split()
    time.sleep(0.3)
    return int(frames), float(p50), float(p99)


class VDESwitch:
    """vde_switch (vde2) in a private directory, as a daemon; stopped by its own pid."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "vde")
        self.pid_file = os.path.join(directory, "vde.pid")
        subprocess.run(["vde_switch", "-s", self.dir, "-d", "-p", self.pid_file], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The daemon creates its pid file and then writes it: wait for a whole line, not just the file.
        deadline = time.monotonic() + 5
        text = ""
        while time.monotonic() < deadline:
            if os.path.exists(self.pid_file):
                with open(self.pid_file) as handle:
                    text = handle.read()
                if text.endswith("\n") and text.strip().isdigit():
                    break
            time.sleep(0.02)
        if not text.strip().isdigit():
            raise RuntimeError(f"vde_switch wrote no pid to {self.pid_file} within 5 s (read {text!r})")
        self.pid = int(text.strip())

    def stop(self):
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            pass


class BridgeNamespace:
    """A network namespace holding a Linux bridge with two taps (eb0, eb1) enslaved, for the bridge baseline."""

    def __init__(self):
        self.name = f"hhbench{os.getpid()}"
        commands = [
            ["ip", "netns", "add", self.name],
            ["ip", "netns", "exec", self.name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
            ["ip", "netns", "exec", self.name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            ["ip", "-n", self.name, "link", "add", "br0", "type", "bridge"],
            ["ip", "-n", self.name, "tuntap", "add", "dev", "eb0", "mode", "tap"],
            ["ip", "-n", self.name, "tuntap", "add", "dev", "eb1", "mode", "tap"],
            ["ip", "-n", self.name, "link", "set", "eb0", "master", "br0", "up"],
            ["ip", "-n", self.name, "link", "set", "eb1", "master", "br0", "up"],
            ["ip", "-n", self.name, "link", "set", "br0", "up"],
        ]
        try:
            for command in commands:
                subprocess.run(command, check=True, capture_output=True)
        except Exception:
            self.stop()
            raise
        self.prefix = ("ip", "netns", "exec", self.name)

    def stop(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@benchmark("ethernet")
def bench_ethernet(quick):
    """lan0 stream ports against a trivial C relay, vde_switch (datagram ports and vde_plug cables) and a Linux
    bridge between two taps, all driven by the same generator in the same run; medians of repeated runs."""
    directory = tempfile.mkdtemp(prefix="ethbench-")
    binary = build_ethbench(directory)
    tcp = [free_tcp_port(), free_tcp_port()]
    hub = eth_hub(directory, tcp, unix_ports=32)
    # The same hub with receive coalescing off (Protocols/ethernet.md 4.8): what coalescing is worth on QEMU's
    # path and what it costs in latency under load, measured beside the hub as configured by default.
    plain_directory = os.path.join(directory, "plain")
    os.makedirs(plain_directory)
    plain_tcp = [free_tcp_port(), free_tcp_port()]
    plain = eth_hub(plain_directory, plain_tcp,
                    edit=lambda text: re.sub(r"ethernetStreamCoalesceMicros: \S+", "ethernetStreamCoalesceMicros: 0", text))
    plain_u = (f"unix:{plain_directory}/u1.sock", f"unix:{plain_directory}/u2.sock")
    vde = VDESwitch(directory)
    repeats = 1 if quick else 3
    rows = []
    hub_u = (f"unix:{directory}/u1.sock", f"unix:{directory}/u2.sock")
    vde_dgram = (f"vde:{vde.dir}", f"vde:{vde.dir}")
    vde_cable = (f"vdeplug:{vde.dir}", f"vdeplug:{vde.dir}")
    rates = {}

    def relay_load(transport, *args, relay_prefix=(), work_ns=0, mode="relay", **kwargs):
        """One run through a fresh C relay (spending `work_ns` of CPU on every read when given; `mode`
        "relay-uring": the io_uring relay); returns (frames, rate, relay CPU seconds), or None when the io_uring
        relay found io_uring refused."""
        if transport == "unix":
            ends = (f"unix:{directory}/r1.sock", f"unix:{directory}/r2.sock")
        else:
            ends = (f"tcp:127.0.0.1:{free_tcp_port()}", f"tcp:127.0.0.1:{free_tcp_port()}")
        work = [str(work_ns)] if work_ns else []
        relay = subprocess.Popen([*relay_prefix, binary, mode, ends[0], ends[1], *work])
        try:
            frames, rate = run_load(binary, ends[0], ends[1], *args, settle=0, **kwargs)
            # Before `poll`, which reaps a relay that has ended.
            cpu, reads = _cpu_ns(relay.pid) / 1e9, _read_calls(relay.pid)
            return None if relay.poll() == 3 else (frames, rate, cpu, reads)
        finally:
            relay.kill()
            relay.wait()

    def hub_load(*args, through=None, **kwargs):
        """One run through the hub (or `through`, another hub process); returns (frames, rate, hub CPU seconds,
        hub read calls during the run)."""
        process = through or hub
        before, reads_before = _cpu_ns(process.pid), _read_calls(process.pid)
        frames, rate = run_load(*args, settle=0, **kwargs)
        cpu, reads = (_cpu_ns(process.pid) - before) / 1e9, _read_calls(process.pid) - reads_before
        time.sleep(0.3)  # the switch notices both peers hung up before the next run connects
        return frames, rate, cpu, reads

    def placed_pair(transport, sender_cpu, receiver_cpu, forwarder_cpu, count):
        """One hub run and one relay run with the generator's sender and receiver threads and the forwarder (every
        hub thread, or the relay) each on a given CPU; the hub's own placement is restored afterwards."""
        everywhere = os.sched_getaffinity(hub.pid)
        pin(hub.pid, {forwarder_cpu})
        try:
            ends = hub_u if transport == "unix" else (f"tcp:127.0.0.1:{tcp[0]}", f"tcp:127.0.0.1:{tcp[1]}")
            hub_run = hub_load(binary, ends[0], ends[1], 64, count, 1, cpus=(sender_cpu, receiver_cpu))
        finally:
            pin(hub.pid, everywhere)
        relay_run = relay_load(transport, 64, count, 1, cpus=(sender_cpu, receiver_cpu),
                               relay_prefix=["taskset", "-c", str(forwarder_cpu)])
        return hub_run, relay_run

    try:
        regimes = [
            ("coalesced 64 B, Unix", "unix", 64, 256),
            ("coalesced 1500 B, Unix", "unix", 1500, 64),
            ("one frame per write 64 B, Unix", "unix", 64, 1),
            ("one frame per write 64 B, TCP", "tcp", 64, 1),
        ]
        # QEMU's path (one frame per write): at least the relay's rate; coalesced 1500 B: 0.8 of it.
        targets = {"coalesced 64 B, Unix": "target >= 0.10", "coalesced 1500 B, Unix": "target >= 0.80",
                   "one frame per write 64 B, Unix": "target >= 1.0", "one frame per write 64 B, TCP": "target >= 1.0"}
        for label, transport, size, batch in regimes:
            # Each run long enough (about 0.1-0.5 s at the relay's rate) that scheduling noise does not decide it, and
            # at least three hub and relay runs interleaved even with --quick: the rows with targets (every row but
            # coalesced 64 B) measured 5-20 ms runs before, whose spread (655k-947k frames/s) hid any change.
            if label == "coalesced 64 B, Unix":
                count = 20000 if quick else 200000
            else:
                count = 200000 if quick else 500000
            row_repeats = repeats if label == "coalesced 64 B, Unix" else max(3, repeats)
            ends = hub_u if transport == "unix" else (f"tcp:127.0.0.1:{tcp[0]}", f"tcp:127.0.0.1:{tcp[1]}")
            plain_ends = plain_u if transport == "unix" else (f"tcp:127.0.0.1:{plain_tcp[0]}",
                                                               f"tcp:127.0.0.1:{plain_tcp[1]}")
            hub_runs, relay_runs, working_relay_runs, uring_relay_runs, plain_runs = [], [], [], [], []
            for _ in range(row_repeats):  # interleaved, so both see the same background load
                hub_runs.append(hub_load(binary, ends[0], ends[1], size, count, batch))
                relay_runs.append(relay_load(transport, size, count, batch))
                if batch == 1:
                    plain_runs.append(hub_load(binary, plain_ends[0], plain_ends[1], size, count, batch,
                                               through=plain))
                    working_relay_runs.append(relay_load(transport, size, count, batch, work_ns=1000))
                    uring_relay_runs.append(relay_load(transport, size, count, batch, mode="relay-uring"))
            hub_frames = statistics.median(r[0] for r in hub_runs)
            hub_rate = statistics.median(r[1] for r in hub_runs)
            relay_rate = statistics.median(r[1] for r in relay_runs)
            rates[label] = hub_rate
            loss = 100.0 * (count - hub_frames) / count
            rows.append((f"lan0 {label}", hub_rate, "frames/s", "C byte relay", relay_rate,
                         f"{loss:.1f}% lost at full offered load; {targets.get(label, '')}".rstrip("; ")))
            # CPU (every thread's run time, /proc/PID/task/*/schedstat) per frame forwarded, against the relay's.
            hub_cpu = statistics.median(r[2] / max(r[0], 1) * 1e6 for r in hub_runs)
            relay_cpu = statistics.median(r[2] / max(r[0], 1) * 1e6 for r in relay_runs)
            rows.append((f"lan0 hub CPU per forwarded frame, {label}", hub_cpu, "us", "C byte relay", relay_cpu,
                         "lower is better" + ("; target <= 1x" if batch == 1 else "")))
            if batch == 1 and all(r[3] for r in hub_runs + relay_runs):
                # Calibration, no target: where the CPU per frame goes. A forwarder makes a wait, a read and a write
                # for each batch the peer's writes left in the socket, so reads per frame is how well it batched
                # (the scheduler decides it as much as the forwarder does), and CPU per read is what one such cycle
                # cost it: the system calls and context switches, which are the same for both, plus the
                # forwarder's own work in user space, which the relay does not have.
                hub_reads = statistics.median(r[3] / max(r[0], 1) * 1e3 for r in hub_runs)
                relay_reads = statistics.median(r[3] / max(r[0], 1) * 1e3 for r in relay_runs)
                rows.append((f"lan0 reads per 1000 forwarded frames, {label}", hub_reads, "reads", "C byte relay",
                             relay_reads, "calibration: fewer is better batching; no target"))
                hub_cycle = statistics.median(r[2] / max(r[3], 1) * 1e6 for r in hub_runs)
                relay_cycle = statistics.median(r[2] / max(r[3], 1) * 1e6 for r in relay_runs)
                rows.append((f"lan0 forwarder CPU per read, {label}", hub_cycle, "us", "C byte relay", relay_cycle,
                             "calibration: a wait, a read and a write, and the work between them; no target"))
            if plain_runs:
                # Calibration, no target: the hub with receive coalescing off against the same relay runs, as the
                # hub was before coalescing (Protocols/ethernet.md 4.8), and its reads per frame.
                plain_rate = statistics.median(r[1] for r in plain_runs)
                plain_cpu = statistics.median(r[2] / max(r[0], 1) * 1e6 for r in plain_runs)
                rows.append((f"lan0 {label}, coalescing off", plain_rate, "frames/s", "C byte relay", relay_rate,
                             "calibration: the same hub with ethernetStreamCoalesceMicros 0; no target"))
                rows.append((f"lan0 hub CPU per forwarded frame, {label}, coalescing off", plain_cpu, "us",
                             "C byte relay", relay_cpu, "lower is better; calibration"))
                if all(r[3] for r in plain_runs):
                    rows.append((f"lan0 reads per 1000 forwarded frames, {label}, coalescing off",
                                 statistics.median(r[3] / max(r[0], 1) * 1e3 for r in plain_runs), "reads",
                                 "C byte relay", statistics.median(r[3] / max(r[0], 1) * 1e3 for r in relay_runs),
                                 "calibration; no target"))
            if working_relay_runs:
                # Calibration, no target: the same relay spending 1 us of CPU on every read (a clock loop) before
                # writing it out. Unpinned, the forwarder's work per read decides where the scheduler puts it and
                # so how many frames each read finds (over TCP a read and write cycle costs about 8 us of kernel
                # time, whatever it carries). This row shows what that much work alone costs the relay here.
                working_rate = statistics.median(r[1] for r in working_relay_runs)
                working_cpu = statistics.median(r[2] / max(r[0], 1) * 1e6 for r in working_relay_runs)
                rows.append((f"lan0 {label}", hub_rate, "frames/s", "C byte relay doing 1 us of work per read",
                             working_rate, "calibration: what 1 us of work per read costs a relay; no target"))
                rows.append((f"lan0 hub CPU per forwarded frame, {label}", hub_cpu, "us",
                             "C byte relay doing 1 us of work per read", working_cpu, "lower is better; calibration"))
            if uring_relay_runs and None in uring_relay_runs:
                print(f"bench: ethernet: io_uring relay rows left out for {label}: the kernel refused io_uring",
                      file=sys.stderr)
            elif uring_relay_runs:
                # Calibration, no target: the same copy on io_uring, one io_uring_enter per read where the relay
                # (and the hub, on libuv) make a poll, a read and a write. What the I/O model alone is worth here.
                uring_rate = statistics.median(r[1] for r in uring_relay_runs)
                uring_cpu = statistics.median(r[2] / max(r[0], 1) * 1e6 for r in uring_relay_runs)
                rows.append((f"lan0 {label}", hub_rate, "frames/s", "C byte relay on io_uring", uring_rate,
                             "calibration: one syscall per read and write instead of three; no target"))
                rows.append((f"lan0 hub CPU per forwarded frame, {label}", hub_cpu, "us", "C byte relay on io_uring",
                             uring_cpu, "lower is better; calibration"))

        # The same one-frame-per-write runs with the placement fixed, identically for the hub and the relay. Unpinned,
        # the scheduler decides where the forwarder and the generator's two threads run (three busy threads on two
        # CPUs here), and that decides the figure more than either forwarder does (from about 0.2M to 1.5M
        # frames/s for the same forwarder): a forwarder that sleeps often (the relay, idle more often because it
        # does no work per frame) is moved at its wake-ups, often next to the sender, which is the fast placement;
        # a forwarder that never runs dry stays where it is. Pinned, both meet each placement alike: which threads
        # share a CPU, written sender / receiver / forwarder.
        if len(os.sched_getaffinity(0)) >= 2:
            first, second = sorted(os.sched_getaffinity(0))[:2]
            placements = [
                ("forwarder with receiver", first, second, second),
                ("forwarder with sender", first, second, first),
                ("forwarder alone", first, first, second),
                ("all on one CPU", first, first, first),
            ]
            for transport in ("unix", "tcp"):
                for place, sender_cpu, receiver_cpu, forwarder_cpu in placements:
                    count = 200000 if quick else 500000
                    runs = [placed_pair(transport, sender_cpu, receiver_cpu, forwarder_cpu, count)
                            for _ in range(max(3, repeats))]
                    hub_rate = statistics.median(r[0][1] for r in runs)
                    relay_rate = statistics.median(r[1][1] for r in runs)
                    label = f"one frame per write 64 B, {'Unix' if transport == 'unix' else 'TCP'}, {place}"
                    rows.append((f"lan0 {label}", hub_rate, "frames/s", "C byte relay, same placement", relay_rate,
                                 "same placement for both; the unpinned row above carries the target"))
                    hub_cpu = statistics.median(r[0][2] / max(r[0][0], 1) * 1e6 for r in runs)
                    relay_cpu = statistics.median(r[1][2] / max(r[1][0], 1) * 1e6 for r in runs)
                    rows.append((f"lan0 hub CPU per forwarded frame, {label}", hub_cpu, "us",
                                 "C byte relay, same placement", relay_cpu, "lower is better"))

        # vde_switch: datagram ports (one frame per datagram, as QEMU's vde backend) and vde_plug stream cables.
        count = 5000 if quick else 50000
        vde_frames, vde_rate = median_load(repeats, binary, *vde_dgram, 64, count, 1)
        rows.append(("lan0 one frame per write 64 B, Unix", rates["one frame per write 64 B, Unix"], "frames/s",
                     "vde_switch datagram ports", vde_rate,
                     f"vde lost {100.0 * (count - vde_frames) / count:.1f}% at full load; target >= 1.5"))
        cable_count = (20000 if quick else 200000)
        cable_frames, cable_rate = median_load(repeats, binary, *vde_cable, 64, cable_count, 256)
        best_vde = max(vde_rate, cable_rate)
        rows.append(("lan0 coalesced 64 B, Unix", rates["coalesced 64 B, Unix"], "frames/s",
                     "vde_switch, best of datagram/cable", best_vde,
                     f"vde_plug cables coalesced: {cable_rate:.0f} frames/s, "
                     f"{100.0 * (cable_count - cable_frames) / cable_count:.1f}% lost; target >= 8"))

        # Linux bridge between two taps (one frame per read/write, as a tap wants them).
        bridge = BridgeNamespace()
        try:
            _, bridge_rate = median_load(repeats, binary, "tap:eb0", "tap:eb1", 64, count, 1, prefix=bridge.prefix)
        finally:
            bridge.stop()
        rows.append(("lan0 one frame per write 64 B, Unix", rates["one frame per write 64 B, Unix"], "frames/s",
                     "Linux bridge, two taps", bridge_rate, "tap: one frame per syscall"))

        # Loss at offered loads below capacity: each system at half and at 80% of its own measured rate.
        for fraction in (0.5, 0.8):
            offered = fraction * rates["one frame per write 64 B, Unix"]
            hub_frames, _ = median_load(repeats, binary, *hub_u, 64, count, 1, rate=offered)
            offered_vde = fraction * cable_rate
            cable_frames, _ = median_load(repeats, binary, *vde_cable, 64, count, 1, rate=offered_vde)
            same_frames, _ = median_load(repeats, binary, *vde_cable, 64, count, 1, rate=offered)
            hub_loss = 100.0 * (count - hub_frames) / count
            vde_loss = 100.0 * (count - cable_frames) / count
            same_loss = 100.0 * (count - same_frames) / count
            rows.append((f"lan0 loss at {fraction:.0%} of capacity, one frame per write", hub_loss, "%",
                         "vde_plug cables, same fraction", vde_loss,
                         f"offered {offered:.0f} vs {offered_vde:.0f} frames/s; target 0% (lower is better)"))
            rows.append((f"lan0 loss at {offered:.0f} frames/s offered", hub_loss, "%",
                         "vde_plug cables, same offered load", same_loss, "lower is better"))

        # Forwarding with 2, 8 and 32 active ports: pairs p(2i) -> p(2i+1), coalesced 64-byte frames, all at once.
        for active in (2, 8, 32):
            pairs = active // 2
            per_pair = max(2000, (20000 if quick else 200000) // pairs)
            samples = []
            for _ in range(repeats):
                processes = [subprocess.Popen([binary, "load", f"unix:{directory}/p{2 * i}.sock",
                                               f"unix:{directory}/p{2 * i + 1}.sock", "64", str(per_pair), "256",
                                               "0", str(i)], stdout=subprocess.PIPE, text=True)
                             for i in range(pairs)]
                outputs = [process.communicate(timeout=120)[0].split() for process in processes]
                frames = sum(int(out[0]) for out in outputs)
                elapsed = max(float(out[1]) for out in outputs)
                samples.append((frames / elapsed if elapsed > 0 else 0.0, frames))
                time.sleep(0.3)
            rate = statistics.median(s[0] for s in samples)
            lost = pairs * per_pair - statistics.median(s[1] for s in samples)
            rows.append((f"lan0 forwarding, {active} active ports (coalesced 64 B)", rate, "frames/s",
                         "lan0, 2 active ports", rows_rate(rows, "lan0 forwarding, 2 active ports") or rate,
                         f"{pairs} sender/receiver pairs at once; {lost:.0f} frames lost"))

        # One-way latency at 10,000 frames/s: through lan0 against a direct socketpair and the relay.
        latency_count = 5000 if quick else 30000
        hub_lat = [run_latency(binary, *hub_u, latency_count, 10000) for _ in range(repeats)]
        direct_lat = [run_latency(binary, "direct", "direct", latency_count, 10000) for _ in range(repeats)]
        relay_lat = []
        for _ in range(repeats):
            ends = (f"unix:{directory}/l1.sock", f"unix:{directory}/l2.sock")
            relay = subprocess.Popen([binary, "relay", *ends])
            try:
                relay_lat.append(run_latency(binary, *ends, latency_count, 10000))
            finally:
                relay.kill()
                relay.wait()
        for index, label in ((1, "p50"), (2, "p99")):
            hub_value = statistics.median(r[index] for r in hub_lat)
            rows.append((f"lan0 one-way latency {label} at 10,000 frames/s", hub_value, "us", "direct socketpair",
                         statistics.median(r[index] for r in direct_lat), "lower is better"))
            rows.append((f"lan0 one-way latency {label} at 10,000 frames/s", hub_value, "us", "C byte relay (one hop)",
                         statistics.median(r[index] for r in relay_lat), "lower is better"))
        # The price of receive coalescing: one-way latency with frames arriving faster than one per read (Unix,
        # 200,000 frames/s, one per write), the hub as configured against the same hub with coalescing off. A
        # frame that arrives while its peer's read is held waits up to ethernetStreamCoalesceMicros more.
        loaded_on, loaded_off = [], []
        for _ in range(repeats):
            loaded_on.append(run_latency(binary, *hub_u, latency_count * 4, 200000))
            loaded_off.append(run_latency(binary, *plain_u, latency_count * 4, 200000))
        for index, label in ((1, "p50"), (2, "p99")):
            rows.append((f"lan0 one-way latency {label} at 200,000 frames/s", statistics.median(r[index] for r in loaded_on),
                         "us", "same hub, coalescing off", statistics.median(r[index] for r in loaded_off),
                         "lower is better; the price of coalescing, bounded by ethernetStreamCoalesceMicros"))
        rows.append(("hubd RSS after the Ethernet runs", rss_kib(hub.pid) / 1024, "MiB", "-", 0.0, ""))
    finally:
        hub.terminate()
        hub.wait(timeout=5)
        plain.terminate()
        plain.wait(timeout=5)
        vde.stop()

    # Resident memory with 1,000 stream ports on lan0, against the same hub with two, and the cost of the
    # malloc thresholds hubd raises only when stream ports exist (the reference handset has none).
    try:
        reference = Hubd()
        reference.start()
        time.sleep(1.0)
        reference_rss = rss_kib(reference.process.pid) / 1024
        reference.stop()
        rss = []
        for extra in (0, 1000):
            sub = os.path.join(directory, f"rss{extra}")
            os.makedirs(sub)
            process = eth_hub(sub, unix_ports=extra)
            try:
                time.sleep(1.0)
                rss.append(rss_kib(process.pid) / 1024)
            finally:
                process.terminate()
                process.wait(timeout=10)
        rows.append(("hubd idle RSS, 2 stream ports (malloc thresholds raised)", rss[0], "MiB",
                     "reference handset (defaults)", reference_rss, "lower is better; target < 20 MiB"))
        rows.append(("hubd RSS with 1,000 stream ports on lan0", rss[1], "MiB", "same hub, 2 stream ports", rss[0],
                     "idle, listening; lower is better"))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rows


def rows_rate(rows, prefix):
    return next((row[1] for row in rows if row[0].startswith(prefix)), None)


# --- framebuffer (`Protocols/framebuffer.md`) ----------------------------------------------------------------

FB_W, FB_H = 480, 800


def _recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(min(count - len(data), 1 << 20))
        if not chunk:
            raise RuntimeError("viewer connection closed")
        data += chunk
    return bytes(data)


def _rfb_viewer_connect(port, encoding):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _recv_exact(sock, 12)
    sock.sendall(b"RFB 003.008\n")
    count = _recv_exact(sock, 1)[0]
    _recv_exact(sock, count)
    sock.sendall(b"\x01")
    _recv_exact(sock, 4)
    sock.sendall(b"\x01")
    header = _recv_exact(sock, 24)
    _recv_exact(sock, int.from_bytes(header[20:24], "big"))
    import struct
    encodings = list(encoding) if isinstance(encoding, (list, tuple)) else [encoding]
    sock.sendall(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))
    return sock


def _skip_hextile(sock, w, h):
    total = 0
    for ty in range(0, h, 16):
        for tx in range(0, w, 16):
            tw, th = min(16, w - tx), min(16, h - ty)
            mask = _recv_exact(sock, 1)[0]
            total += 1
            if mask & 1:
                _recv_exact(sock, tw * th * 4)
                total += tw * th * 4
                continue
            size = (4 if mask & 2 else 0) + (4 if mask & 4 else 0)
            if size:
                _recv_exact(sock, size)
                total += size
            if mask & 8:
                count = _recv_exact(sock, 1)[0]
                per = 6 if mask & 16 else 2
                _recv_exact(sock, count * per)
                total += 1 + count * per
    return total


def _compact_length(sock):
    length = 0
    for shift in (0, 7, 14):
        value = _recv_exact(sock, 1)[0]
        length |= (value if shift == 14 else value & 0x7F) << shift
        if shift < 14 and not value & 0x80:
            break
    return length


def _skip_tight(sock, w, h):
    """Skips one Tight rectangle (Protocols/framebuffer.md §2.6, native format: 3-byte TPIXELs)."""
    control = _recv_exact(sock, 1)[0] >> 4
    if control == 8:
        _recv_exact(sock, 3)
        return 4
    if control == 9:
        length = _compact_length(sock)
        _recv_exact(sock, length)
        return 1 + length
    size = 1
    data = w * h * 3
    if control & 4:
        size += 1
        if _recv_exact(sock, 1)[0] == 1:
            colours = _recv_exact(sock, 1)[0] + 1
            _recv_exact(sock, colours * 3)
            size += 1 + colours * 3
            data = (w + 7) // 8 * h if colours == 2 else w * h
    if data >= 12:
        data = _compact_length(sock)
    _recv_exact(sock, data)
    return size + data


def _read_update(sock):
    """Reads one FramebufferUpdate; returns its size in bytes."""
    import struct
    _, count = struct.unpack(">BxH", _recv_exact(sock, 4))
    size = 4
    for _ in range(count):
        x, y, w, h, encoding = struct.unpack(">HHHHi", _recv_exact(sock, 12))
        size += 12
        if encoding == 0:
            _recv_exact(sock, w * h * 4)
            size += w * h * 4
        elif encoding == 16:
            length = int.from_bytes(_recv_exact(sock, 4), "big")
            _recv_exact(sock, length)
            size += 4 + length
        elif encoding == 5:
            size += _skip_hextile(sock, w, h)
        elif encoding == 1:
            _recv_exact(sock, 4)
            size += 4
        elif encoding == 7:
            size += _skip_tight(sock, w, h)
        else:
            raise RuntimeError(f"unexpected encoding {encoding}")
    return size


class _BufferedViewerSocket:
    """Reads the viewer's socket in large chunks, so parsing Hextile tile by tile costs Python calls, not
    one recv system call per tile (which made the 4-viewer Hextile figure measure the viewers)."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.offset = 0

    def recv(self, count):
        if self.offset >= len(self.buffer):
            self.buffer = self.sock.recv(1 << 20)
            self.offset = 0
            if not self.buffer:
                return b""
        chunk = self.buffer[self.offset:self.offset + count]
        self.offset += len(chunk)
        return chunk

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def _viewer_process(port, encoding, seconds, results):
    """A viewer that asks for the next update as soon as it has the previous one."""
    import struct
    sock = _BufferedViewerSocket(_rfb_viewer_connect(port, encoding))
    sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, FB_W, FB_H))
    frames, total, started = 0, 0, time.monotonic()
    while time.monotonic() - started < seconds:
        total += _read_update(sock)
        frames += 1
        sock.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, FB_W, FB_H))
    results.put((frames, total, time.monotonic() - started))
    sock.close()


def pin(pid, cpus):
    """Pins every thread of `pid` to `cpus` (a set of CPU numbers, or a string such as "1" or "0,1")."""
    wanted = {int(c) for c in cpus.split(",")} if isinstance(cpus, str) else set(cpus)
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(task), wanted)
        except (ProcessLookupError, FileNotFoundError):
            pass


def _cpu_ns(pid):
    """Nanoseconds every thread of `pid` has run (schedstat: finer than the clock ticks of /proc/PID/stat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def _read_calls(pid):
    """read-family system calls every thread of `pid` has made (/proc/PID/io syscr; a process that has ended but is
    not yet reaped still reports its own); 0 where the kernel keeps no I/O accounting."""
    try:
        with open(f"/proc/{pid}/io") as accounting:
            for line in accounting:
                if line.startswith("syscr:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BaselineRFB:
    """The same bytes as a raw-encoded full-screen update, copied to viewers by a plain socket server."""

    def __init__(self):
        import struct
        import threading
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.update = struct.pack(">BxHHHHHi", 0, 1, 0, 0, FB_W, FB_H, 0) + bytes(FB_W * FB_H * 4)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        import threading
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.client, args=(conn,), daemon=True).start()

    def client(self, conn):
        import struct
        try:
            conn.sendall(b"RFB 003.008\n")
            _recv_exact(conn, 12)
            conn.sendall(b"\x01\x01")
            _recv_exact(conn, 1)
            conn.sendall(b"\x00\x00\x00\x00")
            _recv_exact(conn, 1)
            conn.sendall(struct.pack(">HH", FB_W, FB_H) + bytes(16) + b"\x00\x00\x00\x00")
            _recv_exact(conn, 8)
            while True:
                _recv_exact(conn, 10)
                conn.sendall(self.update)
        except (OSError, RuntimeError):
            conn.close()

    def close(self):
        self.listener.close()


def _fb_hub():
    hub = Hubd()
    with open(hub.config_path) as handle:
        text = handle.read()
    import re
    text = re.sub(r"tcp:127\.0\.0\.1:(5900|740\d)", "tcp:127.0.0.1:0", text)
    text = text.replace("/tmp/handsethub/", hub.dir + "/").replace("refreshHz: 60", "refreshHz: 0")
    with open(hub.config_path, "w") as handle:
        handle.write(text)
    hub.log_path = os.path.join(hub.dir, "hubd.log")
    started = time.monotonic()
    with open(hub.log_path, "wb") as log:
        hub.process = subprocess.Popen([HUBD, "--config", hub.config_path, "--log-level", "warning"],
                                       stdout=log, stderr=log)
    if not wait_connectable(hub.control, started + 10):
        raise RuntimeError("hubd did not become ready")
    return hub


def _run_viewers(port, encoding, viewers, seconds):
    import multiprocessing
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_viewer_process, args=(port, encoding, seconds, results))
                 for _ in range(viewers)]
    for process in processes:
        process.start()
    return processes, results


@benchmark("framebuffer")
def bench_framebuffer(quick):
    """Full-screen 480x800 frames from a guest at max rate to 1 and 4 viewers; small-damage latency."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
    from handsethub.control import HubClient
    from handsethub.guest import FramebufferChannel, GuestClient
    seconds = 3 if quick else 8
    rows = []
    # Textured frames (gradients with bands), so compressed encodings are not flattered by flat colour.
    frames_bytes = []
    for n in range(2):
        lines = []
        for y in range(FB_H):
            band = (y // 40 + n) % 4
            lines.append(bytes(v for x in range(FB_W)
                              for v in ((x + y + n * 7) % 256, (band * 60) % 256, (x // 16 * 16) % 256, 0)))
        frames_bytes.append(b"".join(lines))
    hub = _fb_hub()
    baseline = _BaselineRFB()
    try:
        # The baseline first: the guest below must keep answering heartbeats, so it never sits idle.
        baseline_fps = {}
        for viewers in (1, 4):
            bprocs, bresults = _run_viewers(baseline.port, 0, viewers, seconds)
            bgot = [bresults.get(timeout=30) for _ in bprocs]
            for process in bprocs:
                process.join()
            baseline_fps[viewers] = statistics.median(f / t for f, _, t in bgot)
        control = HubClient(f"unix:{hub.control}")
        port = int(control.call("fb.info")["rfbEndpoints"][0].rsplit(":", 1)[1])
        guest = GuestClient.connect(f"unix:{hub.dir}/guest.sock", "rtos", "rtos-dev-secret")
        fb = FramebufferChannel(guest)
        fb.preempt()
        surface = fb.map_surface()

        def draw(frames, shared):
            if shared:
                # The whole frame into the memfd (one memcpy), then one FLUSH naming the screen.
                surface[0:FB_W * FB_H * 4] = frames_bytes[frames % 2]
                fb.flush(0, 0, FB_W, FB_H)
            else:
                fb.put(0, 0, FB_W, FB_H, frames_bytes[frames % 2])
            fb.frame(frames)
            fb.next_event(kind="frame_done", timeout=5)

        runs = [(encoding, name, viewers, False) for encoding, name in ((0, "raw"), (16, "zrle"), (5, "hextile"))
                for viewers in (1, 4)]
        # Shared surface: one FLUSH, so one update, per frame. What common viewers ask first: noVNC and
        # TigerVNC Tight with JPEG (quality 6 and 8, compression level 2), TigerVNC without JPEG (lossless),
        # RealVNC ZRLE, simple clients Raw.
        runs += [(0, "raw via shared surface", 4, True), (16, "zrle via shared surface", 4, True),
                 ((7, -32 + 6, -256 + 2), "tight-jpeg q6 (noVNC) via shared surface", 4, True),
                 ((7, -32 + 8, -256 + 2), "tight-jpeg q8 (TigerVNC) via shared surface", 4, True),
                 ((7, -256 + 2), "tight lossless via shared surface", 4, True)]
        for encoding, name, viewers, shared in runs:
            processes, results = _run_viewers(port, encoding, viewers, seconds)
            time.sleep(0.5)
            cpu0, wall0, frames = _cpu_seconds(hub.process.pid), time.monotonic(), 0
            while time.monotonic() - wall0 < seconds - 0.6:
                draw(frames, shared)
                frames += 1
            wall = time.monotonic() - wall0
            cpu = _cpu_seconds(hub.process.pid) - cpu0
            measured_frames = frames
            # Keep drawing (unmeasured) until every viewer has finished its own timed run.
            while any(process.is_alive() for process in processes) and results.qsize() < len(processes):
                draw(frames, shared)
                frames += 1
            got = [results.get(timeout=30) for _ in processes]
            for process in processes:
                process.join()
            fps = statistics.median(f / t for f, _, t in got)
            per_frame = sum(b for _, b, _ in got) / max(1, sum(f for f, _, _ in got))
            base_fps = baseline_fps.get(viewers, 0.0) if encoding == 0 and not shared else 0.0
            # Target (full frames to 4 viewers): at least 60 updates/s each, within one core.
            target = "; target >= 60 upd/s" if shared and viewers == 4 else ""
            rows.append((f"{name}: guest full frames/s shown, {viewers} viewer(s)", measured_frames / wall, "fps",
                         "-", 0.0, "FRAME_DONE paced: composed and offered to every viewer"))
            rows.append((f"{name}: updates/s per viewer, {viewers} viewer(s)",
                         fps, "upd/s", "plain socket server, full raw frames" if encoding == 0 else "-", base_fps,
                         ("one FLUSH per frame" if shared else "a 1.5 MB frame arrives as 2 PUTs, so ~2 updates per frame")
                         + target))
            rows.append((f"{name}: bytes per update, {viewers} viewer(s)", per_frame / 1024, "KiB",
                         "raw frame", (FB_W * FB_H * 4 + 16) / 1024, "lower is better"))
            rows.append((f"{name}: hub CPU share, {viewers} viewer(s)", 100 * cpu / wall, "% of a core",
                         "-", 0.0, "target < 100"))
        # Small-rectangle latency: guest FILL 16x16 -> viewer has the update.
        import struct
        viewer = _rfb_viewer_connect(port, 0)
        viewer.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, FB_W, FB_H))
        _read_update(viewer)
        samples = []
        for index in range(200 if quick else 1000):
            viewer.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, FB_W, FB_H))
            time.sleep(0.0005)
            started = time.perf_counter_ns()
            fb.fill(100, 100, 16, 16, 0x010101 * (index % 200))
            _read_update(viewer)
            samples.append(time.perf_counter_ns() - started)
        shm_samples = []
        for index in range(len(samples)):
            viewer.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, FB_W, FB_H))
            time.sleep(0.0005)
            started = time.perf_counter_ns()
            for row in range(16):
                start = ((100 + row) * FB_W + 100) * 4
                surface[start:start + 64] = bytes((index % 200, 0, 0, 0)) * 16
            fb.flush(100, 100, 16, 16)
            _read_update(viewer)
            shm_samples.append(time.perf_counter_ns() - started)
        viewer.close()
        # Baseline: a 16x16 raw update's bytes relayed by socat between two sockets.
        relay_dir = tempfile.mkdtemp(prefix="fbrelay-")
        listen = socket.socket()
        listen.bind(("127.0.0.1", 0))
        listen.listen(1)
        relay = subprocess.Popen(["socat", f"UNIX-LISTEN:{relay_dir}/in.sock",
                                  f"TCP:127.0.0.1:{listen.getsockname()[1]}"], stderr=subprocess.DEVNULL)
        wait_connectable_file = time.monotonic() + 5
        while not os.path.exists(f"{relay_dir}/in.sock") and time.monotonic() < wait_connectable_file:
            time.sleep(0.01)
        sender = socket.socket(socket.AF_UNIX)
        sender.connect(f"{relay_dir}/in.sock")
        receiver, _ = listen.accept()
        message = bytes(16 + 16 * 16 * 4)
        base = []
        for _ in range(len(samples)):
            time.sleep(0.0005)
            started = time.perf_counter_ns()
            sender.sendall(message)
            _recv_exact(receiver, len(message))
            base.append(time.perf_counter_ns() - started)
        relay.terminate()
        relay.wait()
        shutil.rmtree(relay_dir, ignore_errors=True)
        for label, fraction in (("p50", 0.5), ("p99", 0.99)):
            rows.append((f"guest 16x16 fill to viewer update {label}", percentile(samples, fraction) / 1000, "us",
                         "socat relay of the same bytes", percentile(base, fraction) / 1000, "lower is better"))
        for label, fraction in (("p50", 0.5), ("p99", 0.99)):
            rows.append((f"guest 16x16 shared-surface draw+FLUSH to viewer update {label}",
                         percentile(shm_samples, fraction) / 1000, "us", "socat relay of the same bytes",
                         percentile(base, fraction) / 1000, "lower is better"))
        guest.close()
        control.close()
    except Exception:
        with open(hub.log_path, errors="replace") as log:
            sys.stderr.write("hubd log:\n" + log.read()[-3000:] + f"\nhubd exit status: {hub.process.poll()}\n")
        raise
    finally:
        baseline.close()
        hub.stop()
    return rows


def hubbench(*args):
    return subprocess.Popen([HUBBENCH, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)


def json_line(process, timeout=300):
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        raise RuntimeError(f"{process.args[1]}: no output; stderr: {process.stderr.read()}")
    return json.loads(line)


def ping_pong(hub_endpoint, direct, count, a="rtos", b="secure", line=2, secret_free=False, scheduled=None,
              eoi_separate=False):
    """Direct ping-pong, then the cross-interrupt round trip, between the same two hubbench processes. Each
    handler answers the interrupt it serves with one write, its EOI and the raise on its peer (as each side of the
    direct ping-pong answers with one message); `eoi_separate` sends the EOI in a write of its own before the raise.
    `scheduled(process, partition)`, if given, applies OS scheduling to each as it starts."""
    separate = ["--eoi", "separate"] if eoi_separate else []
    responder = hubbench("pingpong-responder", "--direct", direct, "--hub", hub_endpoint, "--partition", b,
                         "--peer", a, "--line", line, "--count", count, *separate)
    if scheduled:
        scheduled(responder, b)
    json_line(responder, 10)  # listening
    initiator = hubbench("pingpong-initiator", "--direct", direct, "--hub", hub_endpoint, "--partition", a,
                         "--peer", b, "--line", line, "--count", count, *separate)
    if scheduled:
        scheduled(initiator, a)
    result = json_line(initiator)
    for process in (initiator, responder):
        process.wait(timeout=30)
    return result


def relayed_ping_pong(hub_endpoint, direct, relayed, count, ethbench):
    """`ping_pong` with the direct ping-pong through a C relay (`ethbench relay-connect`): the responder listens on
    `direct`, the relay connects there and listens on `relayed`, where the initiator connects. Its direct figures
    are then four hops with nothing done between them, as many as a round trip through the hub makes."""
    responder = hubbench("pingpong-responder", "--direct", direct, "--hub", hub_endpoint, "--partition", "secure",
                         "--peer", "rtos", "--line", 2, "--count", count)
    json_line(responder, 10)  # listening
    relay = subprocess.Popen([ethbench, "relay-connect", relayed, direct], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([relay.stdout], [], [], 10)
        if not ready or relay.stdout.readline().strip() != "listening":
            raise RuntimeError("ethbench relay-connect did not listen")
        initiator = hubbench("pingpong-initiator", "--direct", relayed, "--hub", hub_endpoint, "--partition", "rtos",
                             "--peer", "secure", "--line", 2, "--count", count)
        result = json_line(initiator)
        for process in (initiator, responder):
            process.wait(timeout=30)
        return result
    finally:
        relay.kill()
        relay.wait()


def relay_rows(label, result, relayed, direct_label):
    """Calibration rows, no target: the direct ping-pong through a C relay against the plain one (the floor that
    twice the hops puts under any hub), and the round trip through the hub against that relayed ping-pong, both
    from the relayed run's process pair (what the hub's own work adds above a forwarder that does none)."""
    return [
        (f"direct ping-pong through a C relay {label} p50", relayed["direct_us"][0], "us", direct_label,
         result["direct_us"][0], "lower is better; calibration: the hub's four hops with no work between"),
        (f"cross-interrupt round trip {label} p50, against the relayed ping-pong", relayed["hub_us"][0], "us",
         "direct ping-pong through a C relay", relayed["direct_us"][0],
         "lower is better; calibration: the hub's own work above a forwarder's"),
    ]


def separate_eoi_row(label, result, direct_label):
    """Calibration, no target: the round trip when each handler sends its EOI in a write of its own before the
    raise (two system calls per answer, the first waking the hub for nothing it can forward)."""
    return [(f"cross-interrupt round trip {label} p50, EOI in its own write", result["hub_us"][0], "us", direct_label,
             result["direct_us"][0], "lower is better; calibration: the handlers' answer in two writes")]


def rtt_rows(label, result, direct_label):
    rows = []
    for index, name, target in ((0, "p50", "target <= 2.5x"), (1, "p99", "target <= 3x"), (2, "p99.9", "")):
        rows.append((f"cross-interrupt round trip {label} {name}", result["hub_us"][index], "us", direct_label,
                     result["direct_us"][index], f"lower is better; {target}".rstrip("; ")))
    return rows


@benchmark("guest-rtt")
def bench_guest_rtt(quick):
    """rtos raises on secure, secure's handler raises back: Unix and TCP, against a direct socket ping-pong; and the
    same ping-pong through a C relay (calibration: the four hops of the hub's path, with no work between)."""
    count = 5000 if quick else 50000
    hub = GuestHub()
    ethbench = build_ethbench(hub.dir)
    try:
        unix = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", count)
        tcp = ping_pong(hub.tcp, f"tcp:127.0.0.1:{free_tcp_port()}", count)
        unix_relayed = relayed_ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", f"unix:{hub.dir}/relayed.sock",
                                         count, ethbench)
        tcp_relayed = relayed_ping_pong(hub.tcp, f"tcp:127.0.0.1:{free_tcp_port()}",
                                        f"tcp:127.0.0.1:{free_tcp_port()}", count, ethbench)
        unix_separate = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", count, eoi_separate=True)
        tcp_separate = ping_pong(hub.tcp, f"tcp:127.0.0.1:{free_tcp_port()}", count, eoi_separate=True)
    finally:
        hub.stop()
    return (rtt_rows("over Unix", unix, "direct Unix ping-pong") + rtt_rows("over TCP", tcp, "direct TCP ping-pong")
            + relay_rows("over Unix", unix, unix_relayed, "direct Unix ping-pong")
            + relay_rows("over TCP", tcp, tcp_relayed, "direct TCP ping-pong")
            + separate_eoi_row("over Unix", unix_separate, "direct Unix ping-pong")
            + separate_eoi_row("over TCP", tcp_separate, "direct TCP ping-pong"))


# What the hub's supervisor applies to partitions it launches (Deploy/config-reference.md, partitions[].launch):
# real-time partitions SCHED_FIFO 90 - 5 x priority, fair-share ones a nice value from their weight.
SUPERVISOR_POLICY = {"rtos": ("fifo", 90), "secure": ("fifo", 85), "linux": ("nice", 0), "mgmt": ("nice", 5)}


def apply_supervisor_policy(process, partition):
    kind, value = SUPERVISOR_POLICY[partition]
    try:
        if kind == "fifo":
            os.sched_setscheduler(process.pid, os.SCHED_FIFO, os.sched_param(value))
        else:
            os.setpriority(os.PRIO_PROCESS, process.pid, value)
    except PermissionError:
        pass  # reported by the row's note: the figures are then at normal priority


def flood_round(count, deployed):
    """Idle round trip, then the same under a linux<->mgmt flood; `deployed`: the hub at SCHED_FIFO 95
    (hub.realTimePriority) and every partition under the supervisor's policy, in both halves."""
    def configure(text):
        return text.replace("\nhub:\n", "\nhub:\n  realTimePriority: 95\n", 1) if deployed else text
    scheduled = apply_supervisor_policy if deployed else None
    hub = GuestHub(edit=configure)
    flooders = []
    try:
        idle = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", count, scheduled=scheduled)
        for partition in ("linux", "mgmt"):
            flooder = hubbench("flood", "--hub", hub.unix, "--partition", partition, "--link", "mgmt-linux",
                               "--seconds", 600)
            if scheduled:
                scheduled(flooder, partition)
            flooders.append(flooder)
        time.sleep(0.5)
        started = time.monotonic()
        loaded = ping_pong(hub.unix, f"unix:{hub.dir}/direct2.sock", count, scheduled=scheduled)
        elapsed = time.monotonic() - started
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
            control.sendall(b'{"jsonrpc":"2.0","id":2,"method":"hub.info"}\n')
            reply, buffer = recv_line(control, buffer)
            policy = json.loads(reply).get("result", {}).get("scheduling", {}).get("policy")
        delivered = link.get("counters", {}).get("delivered", 0)
    finally:
        for process in flooders:
            if process.poll() is None:
                process.kill()
        hub.stop()
    return idle, loaded, delivered / max(elapsed + 0.5, 1e-9), policy


@benchmark("guest-rtt-flood")
def bench_guest_rtt_flood(quick):
    """The real-time pair's round trip while linux and mgmt flood each other on mgmt-linux at full speed: as
    deployed (hub and partitions under the platform's scheduling), and with everything at normal priority."""
    count = 5000 if quick else 30000
    rows = []
    for deployed in (True, False):
        idle, loaded, rate, policy = flood_round(count, deployed)
        if deployed:
            label, note = "", f"lower is better; target <= 1.5x (hub {policy}, rt pair SCHED_FIFO)"
        else:
            label, note = ", all at normal priority", "lower is better; context"
        rows += [
            (f"rt round trip p99 under fair-share flood{label}", loaded["hub_us"][1], "us", "same pair idle p99",
             idle["hub_us"][1], note),
            (f"rt round trip p50 under fair-share flood{label}", loaded["hub_us"][0], "us", "same pair idle p50",
             idle["hub_us"][0], "lower is better"),
            (f"flood messages delivered (linux<->mgmt){label}", rate, "msg/s", "-", 0.0,
             "context: the flood's rate over the run"),
        ]
    return rows


def suspend_for_priority_config(text, flood=True):
    """The reference handset with linux's heavy work launched as a flood on a new link to a fifth partition,
    `media` (both hubbench flooders the supervisor starts, so a suspension stops their processes), mgmt's
    policy naming both in `maySuspend` (Protocols/power.md §5), and mgmt owning the modem."""
    def flooder(partition):
        if not flood:
            return ""
        command = (f'exec {HUBBENCH} flood --hub "$HANDSETHUB_GUEST_ENDPOINT" --partition {partition}'
                   f' --link linux-media --seconds 600')
        return f"    launch:\n      command: [sh, -c, '{command}']\n"
    text = text.replace("    mayMessage: [rtos, secure, mgmt]\n", "    mayMessage: [rtos, secure, mgmt, media]\n", 1)
    text = text.replace("  - name: secure\n", flooder("linux") + "  - name: secure\n", 1)
    text = text.replace("    mayMessage: [rtos, linux, secure]\n    devices: []\n",
                        "    mayMessage: [rtos, linux, secure]\n    maySuspend: [linux, media]\n"
                        "    devices:\n      - {device: modem0, access: dedicated}\n", 1)
    # The measured rtos is a hubbench process without an AT stack, and a modem ends its calls when its owner
    # leaves (owner_lost): here the agent owns the modem, so the call lasts through the measurement.
    text = text.replace("      - device: modem0\n        access: dedicated\n", "", 1)
    text = text.replace("    - name: modem0\n      owner: rtos\n", "    - name: modem0\n      owner: mgmt\n", 1)
    text = text.replace("links:\n", "  - name: media\n    class: fair-share\n    priority: 8\n    memoryBytes: 64MiB\n"
                        "    secret: media-dev-secret\n    mayMessage: [linux]\n" + flooder("media")
                        + "links:\n  - {name: linux-media, a: linux, b: media, maxMessageBytes: 4KiB, depth: 256}\n", 1)
    return text


def call_round(count, policy, flood=True):
    """The rt pair's round trip during an incoming call while linux floods media; with `policy`, mgmt suspends
    linux and media for the call through PARTITION_CONTROL (and resumes them after)."""
    from handsethub.control import HubClient
    from handsethub.guest import POWER, GuestClient
    hub = GuestHub(edit=lambda text: suspend_for_priority_config(text, flood))
    agent = None
    try:
        control = HubClient(next(a for a in json.load(open(os.path.join(hub.dir, "ready.json")))["control"]
                                 if a.startswith("unix:")))
        for partition in ("linux", "media") if flood else ():
            if control.call("partition.get", {"name": partition})["state"] != "running":
                wait_state(control, partition, "running", 0)
        agent = GuestClient.connect(hub.unix, "mgmt", "mgmt-dev-secret", features=[POWER])
        control.call("modem.call.incoming", {"number": "+15551234567"})
        if policy:
            for partition in ("linux", "media"):
                status = agent.partition_control("suspend", partition, "call in progress")
                if status != "done":
                    raise RuntimeError(f"mgmt could not suspend {partition}: {status}")
        time.sleep(0.5)
        if control.call("power.status")["hubLocks"] != ["call:modem0"]:
            raise RuntimeError("no call in progress before the measurement")
        during = ping_pong(hub.unix, f"unix:{hub.dir}/direct.sock", count)
        delivered = control.call("link.get", {"name": "linux-media"})["counters"]["delivered"]
        # The call lasts until the measuring rtos leaves (the modem then ends it: owner_lost).
        if policy:
            for partition in ("linux", "media"):
                agent.partition_control("resume", partition, "call ended")
        control.close()
    finally:
        if agent:
            agent.close()
        hub.stop()
    return during, delivered


@benchmark("power-priority")
def bench_power_priority(quick):
    """Suspend for priority (Protocols/power.md §5): the real-time pair's round trip during a call while linux's
    heavy work floods, with mgmt suspending that work for the call against the same run without the policy."""
    count = 5000 if quick else 30000
    with_policy, delivered_on = call_round(count, True)
    without, delivered_off = call_round(count, False)
    quiet, _ = call_round(count, False, flood=False)
    return [
        ("rt round trip p99 during a call, linux flooding, suspend-for-priority", with_policy["hub_us"][1], "us",
         "same without the policy", without["hub_us"][1], "lower is better"),
        ("rt round trip p50 during a call, linux flooding, suspend-for-priority", with_policy["hub_us"][0], "us",
         "same without the policy", without["hub_us"][0], "lower is better"),
        ("rt round trip p99.9 during a call, linux flooding, suspend-for-priority", with_policy["hub_us"][2], "us",
         "same without the policy", without["hub_us"][2], "lower is better"),
        ("rt round trip p99 during a call, linux flooding, suspend-for-priority", with_policy["hub_us"][1], "us",
         "same call, no flood at all", quiet["hub_us"][1], "context: how close the policy comes to no load"),
        ("flood messages delivered (linux<->media) by the end of the measurement", delivered_on, "msg",
         "without the policy", delivered_off, "context: the heavy work stops while suspended"),
    ]


def with_link_depth(config_text, link, depth):
    """The configuration with `link`'s queue depth changed; fails loudly if the link's block is not found."""
    import re
    pattern = re.compile(r"(  - name: " + re.escape(link) + r"\n(?:    .*\n)*?    depth: )\d+")
    edited, count = pattern.subn(lambda match: match.group(1) + str(depth), config_text, count=1)
    if count != 1:
        raise RuntimeError(f"link {link} with a depth not found in the configuration")
    return edited


def one_link_rate(hub, sender, receiver, count):
    """Messages per second from `sender` to `receiver` over rtos-linux, measured at the receiver."""
    receiving = hubbench("msg-recv", "--hub", hub.unix, "--partition", receiver, "--link", "rtos-linux",
                         "--count", count)
    json_line(receiving, 10)
    sending = hubbench("msg-send", "--hub", hub.unix, "--partition", sender, "--link", "rtos-linux",
                       "--count", count)
    rate = json_line(receiving)["rate"]
    sending.wait(timeout=60)
    receiving.wait(timeout=60)
    return rate


@benchmark("guest-throughput")
def bench_guest_throughput(quick):
    """64-byte messages on one link (depth 4096), against Redis pub/sub on the same machine: from the real-time
    rtos to linux (the target), and from the fair-share linux, whose input the hub reads one slice per pass.

    Each run moves 300,000 messages (about 0.2 s) and the hub and Redis runs are interleaved, at least three of
    each, so both see the same background load; the rows are medians. (A single 100,000-message run lasted about
    70 ms, and its spread across runs, 1.1M-1.8M msg/s for either side, was wider than any difference measured.)"""
    count = 300000 if quick else 1000000
    repeats = 3 if quick else 5

    hub = GuestHub(edit=lambda text: with_link_depth(text, "rtos-linux", 4096))
    redis = Redis()
    redis.start()
    hub_rates, fair_share_rates, redis_rates = [], [], []
    try:
        for _ in range(repeats):
            hub_rates.append(one_link_rate(hub, "rtos", "linux", count))
            fair_share_rates.append(one_link_rate(hub, "linux", "rtos", count))
            subscriber = hubbench("redis-sub", "--socket", redis.sock, "--count", count)
            json_line(subscriber, 10)
            publisher = hubbench("redis-pub", "--socket", redis.sock, "--count", count)
            redis_rates.append(json_line(subscriber)["rate"])
            publisher.wait(timeout=60)
    finally:
        hub.stop()
        redis.stop()
    spread = (f"runs {min(hub_rates) / 1e6:.2f}M-{max(hub_rates) / 1e6:.2f}M vs "
              f"{min(redis_rates) / 1e6:.2f}M-{max(redis_rates) / 1e6:.2f}M")
    redis_rate = statistics.median(redis_rates)
    return [("64-byte messages, one link (Unix)", statistics.median(hub_rates), "msg/s", "redis pub/sub 64 B (Unix)",
             redis_rate, f"higher is better; target >= 1x; {spread}"),
            ("64-byte messages from a fair-share sender (Unix)", statistics.median(fair_share_rates), "msg/s",
             "redis pub/sub 64 B (Unix)", redis_rate,
             "context: read in fairShareReadBytesPerPass slices (2 KiB) so real-time guests stay prompt")]


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


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@benchmark("restart")
def bench_restart(quick):
    """Managed partitions (`Protocols/control.md` §10): time from a launched guest's crash (the SIGKILL) to its
    successor's attach, p50 over 20 crashes, against the same guest (linux of the living handset) cold-started by
    the hub (`partition.stop`, then `partition.start` timed to its attach); the target (1.2x the cold start plus the
    configured back-off, `Deploy/config-reference.md` partitions[].restart) is judged on the restart less the
    back-off. And the hub's resident memory with the living handset running, against the reference handset with
    no guests."""
    import yaml
    from handsethub.control import HubClient
    crashes = 8 if quick else 20
    living = open(os.path.join(REPO, "Deploy/examples/living-handset.yaml")).read().replace(
        "Tools/python/examples/handset/", os.path.join(REPO, "Tools/python/examples/handset/"))
    # Every crash spends the restart budget (3 in 60 s by default); give the measured partition room.
    living = living.replace("maxRestarts: 3", "maxRestarts: 1000")
    linux = next(p for p in yaml.safe_load(living)["partitions"] if p["name"] == "linux")
    backoff_ms = linux.get("restart", {}).get("backoffInitialMs", 100)
    hub = GuestHub(config_text=living)
    rows = []
    try:
        control = HubClient(next(a for a in json.load(open(os.path.join(hub.dir, "ready.json")))["control"]
                                 if a.startswith("unix:")))
        wait_state(control, "linux", "running", 0)
        time.sleep(1.0)
        living_rss = rss_kib(hub.process.pid)
        # The hub stamps events with CLOCK_MONOTONIC (uv_hrtime), the clock of time.monotonic_ns: the interval
        # runs from the kill to the hub's record of the successor's attach, so it includes noticing the exit.
        # Crashes alternate with cold starts, so a change in the machine's load during the run (the handset's other
        # guests settling, what the benchmark before left behind) falls on both alike. Measured as two blocks, all
        # crashes first, the ratio was 0.91 run alone and 1.20 inside a full run.
        restarts, cold = [], []
        for _ in range(crashes):
            before = control.call("hub.info")["lastSeq"]
            pid = control.call("partition.get", {"name": "linux"})["supervisor"]["pid"]
            killed = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            crashed = wait_state(control, "linux", "crashed", before)
            running = wait_state(control, "linux", "running", crashed["seq"])
            restarts.append((running["time"]["monoNs"] - killed) / 1e6)
            time.sleep(1.2)  # let it run stably (back-off back to its initial value), as between two rare crashes
            # Baseline: the same guest, started by the hub from stopped and timed until it has attached.
            before = control.call("hub.info")["lastSeq"]
            control.call("partition.stop", {"name": "linux"})
            stopped = wait_state(control, "linux", "stopped", before)
            time.sleep(0.05)
            started = time.monotonic_ns()
            control.call("partition.start", {"name": "linux"})
            running = wait_state(control, "linux", "running", stopped["seq"])
            cold.append((running["time"]["monoNs"] - started) / 1e6)
            time.sleep(1.2)  # stable again before the next crash
        control.close()
    finally:
        hub.stop()
    idle = GuestHub()
    try:
        time.sleep(1.0)
        idle_rss = rss_kib(idle.process.pid)
    finally:
        idle.stop()
    restart_p50, cold_p50 = statistics.median(restarts), statistics.median(cold)
    rows.append((f"crash to re-attach, p50 of {crashes}", restart_p50, "ms",
                 "same guest cold start to attach", cold_p50, "lower is better; target < 200 ms"))
    rows.append((f"crash to re-attach less the {backoff_ms} ms back-off, p50", restart_p50 - backoff_ms, "ms",
                 "same guest cold start to attach", cold_p50,
                 f"lower is better; target <= 1.2x; restart spread {min(restarts):.0f}-{max(restarts):.0f} ms,"
                 f" cold {min(cold):.0f}-{max(cold):.0f} ms"))
    rows.append(("hub RSS, living handset running", living_rss / 1024, "MiB", "reference handset, no guests",
                 idle_rss / 1024, "lower is better"))
    return rows


HOSTILE_TOKEN = "bench-hostile-control-token"


def loop_watchdog(info):
    """The loop watchdog's figures from hub.info (Protocols/control.md §9.2): longest and p99 pass, in ms."""
    loop = info.get("loop") or {}
    return loop.get("longestPassUs", float("nan")) / 1000, loop.get("p99PassUs", float("nan")) / 1000


@benchmark("hostile")
def bench_hostile(quick):
    """Every attack of the hostile campaign (handsethub.hostile) against the reference handset, with bystanders:
    the bystander control client's hub.info p99 and the bystander guest pair's round-trip p99 during the attack
    beside the same figures idle (measured first, same hub), the loop watchdog's longest pass during the attack
    beside its idle value, and resident memory after the attack beside the idle value."""
    from handsethub import hostile
    rows = []
    for name, attack in hostile.ATTACKS.items():
        hub = Hubd(extra_yaml="")
        with open(hub.config_path) as handle:
            text = handle.read()
        with open(hub.config_path, "w") as handle:
            handle.write(text.replace("hub:\n", f"hub:\n  controlToken: {HOSTILE_TOKEN}\n", 1))
        hub.start()
        try:
            ready = hub.endpoints()
            control_unix = next(a for a in ready["control"] if a.startswith("unix:"))
            fb = hostile.HubClient(control_unix).call("fb.info")
            rfb_port = next((int(a.rpartition(":")[2]) for a in fb.get("rfbEndpoints", []) if a.startswith("tcp:")),
                            None)
            target = hostile.Target(
                pid=hub.process.pid, control_unix=control_unix,
                control_tcp=next(a for a in ready["control"] if a.startswith("tcp:")),
                guest_unix=next(a for a in ready["guest"] if a.startswith("unix:")),
                guest_tcp=next(a for a in ready["guest"] if a.startswith("tcp:")), token=HOSTILE_TOKEN,
                rfb_port=rfb_port)
            control = hostile.ControlBystander(control_unix)
            guests = hostile.GuestBystander(target.guest_unix)
            control.start()
            guests.start()
            time.sleep(1.0 if quick else 3.0)
            idle_control, idle_guest = list(control.rtts_ms), list(guests.rtts_ms)
            idle_rss = rss_kib(hub.process.pid)
            with hostile.HubClient(control_unix) as admin:
                idle_max, _ = loop_watchdog(admin.call("hub.info"))
            mark_control, mark_guest = len(control.rtts_ms), len(guests.rtts_ms)
            outcome = "survived"
            try:
                attack(target)
            except Exception as error:  # noqa: BLE001 - reported, the figures say the rest
                outcome = f"attack raised {type(error).__name__}"
            time.sleep(0.3)
            control.stop()
            guests.stop()
            if hub.process.poll() is not None:
                rows.append((f"{name}: hub", 0, "alive", "alive before", 1, "CRASHED"))
                continue
            try:
                with hostile.HubClient(control_unix) as admin:
                    attack_max, attack_p99 = loop_watchdog(admin.call("hub.info"))
            except hostile.HubError as error:
                attack_max = attack_p99 = float("nan")
                outcome += f"; hub.info refused after the attack ({error.reason})"
            deadline = time.monotonic() + 15
            try:
                after_rss = rss_kib(hub.process.pid)
                while after_rss > idle_rss + 32 * 1024 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    after_rss = rss_kib(hub.process.pid)
            except RuntimeError:  # it died after the attack
                rows.append((f"{name}: hub", 0, "alive", "alive before", 1, "CRASHED after the attack"))
                continue
            failures = control.failures + guests.failures
            note = outcome + ("" if not failures else f"; bystander failed: {failures[0][:60]}")
            rows.append((f"{name}: bystander hub.info p99", percentile(control.rtts_ms[mark_control:] or [float("nan")], 0.99),
                         "ms", "idle p99", percentile(idle_control, 0.99), "target < 20 ms; " + note))
            rows.append((f"{name}: bystander guest RTT p99", percentile(guests.rtts_ms[mark_guest:] or [float("nan")], 0.99),
                         "ms", "idle p99", percentile(idle_guest, 0.99), "message + delivery + ack"))
            rows.append((f"{name}: longest loop pass", attack_max, "ms", "idle", idle_max,
                         f"target < 50 ms; p99 of the last 1024 passes {attack_p99:.2f} ms"))
            rows.append((f"{name}: RSS after", after_rss / 1024, "MiB", "idle", idle_rss / 1024,
                         "target within 32 MiB of idle"))
        finally:
            if hub.process.poll() is None:
                hub.stop()
    return rows


def wait_state(control, partition, state, since):
    while True:
        event = control.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": [partition]},
                                             "since": since, "timeoutMs": 30000}, timeout=35)["event"]
        if event["data"]["to"] == state:
            return event
        since = event["seq"]


# ---------------------------------------------------------------------------------------------
# Hostile Ethernet peers (Protocols/ethernet.md §1.3, §4.8).

def control_call(sock, buffer, method, params=None):
    request = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        request["params"] = params
    sock.sendall((json.dumps(request) + "\n").encode())
    while True:
        line, buffer = recv_line(sock, buffer)
        reply = json.loads(line)
        if "id" in reply:
            return reply.get("result"), buffer


def control_connect(directory):
    sock = connect_unix(os.path.join(directory, "control.sock"))
    _, buffer = recv_line(sock, b"")  # greeting
    return sock, buffer


def port_rx(sock, buffer, port):
    result, buffer = control_call(sock, buffer, "eth.counters", {"segment": "lan0", "port": port})
    return result["ports"][port]["rxFrames"], buffer


@benchmark("ethernet-flood")
def bench_ethernet_flood(quick):
    """One stream peer floods lan0 at full speed (ethbench, 64-byte frames, p0 -> p1): the control API's hub.info,
    the real-time pair's cross-interrupt round trip (rtos <-> secure) and frames between two other stream ports
    (p2 -> p3, 1000 frames/s) are measured idle and under the flood in the same run. On a 2-vCPU machine the
    flooder and its sink take a core, so the flood is also run at nice 19: that variant shows what the hub's loop
    adds, the other what the machine's scheduler adds on top. Last, the platform as deployed: the hub at
    hub.realTimePriority 95 and the real-time pair at the supervisor's SCHED_FIFO, idle and under the same flood
    (the flooder, an outside peer, at normal priority); the flood saturates the hub, so its real-time budget puts
    it at normal scheduling while the flood lasts (Deploy/config-reference.md, "Real-time budget"): at SCHED_FIFO
    throughout, the p2 -> p3 frames waited 14-31 ms at the p99. The hub.info client and the hub sit on two different CPUs
    while hub.info is measured, idle and flooded alike (the flood leaves them no other placement)."""
    directory = tempfile.mkdtemp(prefix="ethflood-")
    binary = build_ethbench(directory)
    count_control = 2000 if quick else 10000
    count_rtt = 3000 if quick else 20000
    count_latency = 1000 if quick else 3000
    guest = f"unix:{directory}/guest.sock"
    rows = []
    flooder = None
    hub = None

    cpus = sorted(os.sched_getaffinity(0))

    def measure(tag, scheduled=None):
        # hub.info is measured with this client and the hub on different CPUs, idle and flooded alike. Under the
        # flood the hub's CPU is busy, so every answer wakes the client on the other CPU; idle and unpinned, the
        # pair settles on one CPU (the placement is bistable, see control-rtt) and the reference was a same-CPU
        # round trip (10-15 us) that no flooded measurement can have, which made the ratio a placement effect.
        placed = len(cpus) > 1
        if placed:
            os.sched_setaffinity(0, cpus[:1])
            os.sched_setaffinity(hub.pid, cpus[1:2])
        try:
            sock, buffer = control_connect(directory)
            round_trips(sock, b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}\n', count_control // 4)  # warm-up
            control = round_trips(sock, b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}\n', count_control)
            sock.close()
        finally:
            if placed:
                os.sched_setaffinity(0, cpus)
                os.sched_setaffinity(hub.pid, cpus)
        rtt = ping_pong(guest, f"unix:{directory}/direct-{tag}.sock", count_rtt, scheduled=scheduled)
        frames, p50, p99 = run_latency(binary, f"unix:{directory}/p2.sock", f"unix:{directory}/p3.sock",
                                       count_latency, 1000)
        return {"control_p99": percentile(control, 0.99) / 1000, "control_p50": percentile(control, 0.5) / 1000,
                "rtt_p99": rtt["hub_us"][1], "rtt_p50": rtt["hub_us"][0], "frames": frames,
                "latency_p50": p50, "latency_p99": p99}

    def flooded(tag, prefix, scheduled=None):
        nonlocal flooder
        flooder = subprocess.Popen([*prefix, binary, "load", f"unix:{directory}/p0.sock",
                                    f"unix:{directory}/p1.sock", "64", "1000000000", "256", "0", "7"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        sock, buffer = control_connect(directory)
        before, buffer = port_rx(sock, buffer, "p0")
        started = time.monotonic()
        figures = measure(tag, scheduled)
        after, buffer = port_rx(sock, buffer, "p0")
        figures["rate"] = (after - before) / (time.monotonic() - started)
        result, buffer = control_call(sock, buffer, "eth.ports", {"segment": "lan0"})
        figures["most"] = next(p for p in result["ports"] if p["name"] == "p0")["readSlice"]["mostFramesInOnePass"]
        sock.close()
        flooder.kill()
        flooder.wait()
        flooder = None
        time.sleep(0.5)
        return figures

    runs = []  # (variant, idle figures, flooded figures)
    try:
        hub = eth_hub(directory, unix_ports=4)
        idle = measure("idle")
        runs.append(("", idle, flooded("flood0", [])))
        runs.append((", flooder at nice 19", idle, flooded("flood1", ["nice", "-n", "19"])))
        hub.kill()
        hub.wait()
        hub = eth_hub(directory, unix_ports=4,
                      edit=lambda text: text.replace("\nhub:\n", "\nhub:\n  realTimePriority: 95\n", 1))
        deployed_idle = measure("deployed-idle", apply_supervisor_policy)
        runs.append((", as deployed", deployed_idle, flooded("flood2", [], apply_supervisor_policy)))
    finally:
        if flooder is not None:
            flooder.kill()
            flooder.wait()
        if hub is not None:
            hub.kill()
            hub.wait()
        shutil.rmtree(directory, ignore_errors=True)
    note = "lower is better; target <= 3x idle"
    for variant, idle, figures in runs:
        rows += [
            (f"hub.info round trip p99 under a stream flood{variant}", figures["control_p99"], "us", "same, idle",
             idle["control_p99"], note),
            (f"hub.info round trip p50 under a stream flood{variant}", figures["control_p50"], "us", "same, idle",
             idle["control_p50"], "lower is better"),
            (f"rt cross-interrupt round trip p99 under a stream flood{variant}", figures["rtt_p99"], "us",
             "same, idle", idle["rtt_p99"], note),
            (f"rt cross-interrupt round trip p50 under a stream flood{variant}", figures["rtt_p50"], "us",
             "same, idle", idle["rtt_p50"], "lower is better"),
            (f"p2->p3 frame latency p99 under a stream flood{variant}", figures["latency_p99"], "us", "same, idle",
             idle["latency_p99"], "frames keep flowing; " + note),
            (f"p2->p3 frames delivered under a stream flood{variant}", figures["frames"], "frames", "sent",
             count_latency, "higher is better; 1.0 = none lost"),
            (f"flood frames switched during the measurement{variant}", figures["rate"], "frames/s", "-", 0.0,
             f"context; most frames in one pass: {figures['most']}"),
        ]
    return rows


_mac_flood_payloads = {}  # (frames, random sources, frame bytes) -> the bytes sent: built once, the same frames every run


def mac_flood_cost(directory, frames, random_sources, pid=None, frame_bytes=60):
    """Seconds per frame the hub takes to switch `frames` broadcasts of `frame_bytes` sent into p0 at once; with
    the hub's `pid`, also the CPU its threads ran meanwhile, in nanoseconds per frame: (seconds, nanoseconds)."""
    import random
    import struct
    import threading
    header = bytes.fromhex("ffffffffffff")
    body = bytes.fromhex("88b5") + b"\x00" * (frame_bytes - 14)
    prefix = struct.pack(">I", frame_bytes)
    payload = _mac_flood_payloads.get((frames, random_sources, frame_bytes))
    if payload is None and random_sources:
        generator = random.Random(7)
        parts = [prefix + header + (0x020000000000 | generator.getrandbits(40)).to_bytes(6, "big") + body
                 for _ in range(frames)]
        payload = b"".join(parts)
    elif payload is None:
        payload = (prefix + header + bytes.fromhex("020000000001") + body) * frames
    _mac_flood_payloads[(frames, random_sources, frame_bytes)] = payload
    sock, buffer = control_connect(directory)
    before, buffer = port_rx(sock, buffer, "p0")
    peer = connect_unix(os.path.join(directory, "p0.sock"))
    time.sleep(0.3)  # carrier up
    cpu_before = _cpu_ns(pid) if pid else 0
    started = time.perf_counter()
    sender = threading.Thread(target=peer.sendall, args=(payload,), daemon=True)
    sender.start()
    deadline = time.monotonic() + 300
    while True:
        current, buffer = port_rx(sock, buffer, "p0")
        if current - before >= frames or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    cpu = (_cpu_ns(pid) - cpu_before) / frames if pid else None
    sender.join(30)
    peer.close()
    sock.close()
    time.sleep(0.3)  # the port notices the peer left before the next run connects
    return (elapsed / frames, cpu) if pid else elapsed / frames


@benchmark("ethernet-macflood")
def bench_ethernet_macflood(quick):
    """Switching cost per frame when every frame carries a new random source MAC (the 8192-entry table full, so
    each frame evicts; the per-port limit raised so that path is what is measured), against the same frames from
    one fixed source, in the same hub; medians of repeated runs. Also the default per-port limit (sources beyond
    4096 refused). Each row alternates fixed-source and flood runs in the same hub (at least 3 of each, quick or
    not) and takes the median of each: a single 10 ms run of each was within the machine's noise and the counter
    poll's 2 ms granularity, so one row's ratio moved by 0.3 between runs. The hub's CPU time per frame (every
    thread's run time) is reported too: on a shared machine the elapsed time also counts the time the hub waits
    for a CPU, the sender or the poll, the same for both, which a flood's extra cost is then measured against."""
    frames = 300_000 if quick else 500_000
    repeats = 3 if quick else 5
    rows = []
    for limit, label in ((65536, "table full, each new source evicts"), (4096, "default per-port limit")):
        directory = tempfile.mkdtemp(prefix="ethmac-")
        hub = None
        try:
            hub = eth_hub(directory, unix_ports=1,
                          edit=lambda text: __import__("re").sub(r"ethernetMACLimitPerPort: \S+",
                                                                 f"ethernetMACLimitPerPort: {limit}", text))
            fixed, flood, fixed_cpu, flood_cpu = [], [], [], []
            for _ in range(repeats):
                elapsed, cpu = mac_flood_cost(directory, frames, False, hub.pid)
                fixed.append(elapsed)
                fixed_cpu.append(cpu)
                elapsed, cpu = mac_flood_cost(directory, frames, True, hub.pid)
                flood.append(elapsed)
                flood_cpu.append(cpu)
        finally:
            if hub is not None:
                hub.kill()
                hub.wait()
            shutil.rmtree(directory, ignore_errors=True)
        spread = f"runs {min(flood) * 1e9:.0f}-{max(flood) * 1e9:.0f} vs {min(fixed) * 1e9:.0f}-{max(fixed) * 1e9:.0f} ns"
        rows.append((f"MAC flood cost per frame ({label})", statistics.median(flood) * 1e9, "ns",
                     "one fixed source", statistics.median(fixed) * 1e9,
                     f"lower is better; target <= 1.3x; {spread}"))
        spread = f"runs {min(flood_cpu):.0f}-{max(flood_cpu):.0f} vs {min(fixed_cpu):.0f}-{max(fixed_cpu):.0f} ns"
        rows.append((f"MAC flood hub CPU per frame ({label})", statistics.median(flood_cpu), "ns",
                     "one fixed source", statistics.median(fixed_cpu),
                     f"lower is better; target <= 1.3x; {spread}"))
    # The switch alone, in process (hubbench switch-macflood): what an eviction adds to a frame's switching with no
    # socket, read batching or scheduling in the figure, which decide most of the spread of the rows above.
    result = subprocess.run([HUBBENCH, "switch-macflood", "--frames", str(frames), "--rounds", str(repeats)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        # A hubbench older than this row (a comparison run pointing at another build) has no such mode: the row is
        # left out, said so, and the socket rows above stand.
        print(f"bench: ethernet-macflood: in-process row left out: {result.stderr.strip()}", file=sys.stderr)
        return rows
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    rows.append(("MAC flood switch CPU per frame, in process (table full, each new source evicts)",
                 statistics.median(measured["floodNs"]), "ns", "one fixed source, in process",
                 statistics.median(measured["fixedNs"]), "lower is better; no target (the rows above carry it)"))
    return rows


@benchmark("ethernet-capture")
def bench_ethernet_capture(quick):
    """What a live capture (`eth.capture.start {live: true}`, no subscriber) adds to switching: hub CPU per
    1514-byte broadcast with the capture at the default snap length (128) and at a whole frame, against no
    capture, alternating in the same hub; medians of repeated runs. Every captured frame is recorded as an
    `eth.frame` event with its bytes in hex, so the capture's cost per frame is its encoding and recording."""
    frames = 100_000 if quick else 300_000
    repeats = 3 if quick else 5
    rows = []
    directory = tempfile.mkdtemp(prefix="ethcap-")
    hub = None
    try:
        hub = eth_hub(directory, unix_ports=1)
        sock, buffer = control_connect(directory)
        # Guards against a return of the per-character encoding, which cost about 140 us a frame (600x).
        for snap, target in ((128, 5), (1514, 10)):
            plain, captured = [], []
            for _ in range(repeats):
                plain.append(mac_flood_cost(directory, frames, False, hub.pid, frame_bytes=1514)[1])
                _, buffer = control_call(sock, buffer, "eth.capture.start",
                                         {"segment": "lan0", "live": True, "snapLength": snap})
                captured.append(mac_flood_cost(directory, frames, False, hub.pid, frame_bytes=1514)[1])
                _, buffer = control_call(sock, buffer, "eth.capture.stop", {"segment": "lan0", "live": True})
            spread = f"runs {min(captured):.0f}-{max(captured):.0f} vs {min(plain):.0f}-{max(plain):.0f} ns"
            rows.append((f"live capture hub CPU per 1514 B frame (snap {snap}, no subscriber)",
                         statistics.median(captured), "ns", "no capture", statistics.median(plain),
                         f"lower is better; target <= {target}x; {spread}"))
        sock.close()
    finally:
        if hub is not None:
            hub.kill()
            hub.wait()
        shutil.rmtree(directory, ignore_errors=True)
    return rows


def parse_target(note):
    """The target a row's note states, as (kind, operator, threshold) or None.

    Notes state targets in a small fixed grammar (the text after "target"):
      "< 100 ms", ">= 60", "< 20 MiB"     the figure itself (a number with or without the row's unit)
      "<= 3x", ">= 0.80", ">= 1x idle"    the ratio to the baseline: an "x" suffix, or a bare number on a row
                                          whose unit is not given with it and whose baseline is measured
                                          (a "-" baseline means the bare number is the figure itself)
      "within 32 MiB of idle"             figure - baseline <= 32
      "0%"                                the figure itself <= 0
    """
    import re
    within = re.search(r"target\s+within\s+([0-9.]+)", note)
    if within:
        return ("delta", "<=", float(within.group(1)))
    match = re.search(r"target\s+(<=|>=|<|>)?\s*([0-9.]+)\s*(x|%|[A-Za-z/]+)?", note)
    if not match:
        return None
    operator = match.group(1) or "<="
    threshold = float(match.group(2))
    suffix = match.group(3)
    if suffix == "x":
        return ("ratio", operator, threshold)
    if suffix is not None:
        return ("value", operator, threshold)
    return ("bare", operator, threshold)


def judge(row, value, ratio, baseline):
    """"pass", "FAIL" or "-" (no target) for a row's figure (medians when repeated)."""
    target = parse_target(row["note"])
    if target is None:
        return "-", ""
    kind, operator, threshold = target
    if kind == "bare":
        kind = "value" if row["baseline"] == "-" or not baseline else "ratio"
    subject = {"ratio": ratio, "value": value, "delta": value - baseline}[kind]
    if subject != subject:  # NaN: nothing to judge
        return "FAIL", f"{kind} {operator} {threshold:g}"
    ok = {"<": subject < threshold, "<=": subject <= threshold, ">": subject > threshold,
          ">=": subject >= threshold}[operator]
    described = {"ratio": f"ratio {operator} {threshold:g}", "value": f"{operator} {threshold:g}",
                 "delta": f"<= baseline + {threshold:g}"}[kind]
    return ("pass" if ok else "FAIL"), described


def run_once(names, quick):
    results = []
    for name in names:
        for figure, value, unit, baseline_name, baseline, note in BENCHMARKS[name](quick):
            ratio = value / baseline if baseline else float("nan")
            results.append({"benchmark": name, "figure": figure, "value": round(value, 3), "unit": unit,
                            "baseline": baseline_name, "baselineValue": round(baseline, 3),
                            "ratio": round(ratio, 3), "note": note})
    return results


def combine(runs):
    """One row per (benchmark, figure, baseline) over repeated runs: medians, and min-max spreads. The ratio is the median
    of each run's own ratio (a figure and its baseline are compared within a run, never across runs)."""
    order, grouped = [], {}
    for run in runs:
        for row in run:
            # The same figure may be compared with several baselines (lan0's rate against the relay, vde_switch
            # and a bridge): each pairing is its own row, never a median across baselines.
            key = (row["benchmark"], row["figure"], row["baseline"])
            if key not in grouped:
                order.append(key)
                grouped[key] = []
            grouped[key].append(row)
    combined = []
    for key in order:
        rows = grouped[key]
        values = [row["value"] for row in rows]
        baselines = [row["baselineValue"] for row in rows]
        ratios = [row["ratio"] for row in rows if row["ratio"] == row["ratio"]]
        out = dict(rows[-1])
        out.update({"value": round(statistics.median(values), 3), "valueMin": min(values), "valueMax": max(values),
                    "baselineValue": round(statistics.median(baselines), 3), "baselineMin": min(baselines),
                    "baselineMax": max(baselines), "runs": len(rows),
                    "ratio": round(statistics.median(ratios), 3) if ratios else float("nan"),
                    "ratioMin": min(ratios) if ratios else float("nan"),
                    "ratioMax": max(ratios) if ratios else float("nan")})
        combined.append(out)
    return combined


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the selected benchmarks N times; report medians and min-max spreads, "
                             "and judge targets on the medians")
    arguments = parser.parse_args()
    if arguments.repeat < 1:
        sys.exit("bench: --repeat must be at least 1")
    names = arguments.only.split(",") if arguments.only else list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            sys.exit(f"bench: unknown benchmark {name}; known: {', '.join(BENCHMARKS)}")
    runs = []
    for index in range(arguments.repeat):
        if arguments.repeat > 1:
            print(f"bench: run {index + 1} of {arguments.repeat}", file=sys.stderr, flush=True)
        runs.append(run_once(names, arguments.quick))
    results = runs[0] if arguments.repeat == 1 else combine(runs)
    for row in results:
        verdict, described = judge(row, row["value"], row["ratio"], row["baselineValue"])
        row["target"] = described
        row["pass"] = None if verdict == "-" else verdict == "pass"
        row["verdict"] = verdict
    print_table(results, arguments.repeat)
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump([{k: v for k, v in row.items() if k != "verdict"} for row in results], handle, indent=2)


def print_table(results, repeat):
    def spread(low, high):
        return f"{low:.3f}-{high:.3f}"

    header = ["figure", "value", "unit", "baseline", "baseline", "ratio", "target", "pass"]
    table = []
    for row in results:
        value, base = f'{row["value"]:.3f}', f'{row["baselineValue"]:.3f}'
        if repeat > 1:
            value += f' ({spread(row["valueMin"], row["valueMax"])})'
            base += f' ({spread(row["baselineMin"], row["baselineMax"])})'
        table.append([row["figure"], value, row["unit"], row["baseline"], base, f'{row["ratio"]:.2f}',
                      row["target"] or "-", row["verdict"]])
    widths = [max([len(title)] + [len(cells[i]) for cells in table]) for i, title in enumerate(header)]
    if repeat > 1:
        print(f"medians of {repeat} runs, (min-max) beside each; ratio = median of the runs' ratios")
    print("  ".join(title.ljust(width) for title, width in zip(header, widths)) + "  note")
    for row, cells in zip(results, table):
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + "  " + row["note"])
    judged = [row for row in results if row["verdict"] != "-"]
    failed = [row["figure"] for row in judged if row["verdict"] == "FAIL"]
    print(f"targets: {len(judged) - len(failed)} of {len(judged)} met" + (f"; missed: {'; '.join(failed)}" if failed else ""))


if __name__ == "__main__":
    main()
