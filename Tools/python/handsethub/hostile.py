"""Hostile-peer campaign: attacks on every hubd port, written from the specs in Protocols/, and the bystanders
that check the hub keeps its promises to everyone else while an attack runs.

Used twice: by the end-to-end suite (``Tools/python/tests/test_hostile_campaign.py``), which asserts that the
hub survives, keeps serving the bystanders, answers afterwards and gives its memory back; and by the benchmark
runner (``Tools/bench --only hostile``), which prints the figures per attack (bystander round-trip p99, the
loop watchdog's longest and p99 pass, resident memory) beside the idle values of the same run.

An attack is a function ``attack(target: Target) -> dict``: it does its damage, cleans up its own sockets and
returns facts the caller may assert on (what the hub answered). Every attack bounds its own time.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from .control import HubClient, HubError
from .guest import Frame, GuestClient, GuestError

# --------------------------------------------------------------------------------------------------------------
# The target: one running hubd and how to reach each of its ports.


@dataclass
class Target:
    pid: int
    control_unix: str          # "unix:/path" — the local administrator's endpoint
    control_tcp: str           # "tcp:host:port" — token-protected in the campaign configuration
    guest_unix: str
    guest_tcp: str
    token: str
    rfb_port: Optional[int] = None
    extra: Dict[str, str] = field(default_factory=dict)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ProcessLookupError(self.pid)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie is not alive
            with open(f"/proc/{self.pid}/stat") as stat:
                return stat.read().split(") ", 1)[1][0] != "Z"
        except FileNotFoundError:
            return False


def open_stream(address: str, timeout: float = 5.0) -> socket.socket:
    """A raw stream socket to ``unix:PATH`` or ``tcp:HOST:PORT``."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address[5:])
        return sock
    host, _, port = address[4:].rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# What read_lines received past the lines it returned, per socket: the next call starts there. A recv ends wherever
# the kernel's queue ends, often inside a line (a partial write, a small receive window, the 64 KiB recv size), so
# dropping the rest would make the next call start mid-line.
_unread: "weakref.WeakKeyDictionary[socket.socket, bytes]" = weakref.WeakKeyDictionary()


