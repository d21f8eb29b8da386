"""Virtualised power and suspend for priority on a live hub (Protocols/power.md).

- with linux and rtos idle the platform reaches `suspend`; an incoming call wakes rtos (WAKE, then the modem's
  interrupt) and the platform is `on` until the call ends;
- a wake lock held by rtos keeps the platform `on`; locks past hub.limits.powerMaxWakeLocks are refused;
- the battery follows the model within 1% (a fast time scale set through power.set);
- mgmt suspends and resumes the partitions its policy names (maySuspend), with reasons, and is refused the others;
  an interrupt to a management-suspended partition stays latched and, after the resume, is delivered after WAKE.

Every wait is bounded by the hub (power.wait, events.wait) or by the guest client's timeout; no wall-clock speed is
asserted beyond generous bounds.
"""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest
import yaml

from handsethub.control import HubError
from handsethub.guest import POWER, GuestClient, GuestError
from handsethub.pytest_plugin import default_config_text

SUSPEND_AFTER_MS = 200
MODEM_LINE = 5
SECRETS = {"rtos": "rtos-dev-secret", "linux": "linux-dev-secret", "secure": "secure-dev-secret",
           "mgmt": "mgmt-dev-secret"}


def power_config(**power: object) -> str:
    """The reference handset with a power model, the modem ringing rtos's line 5, mgmt allowed to suspend linux."""
    config = yaml.safe_load(default_config_text())
    for partition in config["partitions"]:
        if partition["name"] == "mgmt":
            partition["maySuspend"] = ["linux"]
    config["devices"]["modems"][0]["interruptLine"] = MODEM_LINE
    config["hub"]["limits"]["powerMaxWakeLocks"] = 2
    config["power"] = {"suspendAfterMs": SUSPEND_AFTER_MS,
                       "battery": {"capacityMwh": 1000, "levelPercent": 90},
                       "platformDrawMw": {"on": 200, "idle": 40, "suspend": 4},
                       "partitionDrawMw": {"default": {"active": 300, "idle": 30, "suspended": 3, "off": 0}}}
    config["power"].update(power)
    return yaml.safe_dump(config, sort_keys=False)


def guest(hub, partition: str, features=(POWER,)) -> GuestClient:
    endpoint = next(address for address in hub.hub.guest if address.startswith("unix:"))
    return GuestClient.connect(endpoint, partition, SECRETS[partition], features=list(features), timeout=10.0)


