"""Policy profiles end to end (Protocols/policy.md, guest.md §9.6-§9.7, control.md policy.*): switching
home -> enterprise -> home on a live hubd while traffic flows refuses exactly what the profile forbids
(not_permitted), keeps everything else flowing, tells every guest, loses no message that had been accepted, closes
the channel whose grant went, brings the port down and up, and suspends and resumes the partition it names.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from handsethub.control import HubError
from handsethub.guest import POLICY_PROFILES, GuestClient, GuestError
from handsethub.pytest_plugin import find_hubd

CONFIG = """
platform:
  name: policy-profiles
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
partitions:
  - {name: rtos, class: real-time, priority: 0, memoryBytes: 16MiB, secret: rtos-secret,
     mayInterrupt: [linux, secure], mayMessage: [linux, secure],
     devices: [{device: lan0, access: shared}, {device: modem0, access: dedicated}]}
  - {name: linux, class: fair-share, priority: 8, memoryBytes: 64MiB, secret: linux-secret,
     mayInterrupt: [rtos, secure], mayMessage: [rtos, secure], devices: [{device: lan0, access: shared}]}
  - {name: secure, class: real-time, priority: 1, memoryBytes: 16MiB, secret: secure-secret,
     mayInterrupt: [rtos, linux], mayMessage: [rtos, linux]}
  - {name: games, class: fair-share, priority: 10, memoryBytes: 16MiB, secret: games-secret, mayMessage: [linux]}
  - {name: mgmt, class: fair-share, priority: 12, memoryBytes: 16MiB, secret: mgmt-secret, mayActivatePolicy: true}
links:
  - {name: rtos-linux, a: rtos, b: linux, depth: 512}
  - {name: linux-secure, a: linux, b: secure, depth: 512}
  - {name: rtos-secure, a: rtos, b: secure}
  - {name: games-linux, a: games, b: linux}
devices:
  ethernet:
    - name: lan0
      ports:
        - {name: rtos, partition: rtos}
        - {name: linux, partition: linux}
  modems:
    - {name: modem0, owner: rtos, backend: builtin}
policy:
  initial: home
  profiles:
    - name: home
      description: the base policy
    - name: enterprise
      description: office rules
      partitions:
        - name: linux
          forbidMessage: [secure]
          forbidInterrupt: [secure]
          revoke: [lan0]
      suspend: [games]
      ethernetDown: [lan0/linux]
    - name: flight
      description: radios off
      partitions:
        - {name: rtos, revoke: [modem0]}
