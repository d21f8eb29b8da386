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


# --- framebuffer (issue 7) -------------------------------------------------------------------------------

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
    sock = _rfb_viewer_connect(port, encoding)
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
        for encoding, name in ((0, "raw"), (16, "zrle"), (5, "hextile")):
            for viewers in ((1, 4) if encoding == 0 else (1,)):
                processes, results = _run_viewers(port, encoding, viewers, seconds)
                time.sleep(0.5)
                cpu0, wall0, frames = _cpu_seconds(hub.process.pid), time.monotonic(), 0
                while time.monotonic() - wall0 < seconds - 0.6:
                    fb.put(0, 0, FB_W, FB_H, frames_bytes[frames % 2])
                    fb.frame(frames)
                    fb.next_event(kind="frame_done", timeout=5)
                    frames += 1
                wall = time.monotonic() - wall0
                cpu = _cpu_seconds(hub.process.pid) - cpu0
                measured_frames = frames
                # Keep drawing (unmeasured) until every viewer has finished its own timed run.
                while any(process.is_alive() for process in processes) and results.qsize() < len(processes):
                    fb.put(0, 0, FB_W, FB_H, frames_bytes[frames % 2])
                    fb.frame(frames)
                    fb.next_event(kind="frame_done", timeout=5)
                    frames += 1
                got = [results.get(timeout=30) for _ in processes]
                for process in processes:
                    process.join()
                fps = statistics.median(f / t for f, _, t in got)
                per_frame = sum(b for _, b, _ in got) / max(1, sum(f for f, _, _ in got))
                base_fps = baseline_fps.get(viewers, 0.0) if encoding == 0 else 0.0
                rows.append((f"{name}: guest full frames/s shown, {viewers} viewer(s)", measured_frames / wall, "fps",
                             "-", 0.0, "FRAME_DONE paced: composed and offered to every viewer"))
                rows.append((f"{name}: updates/s per viewer, {viewers} viewer(s)",
                             fps, "upd/s", "plain socket server, full raw frames" if encoding == 0 else "-", base_fps,
                             "a 1.5 MB frame arrives as 2 PUTs, so ~2 updates per frame"))
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
