"""The living reference handset end to end (`Deploy/examples/living-handset.yaml`): hubd launches the four sample guests
of Tools/python/examples/handset/, a real VNC client (vncdotool) presses the keys, and the control API injects the
network side and checks the screen."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
VNCDO = shutil.which("vncdo")
STATUS_BAR, HOME, CALL_SCREEN, IN_CALL = "#102040", "#203040", "#0030a0", "#007020"


def living_config() -> str:
    text = (REPO / "Deploy/examples/living-handset.yaml").read_text()
    # The example names the guests relative to the repository root; the test's hub runs elsewhere.
    return text.replace("Tools/python/examples/handset/", f"{REPO}/Tools/python/examples/handset/")


def wait_running(hub, partitions=("rtos", "linux", "secure", "mgmt"), timeout_ms=20000) -> None:
    for name in partitions:
        if hub.call("partition.get", {"name": name})["state"] == "running":
            continue
        waited = hub.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": [name]},
                                          "since": 0, "timeoutMs": timeout_ms}, timeout=timeout_ms / 1000 + 5)
        while waited["event"]["data"]["to"] != "running":
            waited = hub.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": [name]},
                                              "since": waited["event"]["seq"], "timeoutMs": timeout_ms},
                              timeout=timeout_ms / 1000 + 5)


def wait_colour(hub, x, y, width, height, colour, timeout_ms=10000) -> None:
    hub.call("fb.wait", {"x": x, "y": y, "width": width, "height": height, "colour": colour,
                         "tolerance": 0, "timeoutMs": timeout_ms}, timeout=timeout_ms / 1000 + 5)


def vnc_key(hub, key: str) -> None:
    port = int(hub.call("fb.info")["rfbEndpoints"][0].rsplit(":", 1)[1])
    subprocess.run([VNCDO, "-s", f"127.0.0.1::{port}", "key", key], check=True, timeout=30, capture_output=True)


@pytest.mark.skipif(VNCDO is None, reason="vncdotool is not installed (Tools/hub test installs it)")
def test_incoming_call_answer_over_rfb_hang_up_and_home_returns(hubd):
    hub = hubd(config=living_config())
    wait_running(hub)
    # The RTOS draws its status bar; Linux its home screen.
    wait_colour(hub, 0, 0, 4, 4, STATUS_BAR)
    wait_colour(hub, 0, 150, 480, 20, HOME)
    # The RTOS has finished its modem init sequence (its last command is the signal query).
    hub.call("modem.wait", {"at": {"pattern": r"^AT\+CSQ", "since": 0}, "timeoutMs": 10000}, timeout=15)

    hub.call("modem.call.incoming", {"number": "+15551234567"})
    # The RTOS takes the whole screen for its call screen (a screenshot from the control API shows it).
    wait_colour(hub, 0, 150, 480, 20, CALL_SCREEN)
    shot = hub.call("fb.screenshot")
    assert shot["width"] == 480 and shot["height"] == 800 and shot["png"]
    assert hub.call("fb.pixel", {"x": 0, "y": 0})["rgb"] == CALL_SCREEN, "the status bar is covered too"
    # Linux was told by interrupt and message.
    assert eventually(lambda: "rtos: incoming call" in hub.call("partition.logs", {"name": "linux"})["text"])

    vnc_key(hub, "f3")  # the CALL key, typed in a real VNC client
    answered = hub.call("modem.wait", {"call": {"state": "active"}, "timeoutMs": 10000}, timeout=15)
    assert answered["call"]["number"] == "+15551234567"
    wait_colour(hub, 0, 150, 480, 20, IN_CALL)
    # Suspend for priority: mgmt suspends linux for the call (its policy's maySuspend), with the reason.
    assert eventually(lambda: hub.call("partition.get", {"name": "linux"})["state"] == "suspended")
    control = hub.call("events.wait", {"filter": {"kinds": ["power.partitionControl"]}, "since": 0,
                                       "timeoutMs": 5000}, timeout=10)["event"]
    assert control["partition"] == "mgmt" and control["data"]["target"] == "linux", control
    assert control["data"]["reason"] == "call in progress" and control["data"]["status"] == "done", control
    power = hub.call("power.status")
    assert power["platform"] == "on" and power["hubLocks"] == ["call:modem0"], power
    assert power["partitions"]["linux"]["state"] == "suspended"

    vnc_key(hub, "f4")  # END: the RTOS hangs up and gives the screen back
    assert eventually(lambda: hub.call("partition.get", {"name": "linux"})["state"] == "running")
    wait_colour(hub, 0, 150, 480, 20, HOME)
    assert eventually(lambda: hub.call("modem.calls")["calls"] == [])
    ended = hub.call("events.recent", {"filter": {"kinds": ["modem.call"]}, "limit": 1})["events"][0]
    assert ended["data"].get("ended") == "local", ended
    wait_colour(hub, 0, 0, 4, 4, STATUS_BAR)
    assert hub.call("fb.layers")["preemptedBy"] is None


@pytest.mark.serial  # asserts linux is restarted within a second
def test_killing_linux_mid_call_leaves_the_call_up_and_linux_gets_its_queued_messages(hubd):
    hub = hubd(config=living_config())
    wait_running(hub)
    # The RTOS has finished its modem init sequence (its last command is the signal query).
    hub.call("modem.wait", {"at": {"pattern": r"^AT\+CSQ", "since": 0}, "timeoutMs": 10000}, timeout=15)
    hub.call("modem.call.incoming", {"number": "+15557654321"})
    wait_colour(hub, 0, 150, 480, 20, CALL_SCREEN)
    hub.call("fb.key", {"key": "call"})
    hub.call("modem.wait", {"call": {"state": "active"}, "timeoutMs": 10000}, timeout=15)
    # mgmt suspends linux for the call (suspend for priority); a guest killed while its partition is suspended is
    # restarted stopped (Protocols/guest.md §9.2) and runs again when the call ends.
    assert eventually(lambda: hub.call("partition.get", {"name": "linux"})["state"] == "suspended")

    before = hub.call("hub.info")["lastSeq"]
    os.kill(hub.call("partition.get", {"name": "linux"})["supervisor"]["pid"], signal.SIGKILL)
    crashed = hub.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": ["linux"]},
                                       "since": before, "timeoutMs": 10000}, timeout=15)["event"]
    assert crashed["data"]["to"] == "crashed"
    for n in range(3):
        hub.call("msg.send", {"link": "rtos-linux", "as": "tester", "to": "linux", "text": f"queued-{n}"})
    restarted = crashed
    while restarted["data"]["to"] != "suspended":
        restarted = hub.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": ["linux"]},
                                             "since": restarted["seq"], "timeoutMs": 10000}, timeout=15)["event"]
    restart_ms = (restarted["time"]["monoNs"] - crashed["time"]["monoNs"]) / 1e6
    print(f"linux crashed -> restarted, stopped while suspended for the call, in {restart_ms:.0f} ms")
    assert restart_ms < 1000, f"restart took {restart_ms:.0f} ms"
    # The RTOS's call never noticed.
    calls = hub.call("modem.calls")["calls"]
    assert [c["state"] for c in calls] == ["active"]
    assert hub.call("partition.get", {"name": "rtos"})["counters"]["attaches"] == 1
    # The call ends: mgmt resumes linux, which attaches and gets what was queued for it meanwhile.
    hub.call("fb.key", {"key": "end"})
    assert eventually(lambda: hub.call("partition.get", {"name": "linux"})["state"] == "running")
    assert eventually(lambda: all(f"queued-{n}" in hub.call("partition.logs", {"name": "linux"})["text"]
                                  for n in range(3)))


def eventually(condition, timeout: float = 10.0) -> bool:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
