"""Managed partitions (`Protocols/control.md` §10, `Deploy/config-reference.md` partitions[].launch): hubd launches
guests, watches them and restarts them by policy, while the other partitions keep running. Each test launches the sample
guest Tools/python/examples/supervised_guest.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from handsethub.pytest_plugin import find_hubd

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
GUEST = REPO / "Tools/python/examples/supervised_guest.py"


def default_config() -> str:
    return subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def with_launch(text: str, partition: str, launch: str, extra: str = "", restart: str | None = None) -> str:
    """Adds a launch section (and optionally more partition keys, or a replacement restart block) to one
    partition of an encoded configuration. Every encoded partition ends its own keys with `allowTakeover`."""
    pattern = re.compile(rf"(  - name: {partition}\n(?:    .*\n|      .*\n)*?)(    restart:\n(?:      .*\n)+)(    allowTakeover: \w+\n)")
    match = pattern.search(text)
    assert match, f"partition {partition} not found"
    block = match.group(1) + (restart or match.group(2)) + match.group(3) + extra + "    launch:\n" + launch
    return text[:match.start()] + block + text[match.end():]


def launch_block(*arguments: str) -> str:
    command = ", ".join([sys.executable, str(GUEST), *arguments])
    return f"      command: [{command}]\n      attachTimeoutMs: 5000\n"


def wait_state(hub, partition: str, state: str, timeout: float = 10.0, since: int = 0) -> dict:
    event = hub.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": [partition]},
                                     "since": since, "timeoutMs": int(timeout * 1000)})
    # Events are answered in order; keep waiting until the wanted state arrives.
    deadline = time.monotonic() + timeout
    while event["event"]["data"]["to"] != state:
        since = event["event"]["seq"]
        remaining = int((deadline - time.monotonic()) * 1000)
        assert remaining > 0, f"{partition} never reached {state}"
        event = hub.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": [partition]},
                                         "since": since, "timeoutMs": remaining})
    return event["event"]


def test_a_killed_guest_is_restarted_and_gets_the_messages_queued_meanwhile(hubd, tmp_path):
    record = tmp_path / "linux.log"
    config = with_launch(default_config(), "linux", launch_block("--record", str(record)))
    hub = hubd(config=config)
    attached = wait_state(hub, "linux", "running")
    first_pid = hub.call("partition.get", {"name": "linux"})["supervisor"]["pid"]
    os.kill(first_pid, signal.SIGKILL)
    crashed = wait_state(hub, "linux", "crashed", since=attached["seq"])
    assert "signal 9" in crashed["data"]["reason"]
    # While linux is down, rtos's test peer queues messages for it; they must arrive after the restart.
    for n in range(3):
        assert hub.call("msg.send", {"link": "rtos-linux", "as": "tester", "to": "linux", "text": f"m{n}"})[
            "messageId"] >= 1
    running = wait_state(hub, "linux", "running", since=crashed["seq"])
    assert running["time"]["monoNs"] - crashed["time"]["monoNs"] < 5_000_000_000
    status = hub.call("partition.get", {"name": "linux"})
    assert status["supervisor"]["pid"] != first_pid
    assert status["supervisor"]["restarts"] == 1
    assert eventually(lambda: text(record).count("msg ") >= 3)
    messages = [line.split(" ", 3)[3] for line in record.read_text().splitlines() if line.startswith("msg ")]
    assert messages == ["m0", "m1", "m2"]
    # The other partitions were untouched.
    assert hub.call("partition.get", {"name": "rtos"})["counters"]["attaches"] == 0


def test_a_guest_that_stops_heartbeating_is_declared_hung_and_restarted(hubd):
    config = with_launch(default_config(), "mgmt", launch_block("--heartbeat-ms", "0"), extra="    heartbeatMs: 100\n")
    hub = hubd(config=config)
    running = wait_state(hub, "mgmt", "running")
    crashed = wait_state(hub, "mgmt", "crashed", since=running["seq"])
    assert "missed heartbeat" in crashed["data"]["reason"]
    wait_state(hub, "mgmt", "running", since=crashed["seq"])
    detached = hub.call("events.recent", {"filter": {"kinds": ["partition.detached"], "partitions": ["mgmt"]}})
    assert any(e["data"]["reason"] == "heartbeat-missed" for e in detached["events"])


def test_a_guest_that_crashes_on_start_backs_off_then_fails_with_the_reason(hubd):
    restart = ("    restart:\n      mode: on-failure\n      maxRestarts: 3\n      windowSeconds: 60\n"
               "      backoffInitialMs: 50\n      backoffMaxMs: 1000\n")
    config = with_launch(default_config(), "secure", launch_block("--exit-after", "0"), restart=restart)
    hub = hubd(config=config)
    failed = wait_state(hub, "secure", "failed", timeout=15)
    assert "restart budget spent: 3 restarts" in failed["data"]["reason"]
    assert "exited with status 3" in failed["data"]["reason"]
    restarting = [e for e in hub.call("events.recent", {"filter": {"kinds": ["partition.state"],
                                                                   "partitions": ["secure"]}})["events"]
                  if e["data"]["to"] == "restarting"]
    delays = [int(re.search(r"in (\d+) ms", e["data"]["reason"]).group(1)) for e in restarting]
    assert delays == [50, 100, 200], delays  # exponential back-off
    logs = hub.call("partition.logs", {"name": "secure"})
    assert "crashing on start" in logs["text"]
    # A failed partition stays down until asked; the others were never disturbed.
    assert hub.call("partition.get", {"name": "secure"})["state"] == "failed"
    assert hub.call("partition.start", {"name": "secure"})["changed"] is True


def test_suspend_stops_the_process_and_resume_continues_it_with_notifications(hubd, tmp_path):
    record = tmp_path / "mgmt.log"
    config = with_launch(default_config(), "mgmt", launch_block("--record", str(record), "--heartbeat-ms", "0"))
    hub = hubd(config=config)
    wait_state(hub, "mgmt", "running")
    pid = hub.call("partition.get", {"name": "mgmt"})["supervisor"]["pid"]
    assert hub.call("partition.suspend", {"name": "mgmt"})["state"] == "suspended"
    assert eventually(lambda: process_state(pid) == "T"), "the guest process is stopped"
    # Raises on a suspended partition latch instead of being delivered.
    assert hub.call("irq.raise", {"partition": "mgmt", "line": 4, "as": "tester"})["pending"] is True
    assert hub.call("partition.resume", {"name": "mgmt"})["state"] == "running"
    assert eventually(lambda: process_state(pid) in ("S", "R")), "the guest process runs again"
    assert eventually(lambda: "irq 4" in text(record))
    lines = record.read_text().splitlines()
    assert lines[1:] == ["suspend", "resume", "irq 4"], lines


def test_a_suspended_heartbeating_guest_is_not_declared_hung_and_a_restart_keeps_it_suspended(hubd, tmp_path):
    """Guest.md §9.2: a suspended partition's liveness clock stands still (its process is stopped and cannot
    heartbeat) and restarts on resume; a restart does not end the suspension."""
    record = tmp_path / "mgmt.log"
    config = with_launch(default_config(), "mgmt", launch_block("--record", str(record), "--heartbeat-ms", "50"),
                         extra="    heartbeatMs: 200\n")
    hub = hubd(config=config)
    running = wait_state(hub, "mgmt", "running")
    pid = hub.call("partition.get", {"name": "mgmt"})["supervisor"]["pid"]
    assert hub.call("partition.suspend", {"name": "mgmt"})["state"] == "suspended"
    assert eventually(lambda: process_state(pid) == "T"), "the guest process is stopped"
    # Well past 3 x 200 ms without a heartbeat: the hub must not judge the stopped guest hung.
    time.sleep(1.5)
    status = hub.call("partition.get", {"name": "mgmt"})
    assert (status["state"], status["supervisor"]["state"], status["supervisor"]["pid"]) == (
        "suspended", "suspended", pid), status
    assert hub.call("guest.stats")["heartbeatsMissed"] == 0
    # On resume the clock restarts from zero: the guest, continued, has its full 600 ms to heartbeat again.
    assert hub.call("partition.resume", {"name": "mgmt"})["state"] == "running"
    time.sleep(1.0)
    status = hub.call("partition.get", {"name": "mgmt"})
    assert (status["state"], status["supervisor"]["pid"], status["supervisor"]["restarts"]) == ("running", pid, 0)
    states = hub.call("events.recent", {"filter": {"kinds": ["partition.state"], "partitions": ["mgmt"]},
                                        "since": running["seq"]})["events"]
    assert [e["data"]["to"] for e in states] == ["suspended", "running"], states

    # A restart while suspended comes back suspended: the new process is stopped before it attaches.
    assert hub.call("partition.suspend", {"name": "mgmt"})["state"] == "suspended"
    suspended = wait_state(hub, "mgmt", "suspended", since=states[-1]["seq"])
    hub.call("partition.restart", {"name": "mgmt"})
    restarted = wait_state(hub, "mgmt", "suspended", since=wait_state(hub, "mgmt", "starting",
                                                                       since=suspended["seq"])["seq"])
    assert "the partition is suspended" in restarted["data"]["reason"]
    new_pid = hub.call("partition.get", {"name": "mgmt"})["supervisor"]["pid"]
    assert new_pid != pid
    assert eventually(lambda: process_state(new_pid) == "T"), "the restarted guest is stopped"
    time.sleep(1.0)
    status = hub.call("partition.get", {"name": "mgmt"})
    assert (status["state"], status["supervisor"]["state"], status["supervisor"]["pid"]) == (
        "suspended", "suspended", new_pid), status
    assert hub.call("partition.resume", {"name": "mgmt"})["changed"] is True
    wait_state(hub, "mgmt", "running", since=restarted["seq"])
    assert eventually(lambda: process_state(new_pid) in ("S", "R")), "the restarted guest runs again"
    assert hub.call("guest.stats")["heartbeatsMissed"] == 0


def test_start_stop_restart_and_logs_through_the_control_api(hubd):
    config = with_launch(default_config(), "mgmt", launch_block())
    hub = hubd(config=config)
    wait_state(hub, "mgmt", "running")
    assert eventually(lambda: "attached as session" in hub.call("partition.logs", {"name": "mgmt"})["text"])
    hub.call("partition.logs", {"name": "mgmt", "clear": True})
    assert hub.call("partition.logs", {"name": "mgmt"})["bytes"] == 0
    hub.call("partition.stop", {"name": "mgmt"})
    stopped = wait_state(hub, "mgmt", "stopped")
    assert "partition.stop" in stopped["data"]["reason"]
    assert hub.call("partition.start", {"name": "mgmt"})["changed"] is True
    wait_state(hub, "mgmt", "running", since=stopped["seq"])
    error = None
    try:
        hub.call("partition.start", {"name": "rtos"})
    except Exception as caught:  # rtos has no launch section
        error = caught
    assert error is not None and error.data["reason"] == "not_launched"


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def eventually(condition, timeout: float = 5.0) -> bool:
    """Polls a condition the hub cannot signal (process states, pipe output), within a bound."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def text(path: Path) -> str:
    """A guest's record file; empty until the guest has created it."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_fair_share_guests_do_not_inherit_the_hub_loops_realtime_priority(hubd):
    """With hub.realTimePriority the loop thread runs SCHED_FIFO; guests it launches must not inherit that
    (fork copies the calling thread's policy): a fair-share guest runs SCHED_OTHER, a real-time one at the
    supervisor's SCHED_FIFO 90 - 5 x priority, not at the hub's."""
    config = default_config().replace("\nhub:\n", "\nhub:\n  realTimePriority: 95\n", 1)
    config = with_launch(config, "linux", launch_block())
    config = with_launch(config, "rtos", launch_block())
    hub = hubd(config=config)
    if hub.call("hub.info")["scheduling"]["policy"] != "SCHED_FIFO":
        import pytest
        pytest.skip("SCHED_FIFO refused here (needs CAP_SYS_NICE): nothing is inherited")
    running = wait_state(hub, "linux", "running")
    wait_state(hub, "rtos", "running")
    # Guests started with the hub are spawned before the loop runs; a restart is spawned from the loop thread.
    os.kill(hub.call("partition.get", {"name": "linux"})["supervisor"]["pid"], signal.SIGKILL)
    crashed = wait_state(hub, "linux", "crashed", since=running["seq"])
    wait_state(hub, "linux", "running", since=crashed["seq"])
    linux = hub.call("partition.get", {"name": "linux"})["supervisor"]["pid"]
    rtos = hub.call("partition.get", {"name": "rtos"})["supervisor"]["pid"]
    assert os.sched_getscheduler(linux) == os.SCHED_OTHER
    assert os.sched_getscheduler(rtos) == os.SCHED_FIFO
    assert os.sched_getparam(rtos).sched_priority == 90


FLOOD = """import sys, time
for n in range(20000):
    sys.stdout.write(f"line {n:06d} " + "x" * 88 + "\\n")  # 100 bytes a line: 2 MB in all
sys.stdout.write("DONE\\n")
sys.stdout.flush()
time.sleep(60)
"""


def test_a_guests_log_file_is_bounded_and_keeps_the_newest_output(hubd, tmp_path):
    """A launched guest's logFile is rotated once at launch.logFileMaxBytes (config-reference.md,
    partitions[].launch): 2 MB of output into a 64 KiB bound leaves logFile and logFile.1 within it each, the newest
    line at the end of logFile, and partition.get shows the bound. It grew without bound before."""
    guest, log = tmp_path / "flood.py", tmp_path / "flood.log"
    guest.write_text(FLOOD)
    launch = (f"      command: [{sys.executable}, {guest}]\n      attachTimeoutMs: 60000\n"
              f"      logFile: {log}\n      logFileMaxBytes: 64KiB\n")
    hub = hubd(config=with_launch(default_config(), "linux", launch))
    assert eventually(lambda: text(log).endswith("DONE\n"), timeout=30), text(log)[-300:]
    current, previous = log.read_bytes(), Path(f"{log}.1").read_bytes()
    assert len(current) <= 64 * 1024 and len(previous) <= 64 * 1024, (len(current), len(previous))
    lines = (previous + current).decode().splitlines()
    assert lines[-2:] == ["line 019999 " + "x" * 88, "DONE"]
    # The two files are the newest output in order, nothing missing between or within them.
    numbers = [int(line.split()[1]) for line in lines[:-1]]
    assert numbers == list(range(numbers[0], 20000)) and len(numbers) > 600
    status = hub.call("partition.get", {"name": "linux"})["supervisor"]["logFile"]
    assert status["path"] == str(log) and status["maxBytes"] == 64 * 1024 and status["lastError"] is None
    assert status["bytes"] == len(current) and status["rotations"] >= 2_000_000 // (64 * 1024) - 1