"""

SECRETS = {name: f"{name}-secret" for name in ("rtos", "linux", "secure", "games", "mgmt")}


def attach(hub, name: str) -> GuestClient:
    return GuestClient.connect(hub.hub.guest[0], name, SECRETS[name], features=[POLICY_PROFILES], timeout=5)


def link_id(guest: GuestClient, name: str) -> int:
    return next(link["id"] for link in guest.welcome["links"] if link["name"] == name)


def drain(guest: GuestClient, seconds: float = 0.2) -> list:
    """Every unsolicited frame that arrives within `seconds` (the guest's queue included)."""
    frames, deadline = [], time.monotonic() + seconds
    while True:
        frame = guest.receive(timeout=max(0.0, deadline - time.monotonic()))
        if frame is None:
            return frames
        frames.append(frame)


def until(guest: GuestClient, frame_type: str, timeout: float = 5.0) -> list:
    """Every unsolicited frame up to and including the first of `frame_type` (bounded: fails after `timeout`)."""
    frames, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = guest.receive(timeout=deadline - time.monotonic())
        if frame is not None:
            frames.append(frame)
            if frame.type == frame_type:
                return frames
    pytest.fail(f"no {frame_type} within {timeout} s (got {[f.type for f in frames]})")


def wait_for(guest: GuestClient, frame_type: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = guest.receive(timeout=deadline - time.monotonic())
        if frame is not None and frame.type == frame_type:
            return frame
    pytest.fail(f"no {frame_type} within {timeout} s")


class Flow:
    """rtos -> linux traffic that must keep flowing through every switch: linux receives and acknowledges."""

    def __init__(self, rtos: GuestClient, linux: GuestClient):
        self.rtos, self.linux = rtos, linux
        self.tx, self.rx = link_id(rtos, "rtos-linux"), link_id(linux, "rtos-linux")
        self.sent: list[int] = []
        self.received: list[bytes] = []

    def pump(self, count: int = 20) -> None:
        for _ in range(count):
            status, message_id = self.rtos.send(self.tx, f"flow-{len(self.sent)}".encode())
            assert status == "queued", status
            self.sent.append(message_id)

    def collect(self, frames: list) -> list:
        """Takes linux's deliveries on rtos-linux out of `frames` (acknowledging them); returns the others."""
        rest = []
        for frame in frames:
            if frame.type == "MSG_DELIVER" and frame.fields["link"] == self.rx:
                self.received.append(frame.fields["payload"])
                self.linux.ack(self.rx, frame.fields["message_id"])
            else:
                rest.append(frame)
        return rest

    def settle(self) -> list:
        """Linux's other frames while waiting (bounded) for every flow message."""
        rest, deadline = [], time.monotonic() + 5
        while len(self.received) < len(self.sent) and time.monotonic() < deadline:
            rest += self.collect(drain(self.linux, 0.1))
        assert self.received == [f"flow-{i}".encode() for i in range(len(self.sent))]
        return rest


def changed(frames: list) -> list:
    return [frame.fields for frame in frames if frame.type == "POLICY_CHANGED"]


def test_home_enterprise_home_while_traffic_flows(hubd):
    hub = hubd(config=CONFIG)
    guests = {name: attach(hub, name) for name in SECRETS}
    rtos, linux, secure, games, mgmt = (guests[n] for n in ("rtos", "linux", "secure", "games", "mgmt"))
    try:
        status = hub.policy_status()
        assert status["profile"] == "home" and status["profiles"] == ["home", "enterprise", "flight"]
        flow = Flow(rtos, linux)
        flow.pump()
        # linux's NIC on lan0 is open, and linux has queued messages for secure that secure has not read yet.
        opened = linux.request("CHANNEL_OPEN", {"device": "lan0", "options": b""}, channel=3)
        assert opened.type == "CHANNEL_OPENED"
        to_secure = link_id(linux, "linux-secure")
        accepted = []
        for i in range(30):
            status, message_id = linux.send(to_secure, f"before-{i}".encode())
            assert status == "queued"
            accepted.append(message_id)
        events = hub.hub.connect()
        events.subscribe(kinds=["policy.activated", "partition.suspended", "partition.resumed", "eth.link"])

        # home -> enterprise through the control API.
        activation = hub.activate_policy("enterprise")
        assert (activation["from"], activation["profile"]) == ("home", "enterprise")
        assert activation["changes"]["messagesForbidden"] == [{"from": "linux", "to": "secure"}]
        assert activation["changes"]["interruptsForbidden"] == [{"from": "linux", "to": "secure"}]
        assert activation["changes"]["grantsWithdrawn"] == [{"partition": "linux", "device": "lan0", "access": "shared"}]
        assert activation["effects"]["suspended"] == ["games"]
        assert activation["effects"]["portsDown"] == ["lan0/linux"]
        assert activation["effects"]["channelsClosed"] == ["linux/lan0"]
        flow.pump()

        # Exactly what the profile forbids is refused, with not_permitted.
        assert linux.send(to_secure, b"after") == ("not_permitted", 0)
        assert linux.raise_irq("secure", 2) == "not_permitted"
        with pytest.raises(GuestError) as refused:
            linux.request("CHANNEL_OPEN", {"device": "lan0", "options": b""}, channel=4)
        assert refused.value.code == 5
        # Everything else flows: linux -> rtos, secure -> linux, rtos -> secure, linux's interrupts on rtos.
        assert linux.send(link_id(linux, "rtos-linux"), b"linux-to-rtos")[0] == "queued"
        assert secure.send(link_id(secure, "linux-secure"), b"secure-to-linux")[0] == "queued"
        assert rtos.send(link_id(rtos, "rtos-secure"), b"rtos-to-secure")[0] == "queued"
        assert linux.raise_irq("rtos", 2) in ("delivered", "latched")

        # Every guest is told; linux its own summary; games is suspended after being told; linux's channel closed.
        linux_frames = flow.settle()
        assert [c["profile"] for c in changed(linux_frames)] == ["enterprise"]
        assert "may not message secure" in changed(linux_frames)[0]["summary"]
        close = next(f for f in linux_frames if f.type == "CHANNEL_CLOSE")
        assert (close.channel, close.fields["code"]) == (3, 5) and "lan0" in close.fields["reason"]
        games_frames = until(games, "SUSPEND")
        assert [f.type for f in games_frames if f.type in ("POLICY_CHANGED", "SUSPEND")] == ["POLICY_CHANGED", "SUSPEND"]
        secure_frames = until(secure, "POLICY_CHANGED")
        for frames in (until(rtos, "POLICY_CHANGED"), secure_frames, until(mgmt, "POLICY_CHANGED")):
            assert [c["profile"] for c in changed(frames)] == ["enterprise"]
        assert hub.partition("games")["state"] == "suspended"
        shown = hub.partition("linux")["policy"]
        assert (shown["mayMessage"], shown["mayInterrupt"], shown["devices"]) == (["rtos"], ["rtos"], [])
        port = next(p for p in hub.call("eth.ports", {"segment": "lan0"})["ports"] if p["name"] == "linux")
        assert port["adminUp"] is False

        # No accepted message is lost: secure gets every one linux queued before the switch, in order.
        secure_rx = link_id(secure, "linux-secure")
        got, deadline = [], time.monotonic() + 5
        while len(got) < len(accepted) and time.monotonic() < deadline:
            frames, secure_frames = secure_frames + drain(secure, 0.1), []
            for frame in frames:
                if frame.type == "MSG_DELIVER" and frame.fields["link"] == secure_rx:
                    got.append(frame.fields["payload"])
                    secure.ack(secure_rx, frame.fields["message_id"])
        assert got == [f"before-{i}".encode() for i in range(30)]

        # A partition without mayActivatePolicy is refused; an unknown profile too; nothing changes.
        with pytest.raises(GuestError) as denied:
            linux.activate_policy("home")
        assert denied.value.code == 5
        with pytest.raises(GuestError) as unknown:
            mgmt.activate_policy("roaming")
        assert unknown.value.code == 28
        with pytest.raises(HubError):
            hub.activate_policy("roaming")
        assert hub.policy_status()["profile"] == "enterprise"

        # enterprise -> home, by the mgmt partition over the guest protocol.
        flow.pump()
        mgmt.activate_policy("home")
        assert [c["profile"] for c in mgmt.policy_changes()] == ["home"]
        assert hub.partition("games")["state"] != "suspended"
        games_frames = until(games, "POLICY_CHANGED")
        assert [f.type for f in games_frames if f.type in ("POLICY_CHANGED", "RESUME")] == ["RESUME", "POLICY_CHANGED"]
        assert linux.send(to_secure, b"home-again")[0] == "queued"
        assert linux.raise_irq("secure", 2) in ("delivered", "latched")
        assert linux.request("CHANNEL_OPEN", {"device": "lan0", "options": b""}, channel=4).type == "CHANNEL_OPENED"
        port = next(p for p in hub.call("eth.ports", {"segment": "lan0"})["ports"] if p["name"] == "linux")
        assert port["adminUp"] is True
        flow.pump()
        assert [c["profile"] for c in changed(flow.settle())] == ["home"]

        status = hub.policy_status()
        assert status["profile"] == "home" and status["refused"] >= 2
        assert status["last"]["by"] == "guest:mgmt" and status["last"]["effects"]["resumed"] == ["games"]
        kinds = []
        deadline = time.monotonic() + 3
        while kinds.count("policy.activated") < 2 and time.monotonic() < deadline:
            event = events.next_event(timeout=0.5)
            if event is not None and hasattr(event, "kind"):
                kinds.append(event.kind)
        assert kinds.count("policy.activated") == 2
        assert "partition.suspended" in kinds and "partition.resumed" in kinds
        events.close()
    finally:
        for guest in guests.values():
            guest.close()


def test_a_partition_already_suspended_is_not_resumed_by_switching_back(hubd):
    hub = hubd(config=CONFIG)
    hub.suspend_partition("games")
    hub.activate_policy("enterprise")
    activation = hub.activate_policy("home")
    assert activation["effects"]["resumed"] == []
    assert hub.partition("games")["state"] in ("suspended", "waiting")
    assert hub.policy_status()["suspendedByPolicy"] == []


def test_a_bad_profile_is_refused_at_load(hubd, tmp_path):
    bad = CONFIG.replace("forbidMessage: [secure]", "forbidMessage: [secure]\n          allowMessage: [secure]")
    with pytest.raises(Exception) as failed:
        hubd(config=bad)
    assert "'secure' is in both allowMessage and forbidMessage" in str(failed.value)


def test_hubctl_policy_activate_and_status(hubd):
    hub = hubd(config=CONFIG)
    hubctl = os.environ.get("HANDSETHUB_HUBCTL", str(find_hubd().parent / "hubctl"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([hubctl, "policy", *args, "--hub", hub.hub.address()], capture_output=True, text=True,
                              timeout=20)

    switched = run("activate", "enterprise")
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.startswith("policy enterprise")
    assert hub.partition("games")["state"] == "suspended"
    shown = run("status")
    assert shown.returncode == 0 and "enterprise" in shown.stdout
    base = run("activate", "--base")
    assert base.returncode == 0, base.stderr
    assert hub.policy_status()["profile"] is None
    assert run("activate", "roaming").returncode != 0


def test_a_call_ends_and_the_modem_channel_closes_when_the_owner_loses_its_modem(hubd):
    hub = hubd(config=CONFIG)
    rtos = attach(hub, "rtos")
    try:
        assert rtos.request("CHANNEL_OPEN", {"device": "modem0", "options": b""}, channel=2).type == "CHANNEL_OPENED"
        call = hub.call("modem.call.incoming", {"modem": "modem0", "number": "+15551234567"})["call"]
        activation = hub.activate_policy("flight")
        assert activation["changes"]["grantsWithdrawn"] == [
            {"partition": "rtos", "device": "modem0", "access": "dedicated"}]
        assert activation["effects"]["channelsClosed"] == ["rtos/modem0"]
        assert activation["effects"]["callsEnded"] == [f"modem0#{call['id']}"]
        assert hub.call("modem.calls", {"modem": "modem0"})["calls"] == []
        close = wait_for(rtos, "CHANNEL_CLOSE")
        assert (close.channel, close.fields["code"]) == (2, 5)
        with pytest.raises(GuestError) as refused:
            rtos.request("CHANNEL_OPEN", {"device": "modem0", "options": b""}, channel=5)
        assert refused.value.code == 5
        hub.activate_policy("home")
        assert rtos.request("CHANNEL_OPEN", {"device": "modem0", "options": b""}, channel=5).type == "CHANNEL_OPENED"
    finally:
        rtos.close()


def test_a_signed_management_command_switches_the_profile(tmp_path):
    """The management operation activatePolicy (Protocols/management.md §3): its target is the profile (`base`: the
    base policy), granted like any other operation; verified, it switches as policy.activate does."""
    pytest.importorskip("cryptography")
    import base64

    from handsethub.management import Command, expires_in, key_from_seed, public_hex, sign
    from handsethub.pytest_plugin import start_hub

    key = key_from_seed(bytes(range(32)))
    text = CONFIG.replace("hub:\n", f"hub:\n  stateDirectory: {tmp_path / 'state'}\n", 1) + f"""
management:
  authorities:
    - name: office
      keys: [{public_hex(key)}]
      grants:
        - {{operations: [activatePolicy], partitions: [enterprise, base]}}
"""
    hub = start_hub(tmp_path / "hub", text)
    try:
        client = hub.connect()

        def submit(target: str, counter: int) -> object:
            envelope = sign(Command("activatePolicy", target, "office", counter, expires_in(60)), [key])
            try:
                return client.call("mgmt.submit", {"envelope": base64.b64encode(envelope).decode()})
            except HubError as error:
                return error.reason

        accepted = submit("enterprise", 1)
        assert isinstance(accepted, dict), accepted
        assert client.call("policy.status")["profile"] == "enterprise"
        assert client.call("policy.status")["last"]["by"] == "management:office"
        assert submit("home", 2) == "not_authorised"
        assert client.call("policy.status")["profile"] == "enterprise"
        assert isinstance(submit("base", 3), dict)
        assert client.call("policy.status")["profile"] is None
        assert client.call("partition.get", {"name": "games"})["state"] != "suspended"
    finally:
        hub.stop()


def test_guests_without_the_feature_are_unaffected(hubd):
    """guest.md §11: POLICY_ACTIVATE from a session that did not negotiate policy-profiles is an unknown type, even
    from a partition that may activate profiles, and such a session is never sent POLICY_CHANGED."""
    hub = hubd(config=CONFIG)
    old = GuestClient.connect(hub.hub.guest[0], "mgmt", SECRETS["mgmt"], timeout=5)
    try:
        with pytest.raises(GuestError) as unknown:
            old.request("POLICY_ACTIVATE", {"profile": "enterprise"})
        assert unknown.value.code == 9
        assert hub.policy_status()["profile"] == "home"
        hub.activate_policy("enterprise")
        old.heartbeat(1)  # a round trip: anything sent before its answer has arrived
        assert [f.type for f in drain(old) if f.type == "POLICY_CHANGED"] == []
    finally:
        old.close()


def test_the_initial_profile_is_in_force_from_the_start(hubd):
    hub = hubd(config=CONFIG.replace("initial: home", "initial: enterprise"))
    status = hub.policy_status()
    assert status["profile"] == "enterprise" and status["last"]["by"] == "configuration"
    assert hub.partition("games")["state"] == "suspended"
    linux = attach(hub, "linux")
    try:
        # Welcomed under the profile: no credit on the forbidden direction, refused sends.
        assert next(l for l in linux.welcome["links"] if l["name"] == "linux-secure")["initial_credit"] == 0
        assert linux.send(link_id(linux, "linux-secure"), b"x") == ("not_permitted", 0)
    finally:
        linux.close()


def test_a_guest_switching_in_a_loop_is_rate_limited(hubd):
    """guest.md §9.6: POLICY_ACTIVATE beyond hub.limits.policyActivationsPerSecond (a burst of as many) is refused
    rate_limited (23) with nothing switched, counted in policy.status; the budget refills with time and is the
    partition's own, so the control API still switches."""
    config = CONFIG.replace("  guestEndpoints:", "  limits: {policyActivationsPerSecond: 2}\n  guestEndpoints:", 1)
    hub = hubd(config=config)
    assert hub.call("hub.limits")["limits"]["policyActivationsPerSecond"]["value"] == 2
    mgmt = attach(hub, "mgmt")
    try:
        mgmt.activate_policy("enterprise")
        mgmt.activate_policy("home")
        generation = hub.policy_status()["generation"]
        with pytest.raises(GuestError) as limited:
            mgmt.activate_policy("enterprise")
        assert limited.value.code == 23
        status = hub.policy_status()
        assert status["profile"] == "home" and status["generation"] == generation
        assert status["rateLimited"] == 1 and status["refused"] >= 1
        hub.activate_policy("enterprise")  # the administrator's switch is not the guest's budget
        # Two tokens a second: one is back within half a second; poll, bounded, rather than assume a speed.
        deadline = time.monotonic() + 5
        while True:
            try:
                mgmt.activate_policy("home")
                break
            except GuestError as error:
                assert error.code == 23 and time.monotonic() < deadline, error
                time.sleep(0.1)
        assert hub.policy_status()["profile"] == "home"
    finally:
        mgmt.close()
