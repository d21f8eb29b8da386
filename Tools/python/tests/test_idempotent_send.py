"""Exactly-once from a killed sender to a killed receiver (Protocols/guest.md §7.3, §7.10-§7.11).

50,000 messages on rtos-linux while the sending guest is SIGKILLed 20 times and the receiving guest 20 times,
alternately, each at an arbitrary point of the stream and started again at once: every payload arrives exactly
once and in order. Sender and receiver are separate processes using the Python guest client
(idempotent_guest.py explains their bookkeeping). Half of the sender's restarts replay from its own lagging
checkpoint, so the hub's duplicate detection is exercised, not only the resume answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
# The receiver's bookkeeping and these helpers are the crash-and-resume messaging test's.
from test_guest_messaging import line_count, unix_guest_endpoint

HERE = Path(__file__).resolve().parent
GUEST_SCRIPT = HERE / "idempotent_guest.py"
COUNT = 50_000
KILLS_EACH = 20
TIME_LIMIT = 150.0


def test_sender_and_receiver_killed_twenty_times_each_every_payload_once_in_order(hubd, tmp_path):
    hub = hubd()
    endpoint = unix_guest_endpoint(hub)
    output = tmp_path / "received.txt"
    arguments = {
        "send": ("send", endpoint, "rtos-linux", str(COUNT), str(tmp_path / "sender-state.json")),
        "receive": ("receive", endpoint, "rtos-linux", str(COUNT), str(tmp_path / "receiver-state.json"),
                    str(output)),
    }
    logs: list[Path] = []

    def spawn(role: str) -> subprocess.Popen:
        log = tmp_path / f"{role}-{len(logs)}.log"
        logs.append(log)
        with open(log, "wb") as handle:
            return subprocess.Popen([sys.executable, str(GUEST_SCRIPT), *arguments[role]], stdin=subprocess.DEVNULL,
                                    stdout=handle, stderr=subprocess.STDOUT)

    def describe(process: subprocess.Popen) -> str:
        return f"{process.args[2]} exited {process.returncode}:\n" + "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs[-4:])

    deadline = time.monotonic() + TIME_LIMIT
    processes = {"receive": spawn("receive"), "send": spawn("send")}
    kills = {"send": 0, "receive": 0}
    try:
        # Kill points spread over the stream, sender and receiver alternately, each while both are mid-stream.
        points = [COUNT * (index + 1) // (2 * KILLS_EACH + 2) for index in range(2 * KILLS_EACH)]
        for index, point in enumerate(points):
            role = "send" if index % 2 == 0 else "receive"
            while line_count(output) < point:
                for process in processes.values():
                    if process.poll() is not None:
                        pytest.fail(f"a guest ended before kill {index + 1}: {describe(process)}")
                assert time.monotonic() < deadline, f"only {line_count(output)} messages after {TIME_LIMIT} s"
                time.sleep(0.005)
            victim = processes[role]
            assert victim.poll() is None, f"the {role}er finished before kill {index + 1}: nothing to test"
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=5)
            kills[role] += 1
            processes[role] = spawn(role)
        for role, process in processes.items():
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"the {role}er did not finish within {TIME_LIMIT} s ({line_count(output)} received)")
            assert process.returncode == 0, describe(process)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    assert kills == {"send": KILLS_EACH, "receive": KILLS_EACH}
    lines = output.read_bytes().split(b"\n")
    assert lines[-1] == b""
    received = [int(line) for line in lines[:-1]]
    duplicates = len(received) - len(set(received))
    assert duplicates == 0, f"{duplicates} payloads arrived more than once"
    assert received == list(range(1, COUNT + 1))
    counters = hub.link("rtos-linux")["counters"]
    print(f"rtos-linux counters after {kills}: {counters}")
    # The hub queued every message exactly once, and the replaying restarts did send repeats it dropped.
    assert counters["sent"] == COUNT and counters["acknowledged"] == COUNT
    assert counters["duplicateSends"] > 0
    assert counters["dropped"] == 0


def test_python_client_sequenced_sends_against_hubd(hubd):
    from handsethub.guest import SEND_SEQUENCE, GuestClient, GuestError

    hub = hubd()
    endpoint = unix_guest_endpoint(hub)
    with GuestClient.connect(endpoint, "rtos", "rtos-dev-secret", features=[SEND_SEQUENCE]) as rtos:
        link = next(item["id"] for item in rtos.welcome["links"] if item["name"] == "rtos-linux")
        assert rtos.send_sequences[link] == 0
        assert rtos.send_seq(link, 1, b"one")[0] == "queued"
        assert rtos.send_seq(link, 1, b"one again") == ("duplicate", 1)
        assert rtos.send_seq(link, 3, b"three") == ("sequence_gap", 1)
        assert rtos.send_sequences[link] == 1
        rtos.detach("bye")
    with GuestClient.connect(endpoint, "linux", "linux-dev-secret") as plain:
        assert plain.send_sequences == {}
        with pytest.raises(GuestError) as refused:
            plain.send_seq(link, 2, b"two")
        assert refused.value.code == 9  # unknown_frame_type: the feature was not negotiated
    assert hub.link("rtos-linux")["counters"]["sent"] == 1