def frames_until(client: GuestClient, frame_type: str, timeout: float = 10.0) -> list:
    """Every unsolicited frame up to and including the first of `frame_type` (bounded by `timeout`)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = client.receive(timeout=max(0.01, deadline - time.monotonic()))
        if frame is None:
            break
        seen.append(frame)
        if frame.type == frame_type:
            return seen
    raise AssertionError(f"no {frame_type} within {timeout} s; got {[f.type for f in seen]}")


def wait_platform(hub, state: str, timeout_ms: int = 10_000) -> dict:
    return hub.call("power.wait", {"platform": state, "timeoutMs": timeout_ms}, timeout=timeout_ms / 1000 + 5)


def test_idle_partitions_suspend_the_platform_and_a_call_wakes_rtos_until_it_ends(hubd):
    hub = hubd(config=power_config())
    rtos, linux = guest(hub, "rtos"), guest(hub, "linux")
    try:
        assert hub.call("power.status")["platform"] == "on"
        rtos.declare_power("idle")
        assert hub.call("power.status")["platform"] == "on", "linux is still active"
        linux.declare_power("idle")
        status = wait_platform(hub, "suspend")
        assert status["partitions"]["rtos"]["state"] == "idle"
        assert status["partitions"]["linux"]["state"] == "idle"

        call = hub.call("modem.call.incoming", {"number": "+15551234567"})["call"]
        # rtos is woken first, then gets the modem's interrupt.
        seen = frames_until(rtos, "IRQ")
        types = [frame.type for frame in seen]
        assert "WAKE" in types, types
        wake = seen[types.index("WAKE")]
        irq = seen[types.index("IRQ")]
        assert types.index("WAKE") < types.index("IRQ")
        assert wake.fields["line"] == MODEM_LINE and wake.fields["source"] == "irq" and wake.fields["from"] == 1
        assert irq.fields["line"] == MODEM_LINE
        status = hub.call("power.status")
        assert status["platform"] == "on"
        assert status["partitions"]["rtos"]["state"] == "active"
        assert status["hubLocks"] == ["call:modem0"]
        assert status["counters"]["wakeups"]["irq"] >= 1 and status["counters"]["wakeups"]["call"] == 1

        # Back to idle during the call: the call's wake lock keeps the platform on past suspendAfterMs.
        rtos.eoi(MODEM_LINE)
        rtos.declare_power("idle")
        time.sleep(3 * SUSPEND_AFTER_MS / 1000)
        assert hub.call("power.status")["platform"] == "on"
        assert rtos.power_query()["platform"] == "on"

        hub.call("modem.call.hangup", {"id": call["id"]})
        status = wait_platform(hub, "suspend")
        assert status["hubLocks"] == []
        assert status["counters"]["timeInStateMs"]["suspend"] >= 0
        changes = hub.recent_events(kinds=["power.stateChanged"], limit=100)
        assert [event.data["to"] for event in changes][-1] == "suspend"
    finally:
        rtos.close()
        linux.close()


def test_a_wake_lock_keeps_the_platform_on_and_locks_are_bounded(hubd):
    hub = hubd(config=power_config())
    rtos, linux = guest(hub, "rtos"), guest(hub, "linux")
    try:
        rtos.wake_lock("gps")
        rtos.declare_power("idle")
        linux.declare_power("suspended")
        time.sleep(3 * SUSPEND_AFTER_MS / 1000)
        status = hub.call("power.status")
        assert status["platform"] == "on"
        assert status["partitions"]["rtos"]["locks"] == ["gps"]
        rtos.wake_lock("gps")  # taking it again changes nothing
        rtos.wake_lock("audio")
        with pytest.raises(GuestError) as refused:
            rtos.wake_lock("third")
        assert refused.value.code == 27  # limit_reached (hub.limits.powerMaxWakeLocks = 2)
        assert hub.call("power.status")["counters"]["lockRefusals"] == 1
        assert hub.call("hub.limits")["limits"]["powerMaxWakeLocks"]["value"] == 2
        rtos.wake_lock("gps", held=False)
        assert hub.call("power.status")["platform"] == "on", "audio is still held"
        rtos.wake_lock("audio", held=False)
        wait_platform(hub, "suspend")
        # A session without the feature cannot use the power frames.
        plain = guest(hub, "secure", features=())
        try:
            with pytest.raises(GuestError) as unknown:
                plain.declare_power("idle")
            assert unknown.value.code == 9  # unknown_frame_type
        finally:
            plain.close()
    finally:
        rtos.close()
        linux.close()


def test_the_battery_follows_the_model_within_one_percent(hubd):
    hub = hubd(config=power_config())
    rtos, linux = guest(hub, "rtos"), guest(hub, "linux")
    try:
        linux.declare_power("idle")
        # One model hour per real second: 1000 mWh drains visibly in a second at ~560 mW.
        first = hub.call("power.set", {"timeScale": 3600, "levelPercent": 90, "charging": False})
        started = time.monotonic()
        time.sleep(1.0)
        second = hub.call("power.status")
        elapsed = time.monotonic() - started
        model_seconds = second["modelSeconds"] - first["modelSeconds"]
        assert 0.5 * 3600 * 0.9 <= model_seconds <= 3600 * (elapsed + 2), (model_seconds, elapsed)
        capacity = first["battery"]["capacityMwh"]
        assert first["netMw"] == pytest.approx(-(200 + 300 + 30 + 0 + 0))  # on, rtos active, linux idle, 2 off
        expected = 90 + first["netMw"] * model_seconds / 3600 / capacity * 100
        expected = max(expected, 0.0)
        level = second["battery"]["levelPercent"]
        assert abs(level - expected) <= 1.0, (level, expected)
        assert level < 90
        # The guest sees the same level (hundredths of a percent), and charging raises it.
        assert abs(rtos.power_query()["battery_percent"] - hub.call("power.status")["battery"]["levelPercent"]) < 1
        hub.call("power.set", {"levelPercent": 10, "charging": True, "chargeMw": 2000})
        time.sleep(0.3)
        assert hub.call("power.status")["battery"]["levelPercent"] > 10
        with pytest.raises(HubError) as refused:
            hub.call("power.set", {"timeScale": 0})
        assert refused.value.code == -32602
    finally:
        rtos.close()
        linux.close()


def test_mgmt_suspends_for_priority_only_what_its_policy_names(hubd):
    hub = hubd(config=power_config())
    mgmt, linux, rtos = guest(hub, "mgmt"), guest(hub, "linux"), guest(hub, "rtos")
    try:
        linux.declare_power("idle")
        assert mgmt.partition_control("suspend", "linux", "call in progress") == "done"
        suspend = frames_until(linux, "SUSPEND")[-1]
        assert suspend.fields["reason"] == "mgmt: call in progress"
        assert hub.call("partition.get", {"name": "linux"})["state"] == "suspended"
        assert hub.call("power.status")["partitions"]["linux"]["state"] == "suspended"
        event = hub.wait_event(kinds=["power.partitionControl"], timeout_ms=5000, since=0)
        assert event.data == {"target": "linux", "action": "suspend", "reason": "call in progress", "status": "done"}
        assert mgmt.partition_control("suspend", "linux", "again") == "unchanged"

        # Refused: not in mgmt's maySuspend, itself, unknown, and a partition without maySuspend.
        assert mgmt.partition_control("suspend", "secure", "no") == "not_permitted"
        assert mgmt.partition_control("suspend", "mgmt", "no") == "self"
        assert mgmt.partition_control("suspend", "ghost", "no") == "no_such_partition"
        assert rtos.partition_control("resume", "linux", "no") == "not_permitted"
        assert hub.call("partition.get", {"name": "secure"})["state"] != "suspended"
        assert hub.call("partition.get", {"name": "linux"})["state"] == "suspended"
        counters = hub.call("power.status")["counters"]["partitionControl"]
        assert counters == {"done": 1, "unchanged": 1, "not_permitted": 2, "self": 1, "no_such_partition": 1}

        # An interrupt to the suspended partition latches (no WAKE); after the resume it comes after WAKE.
        assert rtos.raise_irq("linux", 3) in ("delivered", "latched")
        assert linux.receive(timeout=0.3) is None
        assert mgmt.partition_control("resume", "linux", "call ended") == "done"
        seen = frames_until(linux, "IRQ")
        types = [frame.type for frame in seen]
        assert types.index("RESUME") < types.index("WAKE") < types.index("IRQ"), types
        assert hub.call("partition.get", {"name": "linux"})["state"] == "running"
    finally:
        for client in (mgmt, linux, rtos):
            client.close()


def test_a_subscriber_gets_power_events_after_the_events_that_caused_them_in_sequence_order(hubd):
    """The power model follows the hub's events (attach, suspend...) and publishes its own in turn: a subscriber
    must still see every event in sequence order."""
    hub = hubd(config=power_config())
    watcher = hub.hub.connect()
    watcher.subscribe(kinds=["partition.attached", "partition.detached", "partition.suspended",
                             "partition.resumed", "power.stateChanged"])
    rtos = guest(hub, "rtos")
    try:
        hub.call("partition.suspend", {"name": "rtos", "reason": "test"})
        hub.call("partition.resume", {"name": "rtos"})
    finally:
        rtos.close()
    seen = []
    deadline = time.monotonic() + 10
    while len(seen) < 8 and time.monotonic() < deadline:
        event = watcher.next_event(timeout=max(0.01, deadline - time.monotonic()))
        if event is not None and hasattr(event, "kind"):
            seen.append((event.seq, event.kind))
    watcher.close()
    kinds = [kind for _, kind in seen]
    assert kinds[:2] == ["partition.attached", "power.stateChanged"], seen
    assert "partition.suspended" in kinds and "partition.detached" in kinds, seen
    assert [seq for seq, _ in seen] == sorted(seq for seq, _ in seen), seen


def test_a_guest_that_does_not_read_is_let_go_within_guest_close_drain_ms_once_its_session_ends(hubd):
    """linux never reads while mgmt's suspend and resume notifications pile up for it, then sends a malformed
    frame: the hub ends the session at once (partition.detached) and, as linux does not take its last frames,
    closes the connection after hub.limits.guestCloseDrainMs (Protocols/guest.md §9.3) instead of holding the
    queued bytes and the socket for as long as linux stays connected."""
    config = yaml.safe_load(power_config())
    config["hub"]["limits"]["guestCloseDrainMs"] = 500
    hub = hubd(config=yaml.safe_dump(config, sort_keys=False))
    pid = hub.hub.process.pid

    def sockets() -> int:
        names = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                names.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
        return sum(name.startswith("socket:") for name in names)

    linux = guest(hub, "linux")
    linux.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mgmt = guest(hub, "mgmt")
    try:
        # About 1 MB for linux, more than the kernel takes for it: the rest waits in the hub.
        for _ in range(1000):
            assert mgmt.partition_control("suspend", "linux", "r" * 900) in ("done", "unchanged")
            assert mgmt.partition_control("resume", "linux", "") in ("done", "unchanged")
        before = sockets()
        linux.sock.sendall(struct.pack(">I", 0xFFFFFFFF))  # a length over the limit: the stream is lost (§3.1)
        event = hub.wait_event(kinds=["partition.detached"], partitions=["linux"], since=0, timeout_ms=5000)
        assert event.data["reason"] == "protocol-error", event.data
        ended = time.monotonic()
        while sockets() >= before and time.monotonic() - ended < 5:
            time.sleep(0.02)
        assert sockets() == before - 1, "the hub still holds linux's connection"
        assert 0.3 < time.monotonic() - ended < 3
        assert mgmt.partition_control("suspend", "linux", "still served") in ("done", "unchanged")
    finally:
        linux.close()
        mgmt.close()


def test_suspend_and_resume_of_a_guest_that_does_not_read_are_refused_not_queued(hubd):
    """mgmt suspends and resumes linux over and over (900-byte reasons) while linux never reads: once more than
    writeHighWatermarkBytes of linux's frames wait unsent, both are refused `not_reading` (and partition.suspend
    `guest_not_reading`), nothing changes and nothing more is queued for it, instead of SUSPEND frames piling up
    without bound (Protocols/power.md §5.2, guest.md §9.2); once linux reads, they work again."""
    config = yaml.safe_load(power_config())
    config["hub"]["limits"].update({"writeHighWatermarkBytes": 65536, "writeLowWatermarkBytes": 16384})
    hub = hubd(config=yaml.safe_dump(config, sort_keys=False))
    linux = guest(hub, "linux")
    linux.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mgmt = guest(hub, "mgmt")
    try:
        statuses = []
        for _ in range(3000):
            statuses.append(mgmt.partition_control("suspend", "linux", "r" * 900))
            statuses.append(mgmt.partition_control("resume", "linux", ""))
            if statuses[-1] == "not_reading":
                break
        # Refused once about the watermark plus what the kernel holds (a few hundred KiB) was queued.
        assert statuses[-1] == "not_reading", statuses[-4:]
        assert len(statuses) < 2000, len(statuses)
        state = hub.call("partition.get", {"name": "linux"})["state"]
        for _ in range(200):  # however many more: refused, the state stays
            assert mgmt.partition_control("suspend", "linux", "r" * 900) == "not_reading"
        assert hub.call("partition.get", {"name": "linux"})["state"] == state
        with pytest.raises(HubError) as refused:
            hub.call("partition.suspend", {"name": "linux", "reason": "operator"})
        assert refused.value.reason == "guest_not_reading"
        assert hub.call("power.status")["counters"]["partitionControl"]["not_reading"] >= 201
        # linux reads what waits for it; then suspend and resume are served again.
        linux.sock.settimeout(0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if not linux.sock.recv(1 << 20):
                    break
            except TimeoutError:
                if mgmt.partition_control("resume", "linux", "") in ("done", "unchanged"):
                    break
        assert mgmt.partition_control("suspend", "linux", "read again") == "done"
    finally:
        linux.close()
        mgmt.close()