def read_lines(sock: socket.socket, count: int, timeout: float) -> List[dict]:
    """Reads up to ``count`` JSON lines (fewer if the peer closes or the time runs out); bytes read past them are
    kept for the next call on the same socket."""
    sock.settimeout(timeout)
    buffer = _unread.pop(sock, b"")
    lines: List[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        while b"\n" in buffer and len(lines) < count:
            line, buffer = buffer.split(b"\n", 1)
            lines.append(json.loads(line))
        if len(lines) >= count or time.monotonic() >= deadline:
            break
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        buffer += chunk
    if buffer:
        _unread[sock] = buffer
    return lines


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True when the hub closes the connection within ``timeout`` (reads and discards what it sends)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        except OSError:
            return True
    return False


# --------------------------------------------------------------------------------------------------------------
# Bystanders: a control client and a guest pair that keep working while an attack runs.


def _percentile(values: List[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class ControlBystander(threading.Thread):
    """Calls ``hub.info`` on the Unix control socket every ``interval`` seconds and records the round trips."""

    def __init__(self, address: str, interval: float = 0.01, timeout: float = 10.0):
        super().__init__(daemon=True)
        self.client = HubClient(address, timeout=timeout)
        self.interval = interval
        self.timeout = timeout
        self.rtts_ms: List[float] = []
        self.failures: List[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.perf_counter()
            try:
                self.client.call("hub.info", timeout=self.timeout)
            except Exception as error:  # noqa: BLE001 - every failure is a finding
                self.failures.append(f"{type(error).__name__}: {error}")
                return
            self.rtts_ms.append((time.perf_counter() - started) * 1000)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.timeout + 1)
        self.client.close()

    def p99(self) -> float:
        return _percentile(self.rtts_ms, 0.99)


class GuestBystander(threading.Thread):
    """Two attached partitions exchanging numbered messages (rtos → secure), heartbeating every 200 ms.

    Records every payload received, so the caller can check that the exchange went on during the attack,
    that nothing was lost or duplicated and that neither guest was disconnected.
    """

    def __init__(self, endpoint: str, sender: str = "rtos", receiver: str = "secure", interval: float = 0.01):
        super().__init__(daemon=True)
        self.sender = GuestClient.connect(endpoint, sender, f"{sender}-dev-secret")
        self.receiver = GuestClient.connect(endpoint, receiver, f"{receiver}-dev-secret")
        self.link = next(link for link in self.sender.welcome["links"] if link["peer"] == receiver)
        self.receiver_link = next(link for link in self.receiver.welcome["links"] if link["peer"] == sender)
        self.interval = interval
        self.sent = 0
        self.received: List[int] = []
        self.rtts_ms: List[float] = []
        self.failures: List[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        last_heartbeat = time.monotonic()
        try:
            while not self._stop_event.is_set():
                started = time.perf_counter()
                status, _ = self.sender.send(self.link["id"], str(self.sent + 1).encode())
                if status != "queued":
                    self.failures.append(f"send answered {status}")
                    return
                self.sent += 1
                delivery = self._next_delivery()
                self.received.append(int(delivery.fields["payload"]))
                self.receiver.ack(self.receiver_link["id"], delivery.fields["message_id"])
                self.rtts_ms.append((time.perf_counter() - started) * 1000)
                if time.monotonic() - last_heartbeat > 0.2:
                    self.sender.heartbeat()
                    self.receiver.heartbeat()
                    last_heartbeat = time.monotonic()
                self._stop_event.wait(self.interval)
        except Exception as error:  # noqa: BLE001
            self.failures.append(f"{type(error).__name__}: {error}")

    def _next_delivery(self) -> Frame:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            frame = self.receiver.receive(timeout=max(0.0, deadline - time.monotonic()))
            if frame is not None and frame.type == "MSG_DELIVER":
                return frame
            # The sender's CREDIT frames pile up in its own queue; drop them so it does not grow.
            self.sender.queue = [f for f in self.sender.queue if f.type != "CREDIT"]
        raise TimeoutError("no MSG_DELIVER within 10 s")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=15)
        for client in (self.sender, self.receiver):
            try:
                client.detach("campaign over")
            except OSError:
                pass

    def in_order_exactly_once(self) -> bool:
        return self.received == list(range(1, len(self.received) + 1))


# --------------------------------------------------------------------------------------------------------------
# Attacks on the control port (Protocols/control.md).


def attack_long_line(target: Target) -> dict:
    """A line over the pre-authentication limit, no newline, on the token-protected TCP port (and on Unix)."""
    facts = {}
    for name, address in (("tcp", target.control_tcp), ("unix", target.control_unix)):
        sock = open_stream(address)
        try:
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < 1_200_000:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the hub may close before we finish: that is the point
            facts[f"{name}_closed"] = closed_by_peer(sock, 5)
        finally:
            sock.close()
    return facts


def attack_wrong_tokens(target: Target, connections: int = 30, tries: int = 5) -> dict:
    """Connections that present wrong tokens, several times each, and keep writing behind each try."""
    refused = 0
    for _ in range(connections):
        sock = open_stream(target.control_tcp)
        try:
            read_lines(sock, 1, 2)  # the greeting
            for attempt in range(tries):
                request = {"jsonrpc": "2.0", "id": attempt, "method": "hub.authenticate",
                           "params": {"token": f"wrong-{attempt}"}}
                trailer = b'{"jsonrpc":"2.0","id":99,"method":"hub.info"}\n' * 200
                try:
                    sock.sendall(json.dumps(request).encode() + b"\n" + trailer)
                except OSError:
                    break
                answer = read_lines(sock, 1, 2)
                if answer and "error" in answer[0]:
                    refused += 1
        finally:
            sock.close()
    return {"refused": refused}


def attack_many_keys(target: Target, keys: int = 125_000) -> dict:
    """One JSON object with ``keys`` distinct keys (under 1 MB without the token, over TCP)."""
    body = ",".join(f'"k{index}":0' for index in range(keys))
    line = ('{"jsonrpc":"2.0","id":1,"method":"hub.info","params":{' + body + "}}\n").encode()
    sock = open_stream(target.control_tcp)
    try:
        read_lines(sock, 1, 2)
        try:
            sock.sendall(line)
        except OSError:
            pass
        answer = read_lines(sock, 1, 10)
    finally:
        sock.close()
    return {"answer": answer[0] if answer else None, "bytes": len(line)}


def attack_many_filters(target: Target, patterns: int = 100_000) -> dict:
    """``events.recent`` and ``events.subscribe`` with ``patterns`` kind patterns, authenticated on Unix."""
    kinds = [f"k{index}" for index in range(patterns)]  # 100,000 patterns in a line under 1 MiB
    answers = []
    sock = open_stream(target.control_unix)
    try:
        read_lines(sock, 1, 2)
        for request_id, method in enumerate(("events.recent", "events.subscribe"), start=1):
            request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {"filter": {"kinds": kinds}}}
            try:
                sock.sendall(json.dumps(request).encode() + b"\n")
            except OSError:
                break
            answers.extend(read_lines(sock, 1, 10))
    finally:
        sock.close()
    return {"answers": answers}


def attack_unread_answers(target: Target, requests: int = 800, hold: float = 3.0) -> dict:
    """Pipelined ``fb.region`` requests (a whole screen each, about 1.5 MB answered) from a client that never
    reads: all of them in one write (about 46 KB), so they arrive in one read of the hub's."""
    sock = open_stream(target.control_unix)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    line = b'{"jsonrpc":"2.0","id":1,"method":"fb.region","params":{}}\n'
    sock.settimeout(2.0)
    try:
        read_lines(sock, 1, 2)  # the greeting
        try:
            sock.sendall(line * requests)
            written = requests
        except OSError:
            written = 0  # the hub stopped reading us: backpressure
        peak = target.rss_kib()
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            peak = max(peak, target.rss_kib())
            time.sleep(0.05)
    finally:
        sock.close()
    return {"requests_written": written, "peak_rss_kib": peak}


def attack_held_connections(target: Target, count: int = 3000) -> dict:
    """Thousands of idle control connections on TCP; then the administrator connects on Unix."""
    held: List[socket.socket] = []
    try:
        for _ in range(count):
            try:
                held.append(open_stream(target.control_tcp, timeout=2))
            except OSError:
                break
        time.sleep(1.0)  # let the hub accept what the kernel queued before the administrator comes
        with HubClient(target.control_unix, timeout=5) as admin:
            admin_info = admin.call("hub.info")
    finally:
        for sock in held:
            sock.close()
    return {"opened": len(held), "admin_served": bool(admin_info)}


def attack_unknown_method_probe(target: Target) -> dict:
    """Without the token: is an unknown method distinguishable from a known one?"""
    sock = open_stream(target.control_tcp)
    try:
        read_lines(sock, 1, 2)
        answers = {}
        for request_id, method in enumerate(("hub.info", "no.such.method", "eth.ports"), start=1):
            sock.sendall(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method}).encode() + b"\n")
            answer = read_lines(sock, 1, 5)
            answers[method] = answer[0].get("error") if answer else None
    finally:
        sock.close()
    return {"answers": answers}


