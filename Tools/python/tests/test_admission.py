"""Hostile peers against a real hubd: thousands of idle and half-open connections across every listener.

Admission (Protocols/control.md §2.6): connections that never finish a handshake have budgets of their own, apart
from authenticated ones, with a share kept for the Unix socket; frames before authentication are small; the hub
raises its open-file soft limit at start and hands freed memory back after the burst. Each test bounds its time
and closes every socket it opened; the hubd fixture stops the hub.
"""

from __future__ import annotations

import os
import re
import resource
import socket
import struct
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from handsethub.guest import GuestClient
from handsethub.pytest_plugin import find_hubd

IDLE_CONNECTIONS = 2000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def tcp(address: str) -> tuple[str, int]:
    host, _, port = address[len("tcp:"):].rpartition(":")
    return host.strip("[]"), int(port)


def first(addresses: list[str], scheme: str) -> str:
    return next(a for a in addresses if a.startswith(scheme + ":"))


def default_config_with_raw_at() -> str:
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=10).stdout
    match = re.search(r"^(\s*)backend: builtin$", text, re.MULTILINE)
    assert match, "the default configuration has a built-in modem"
    indent = match.group(1)
    return text.replace(match.group(0), f"{match.group(0)}\n{indent}listen: [unix:/tmp/handsethub/at.sock]", 1)


@contextmanager
def soft_open_files(limit: int):
    """Children started inside inherit `limit` as their soft open-file limit (as under systemd's default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def own_open_files(needed: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard open-file limit ({hard}) is below the {needed} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_idle(address: tuple[str, int] | str, count: int, sockets: list[socket.socket], send: bytes = b"") -> None:
    for _ in range(count):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(address)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass  # a full Unix backlog refuses at once: that peer holds nothing
        sockets.append(sock)
        if send:
            try:
                sock.send(send)
            except OSError:
                pass  # not connected yet, or already refused: either way it holds nothing in the hub


def test_two_thousand_idle_connections_lock_nobody_out_and_memory_returns(hubd):
    with own_open_files(IDLE_CONNECTIONS + 512), soft_open_files(1024):
        admin = hubd(config=default_config_with_raw_at())
    hub = admin.hub
    pid = hub.process.pid
    info = admin.info()
    assert info["openFiles"]["softAtStart"] == min(1024, info["openFiles"]["hard"])
    assert info["openFiles"]["soft"] == info["openFiles"]["hard"], "the soft limit is raised to the hard limit"
    idle_rss = rss_kib(pid)
    guest_tcp = tcp(first(hub.guest, "tcp"))
    control_tcp = tcp(first(hub.control, "tcp"))
    rfb = tcp(admin.call("fb.info")["rfbEndpoints"][0])
    modem = str(next(hub.directory.glob("*-at.sock")))
    # A 1 MiB frame announced before HELLO, with its first 32 KiB: refused at its length prefix.
    partial_frame = struct.pack(">I", 1 << 20) + bytes(32 * 1024)
    sockets: list[socket.socket] = []
    started = time.monotonic()
    # The control client uses select(): keep low descriptor numbers free for the clients opened mid-attack.
    reserved = [os.open("/dev/null", os.O_RDONLY) for _ in range(8)]
    try:
        with own_open_files(IDLE_CONNECTIONS + 512):
            open_idle(guest_tcp, 900, sockets)
            open_idle(guest_tcp, 500, sockets, send=partial_frame)
            open_idle(control_tcp, 400, sockets)
            open_idle(rfb, 150, sockets)
            open_idle(modem, 50, sockets)
            assert len(sockets) == IDLE_CONNECTIONS
            time.sleep(0.5)
            for fd in reserved:
                os.close(fd)
            reserved.clear()
            # Everyone else is still served: the administrator on the Unix socket, and a real guest.
            with hub.connect(first(hub.control, "unix")) as local_admin:
                assert local_admin.info()["server"] == "hubd"
                admission = {g["name"]: g for g in local_admin.call("hub.admission")["listeners"]}
            guest = GuestClient.connect(first(hub.guest, "unix"), "linux", "linux-dev-secret", timeout=5.0)
            assert guest.welcome["session_id"] != 0
            guest.close()
            # The budgets held, and every refusal was counted by reason.
            assert admission["guest"]["pending"] <= admission["guest"]["limits"]["maxPending"]
            # A full pending budget evicts the longest handshake (control.md §2.6): the idle ones gave way.
            assert admission["guest"]["refused"]["evicted"] > 0
            assert admission["control"]["pending"] <= admission["control"]["limits"]["maxPending"]
            assert admission["control"]["refused"]["evicted"] > 0
            assert admission["rfb:fb0"]["pending"] <= admission["rfb:fb0"]["limits"]["maxPending"]
            assert admission["rfb:fb0"]["refused"]["evicted"] > 0
            assert admission["modem:modem0"]["refused"]["too_many_clients"] > 0
            peak_rss = rss_kib(pid)
    finally:
        for fd in reserved:
            os.close(fd)
        for sock in sockets:
            sock.close()
    # Memory goes back near idle once the peers are gone (freed heap is returned after the burst).
    deadline = time.monotonic() + 10
    while rss_kib(pid) > idle_rss + 32 * 1024 and time.monotonic() < deadline:
        time.sleep(0.2)
    after_rss = rss_kib(pid)
    print(f"RSS idle {idle_rss} KiB, under attack {peak_rss} KiB, after {after_rss} KiB;"
          f" {time.monotonic() - started:.1f} s")
    assert after_rss <= idle_rss + 32 * 1024, f"RSS {after_rss} KiB, idle was {idle_rss} KiB"
    assert admin.info()["server"] == "hubd"
    assert time.monotonic() - started < 30


def test_out_of_descriptors_is_counted_logged_at_a_bounded_rate_and_recovers(hubd, tmp_path, monkeypatch):
    # A hub whose hard limit is 200 descriptors: idle peers exhaust it, listeners accept and drop.
    wrapper = tmp_path / "hubd-200"
    wrapper.write_text(f"#!/bin/sh\nulimit -n 200\nexec {find_hubd()} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("HANDSETHUB_HUBD", str(wrapper))
    admin = hubd()
    hub = admin.hub
    assert admin.info()["openFiles"]["hard"] == 200
    guest_tcp = tcp(first(hub.guest, "tcp"))
    control_tcp = tcp(first(hub.control, "tcp"))
    sockets: list[socket.socket] = []
    started = time.monotonic()
    try:
        with own_open_files(1024):
            for _ in range(3):
                open_idle(guest_tcp, 150, sockets)
                open_idle(control_tcp, 60, sockets)
                time.sleep(0.4)
    finally:
        for sock in sockets:
            sock.close()
    # The hub recovers once the peers are gone: a guest attaches, the administrator is served.
    deadline = time.monotonic() + 10
    while True:
        try:
            guest = GuestClient.connect(first(hub.guest, "unix"), "rtos", "rtos-dev-secret", timeout=2.0)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    guest.close()
    with hub.connect(first(hub.control, "unix")) as local_admin:
        listeners = local_admin.call("hub.admission")["listeners"]
    errors = sum(g["acceptErrors"] for g in listeners)
    assert errors > 0, "accept failures are counted"
    logged = len(re.findall(r"accept failed", hub.log()))
    elapsed_s = time.monotonic() - started + 1
    # At most one line per listener per second (acceptErrorLogIntervalMs), however many failures.
    assert 0 < logged <= 2 * (int(elapsed_s) + 1), hub.log()[-2000:]
    assert time.monotonic() - started < 30
