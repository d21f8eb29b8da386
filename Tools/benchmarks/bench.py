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
# --- framebuffer (issue 7) -------------------------------------------------------------------------------

FB_W, FB_H = 480, 800


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
    sock.sendall(struct.pack(">BxHi", 2, 1, encoding))
    return sock


def _skip_hextile(sock, w, h):
    import struct
    total = 0
    bg_known = False
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
        else:
            raise RuntimeError(f"unexpected encoding {encoding}")
    return size


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
        runs += [(0, "raw via shared surface", 4, True), (16, "zrle via shared surface", 4, True)]
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
            rows.append((f"{name}: guest full frames/s shown, {viewers} viewer(s)", measured_frames / wall, "fps",
                         "-", 0.0, "FRAME_DONE paced: composed and offered to every viewer"))
            rows.append((f"{name}: updates/s per viewer, {viewers} viewer(s)",
                         fps, "upd/s", "plain socket server, full raw frames" if encoding == 0 else "-", base_fps,
                         "one FLUSH per frame" if shared else "a 1.5 MB frame arrives as 2 PUTs, so ~2 updates per frame"))
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