def attack_huge_number(target: Target) -> dict:
    """Numbers out of range in control parameters (rate 1e20, negative, fractional)."""
    answers = []
    with HubClient(target.control_unix, timeout=5) as client:
        for egress in ({"rateBitsPerSecond": 1e20}, {"rateBitsPerSecond": -1}, {"delayMs": 1e300},
                       {"lossPercent": 1e20}):
            try:
                client.call("eth.setImpairments", {"segment": "lan0", "port": "linux", "egress": egress})
                answers.append(None)
            except HubError as error:
                answers.append(error.code)
    return {"answers": answers}


# --------------------------------------------------------------------------------------------------------------
# Attacks on the guest port (Protocols/guest.md).


def attack_preauth_guests(target: Target, count: int = 3000) -> dict:
    """Thousands of guest connections that never finish their handshake; then a real guest attaches."""
    held: List[socket.socket] = []
    try:
        for _ in range(count):
            try:
                held.append(open_stream(target.guest_tcp, timeout=2))
            except OSError:
                break
        guest = GuestClient.connect(target.guest_unix, "linux", "linux-dev-secret", timeout=5)
        attached = bool(guest.welcome)
        guest.detach("campaign")
    finally:
        for sock in held:
            sock.close()
    return {"opened": len(held), "real_guest_attached": attached}


