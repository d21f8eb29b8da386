"""Interrupts and messaging (`Protocols/guest.md` §6, §7) with the Python guest client against a real hubd, guests in
their own processes.

* The receiving guest is killed (SIGKILL) in the middle of a stream of 10,000 messages and restarted;
  every message arrives exactly once and in order (messaging_guest.py explains the receiver's bookkeeping).
* The Python client attaches, raises, sends and receives.
"""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handsethub.guest import GuestClient

HERE = Path(__file__).resolve().parent
GUEST_SCRIPT = HERE / "messaging_guest.py"
COUNT = 10_000


def unix_guest_endpoint(hub) -> str:
    return next(address for address in hub.hub.guest if address.startswith("unix:"))


def tcp_guest_endpoint(hub) -> str:
    return next(address for address in hub.hub.guest if address.startswith("tcp:"))


def line_count(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(GUEST_SCRIPT), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, timeout: float) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"guest process {process.args[2]} did not finish within {timeout} s:\n{output.decode()}")
    assert process.returncode == 0, output.decode()
    return output.decode()


def test_receiver_killed_mid_stream_gets_every_message_exactly_once_in_order(hubd, tmp_path):
    hub = hubd()
    endpoint = unix_guest_endpoint(hub)
    state, output = tmp_path / "receiver-state.json", tmp_path / "received.txt"
    receive_args = ("receive", endpoint, "rtos-linux", str(COUNT), str(state), str(output))
    processes = []
    try:
        receiver = spawn(*receive_args)
        processes.append(receiver)
        sender = spawn("send", endpoint, "rtos-linux", str(COUNT))
        processes.append(sender)

        deadline = time.monotonic() + 60
        while line_count(output) < COUNT // 4:
            assert receiver.poll() is None, receiver.communicate()[0].decode()
            assert time.monotonic() < deadline, "the receiver processed too little in 60 s"
            time.sleep(0.005)
        os.kill(receiver.pid, signal.SIGKILL)
        receiver.wait(timeout=5)
        at_kill = line_count(output)
        assert at_kill < COUNT, "the stream finished before the kill: nothing was tested"

        time.sleep(0.3)  # the sender runs out of credit meanwhile; messages queue in the hub
        restarted = spawn(*receive_args)
        processes.append(restarted)
        finish(sender, timeout=120)
        finish(restarted, timeout=120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    lines = output.read_bytes().split(b"\n")
    assert lines[-1] == b""
    received = [int(line) for line in lines[:-1]]
    assert len(received) == COUNT, f"{len(received)} lines, killed at {at_kill}"
    assert received == list(range(1, COUNT + 1))
    counters = hub.link("rtos-linux")["counters"]
    assert counters["sent"] == COUNT and counters["acknowledged"] == COUNT
    assert counters["dropped"] == 0


def test_python_guest_attaches_raises_sends_and_receives(hubd):
    hub = hubd()
    unix, tcp = unix_guest_endpoint(hub), tcp_guest_endpoint(hub)
    with GuestClient.connect(unix, "rtos", "rtos-dev-secret", timeout=5) as rtos, \
            GuestClient.connect(tcp, "linux", "linux-dev-secret", timeout=5) as linux:
        assert {peer for peer in rtos.welcome["peers"]} >= {"linux", "secure"}
        # The region arrives as a descriptor right behind WELCOME on the Unix socket.
        region = rtos.receive(timeout=5)
        assert region.type == "REGION_FD"
        assert region.fields["access"] == 2 and region.fields["fd"] is not None
        assert rtos.raise_irq("linux", 3) == "delivered"
        irq = linux.receive(timeout=5)
        assert (irq.type, irq.fields["line"], irq.fields["coalesced"]) == ("IRQ", 3, 1)
        linux.eoi(3)
        assert linux.raise_irq("secure", 1) == "not_permitted"

        link = next(entry for entry in rtos.welcome["links"] if entry["name"] == "rtos-linux")
        status, message_id = rtos.send(link["id"], b"hello linux", correlation=42)
        assert (status, message_id) == ("queued", 1)
        delivery = linux.receive(timeout=5)
        assert delivery.type == "MSG_DELIVER"
        assert (delivery.fields["sender"], delivery.fields["payload"], delivery.fields["correlation"]) == (
            "rtos", b"hello linux", 42)
        linux.ack(link["id"], delivery.fields["message_id"])
        status, _ = linux.send(link["id"], b"hello rtos")
        assert status == "queued"
        answer = rtos.receive(timeout=5)
        while answer.type != "MSG_DELIVER":
            answer = rtos.receive(timeout=5)
        assert (answer.fields["sender"], answer.fields["payload"]) == ("linux", b"hello rtos")

        # A raise on a detached partition latches; it arrives right behind WELCOME when secure attaches.
        assert rtos.raise_irq("secure", 5) == "latched"
        with GuestClient.connect(unix, "secure", "secure-dev-secret", timeout=5) as secure:
            latched = secure.receive(timeout=5)
            assert (latched.type, latched.fields["line"]) == ("IRQ", 5)

        # rtos (read-write grant) writes through its mapping.
        with mmap.mmap(region.fields["fd"], region.fields["size"], mmap.MAP_SHARED,
                       mmap.PROT_READ | mmap.PROT_WRITE) as shared:
            shared[0:5] = b"hello"
        os.close(region.fields["fd"])
        # linux (TCP, read-only grant) reads it through the protocol and may not write.
        region_id = region.fields["region"]
        assert linux.read_region(region_id, 0, 5) == b"hello"
        assert linux.write_region(region_id, 0, b"x") == "out_of_grant"


def test_a_read_only_region_descriptor_cannot_be_mapped_writable(hubd):
    hub = hubd()
    with GuestClient.connect(unix_guest_endpoint(hub), "linux", "linux-dev-secret", timeout=5) as linux:
        frame = linux.receive(timeout=5)
        while frame.type != "REGION_FD":
            frame = linux.receive(timeout=5)
        assert frame.fields["access"] == 1
        fd = frame.fields["fd"]
        try:
            with pytest.raises(PermissionError):
                mmap.mmap(fd, frame.fields["size"], mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            with mmap.mmap(fd, frame.fields["size"], mmap.MAP_SHARED, mmap.PROT_READ) as shared:
                assert shared[0:4] == b"\0\0\0\0"
        finally:
            os.close(fd)


def test_an_interrupt_not_acknowledged_before_its_guest_left_comes_again_with_its_count(hubd):
    """A guest that goes away between an IRQ and its EOI gets the interrupt again at its next attach, and that IRQ
    counts every raise it stands for (guest.md 6.3): the one not acknowledged and those during its service. The
    hub counted only the latter (2 of 3; and 0, sent as 1, with none)."""
    hub = hubd()
    unix, tcp = unix_guest_endpoint(hub), tcp_guest_endpoint(hub)

    def next_irq(guest):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = guest.receive(timeout=max(0.0, deadline - time.monotonic()))
            if frame is not None and frame.type == "IRQ":
                return frame
        raise AssertionError("no IRQ within 5 s")

    def detached():
        deadline = time.monotonic() + 5
        while hub.call("partition.get", {"name": "linux"}).get("session") and time.monotonic() < deadline:
            time.sleep(0.02)

    with GuestClient.connect(unix, "rtos", "rtos-dev-secret", timeout=5) as rtos:
        for raises_in_service in (0, 2):
            with GuestClient.connect(tcp, "linux", "linux-dev-secret", timeout=5) as linux:
                assert rtos.raise_irq("linux", 3) == "delivered"
                assert next_irq(linux).fields["coalesced"] == 1
                for _ in range(raises_in_service):
                    assert rtos.raise_irq("linux", 3) == "delivered"
            # Gone without its EOI.
            detached()
            with GuestClient.connect(tcp, "linux", "linux-dev-secret", timeout=5) as linux:
                irq = next_irq(linux)
                # The unacknowledged delivery's raise and those during its service, in one IRQ.
                assert (irq.fields["line"], irq.fields["coalesced"]) == (3, 1 + raises_in_service)
                linux.eoi(3)
                assert linux.raise_irq("rtos", 1) in ("delivered", "not_permitted")