def attack_partial_frames(target: Target, count: int = 800, declared: int = 1 << 20) -> dict:
    """``count`` pre-authentication guests, each sending most of a 1 MiB frame and then stalling."""
    held: List[socket.socket] = []
    peak = target.rss_kib()
    try:
        for _ in range(count):
            try:
                sock = open_stream(target.guest_tcp, timeout=2)
            except OSError:
                break
            held.append(sock)
            try:
                sock.setblocking(False)
                sock.send(struct.pack(">I", declared) + b"\0" * (declared - 16))
            except OSError:
                pass  # refused or closed early: the hub did not want it
        peak = max(peak, target.rss_kib())
        time.sleep(0.5)
        peak = max(peak, target.rss_kib())
    finally:
        for sock in held:
            sock.close()
    return {"opened": len(held), "peak_rss_kib": peak}


# --------------------------------------------------------------------------------------------------------------
# Attacks on the RFB port (Protocols/framebuffer.md, RFC 6143).


def rfb_handshake(port: int, timeout: float = 5.0) -> bytes:
    """A real viewer's handshake up to ServerInit (security type None); returns the ServerInit bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        version = _recv_exact(sock, 12)
        sock.sendall(version)
        count = _recv_exact(sock, 1)[0]
        if count == 0:  # RFC 6143 §7.1.2: the server refused the connection and says why
            length = struct.unpack(">I", _recv_exact(sock, 4))[0]
            raise RuntimeError(f"refused: {_recv_exact(sock, min(length, 4096)).decode(errors='replace')}")
        types = _recv_exact(sock, count)
        if 1 not in types:
            raise RuntimeError(f"security None not offered: {list(types)}")
        sock.sendall(b"\x01")
        result = struct.unpack(">I", _recv_exact(sock, 4))[0]
        if result != 0:
            raise RuntimeError("security result failed")
        sock.sendall(b"\x01")  # shared
        header = _recv_exact(sock, 24)
        name_length = struct.unpack(">I", header[20:24])[0]
        return header + _recv_exact(sock, name_length)
    finally:
        sock.close()


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def attack_stalled_rfb(target: Target, count: int = 64) -> dict:
    """``count`` viewers that connect and never answer the version; then a real viewer connects."""
    held: List[socket.socket] = []
    try:
        for _ in range(count):
            try:
                held.append(socket.create_connection(("127.0.0.1", target.rfb_port), timeout=2))
            except OSError:
                break
        server_init = rfb_handshake(target.rfb_port)
    finally:
        for sock in held:
            sock.close()
    return {"opened": len(held), "viewer_served": len(server_init) >= 24}


ATTACKS: Dict[str, Callable[[Target], dict]] = {
    "long_line": attack_long_line,
    "wrong_tokens": attack_wrong_tokens,
    "many_keys": attack_many_keys,
    "many_filters": attack_many_filters,
    "unread_answers": attack_unread_answers,
    "held_connections": attack_held_connections,
    "unknown_method_probe": attack_unknown_method_probe,
    "huge_number": attack_huge_number,
    "preauth_guests": attack_preauth_guests,
    "partial_frames": attack_partial_frames,
    "stalled_rfb": attack_stalled_rfb,
}
