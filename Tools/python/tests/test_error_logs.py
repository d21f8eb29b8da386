"""Persistent error logs on a live hub (Protocols/errorlog.md): entries a guest reports with ERROR_REPORT
(feature `error-log`) and faults the hub records survive a hub restart; reset works; the bound holds and
counts what it dropped; a guest without the feature is refused precisely; the `mgmt` agent reads other
partitions' logs over the management channel (Protocols/management.md §2.6) while a partition without
`mayManage` cannot; a refused management command and a software rollback appear in the log."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("cryptography")

from handsethub.control import HubError  # noqa: E402
from handsethub.guest import ERROR_LOG, GuestClient, GuestError  # noqa: E402
from handsethub.management import Command, ManagementRelay, expires_in, key_from_seed, public_hex, sign  # noqa: E402
from handsethub.pytest_plugin import find_hubd, managed_config, start_hub  # noqa: E402

from test_software_slots import PROBATION_MS, make_image, scratch, upgrade, wait_event, wait_running  # noqa: E402,F401
from test_software_slots import config as slots_config  # noqa: E402

KEY = key_from_seed(bytes(range(32)))
MAX_ENTRIES = 16


def config(state: Path) -> str:
    doc = managed_config(state, [
        {"name": "designer", "keys": [public_hex(KEY)], "grants": [{"operations": ["upgrade"], "partitions": ["linux"]}]},
    ])
    doc["hub"].setdefault("limits", {})["errorLogMaxEntries"] = MAX_ENTRIES
    doc["hub"]["limits"]["errorLogReportsPerSecond"] = 1000  # the bursts below are not what is tested here
    return yaml.safe_dump(doc)


def guest_endpoint(hub) -> str:
    return next(a for a in hub.guest if a.startswith("unix:"))


def codes(page: dict) -> list[str]:
    return [entry["code"] for entry in page["entries"]]


def test_entries_survive_a_restart_reset_works_and_the_bound_holds(tmp_path: Path):
    state = tmp_path / "state"
    hub = start_hub(tmp_path / "a", config(state))
    try:
        client = hub.connect()
        assert client.limits()["errorLog"]["maxEntries"] == MAX_ENTRIES
        with GuestClient.connect(guest_endpoint(hub), "linux", "linux-dev-secret", features=[ERROR_LOG]) as linux:
            assert ERROR_LOG in linux.hub_features
            for index in range(MAX_ENTRIES + 4):
                linux.report_error("warning" if index % 2 else "error", f"e{index}", f"entry {index}")
        page = client.errors_read("linux", limit=1000)
        assert codes(page) == [f"e{i}" for i in range(4, MAX_ENTRIES + 4)]
        assert page["dropped"] == 4 and page["persistent"] is True
        assert page["entries"][0]["source"] == "guest" and page["entries"][0]["severity"] == "error"
        # Without the feature the frame is an unknown type, and nothing is recorded.
        with GuestClient.connect(guest_endpoint(hub), "rtos", "rtos-dev-secret") as rtos:
            with pytest.raises(GuestError) as refused:
                rtos.report_error("error", "x", "no feature")
            assert refused.value.code == 9
        assert client.errors_read("rtos")["entries"] == []
        assert client.errors_status()["counters"]["reportsWithoutFeature"] == 1
        with pytest.raises(HubError) as unknown:
            client.errors_read("nobody")
        assert unknown.value.reason == "no_such_partition"
        with pytest.raises(HubError) as beyond:
            client.errors_read("linux", since=10_000)
        assert beyond.value.reason == "invalid_params"
    finally:
        hub.stop()

    hub = start_hub(tmp_path / "b", config(state))
    try:
        client = hub.connect()
        page = client.errors_read("linux", limit=1000)
        assert codes(page) == [f"e{i}" for i in range(4, MAX_ENTRIES + 4)]
        assert page["dropped"] == 4 and page["nextSequence"] == MAX_ENTRIES + 5
        hubctl = os.environ.get("HANDSETHUB_HUBCTL", str(find_hubd().with_name("hubctl")))
        address = next(a for a in hub.control if a.startswith("unix:"))
        shown = subprocess.run([hubctl, "errors", "read", "linux", "--hub", address, "--limit", "2"],
                               capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0, shown.stderr
        assert "e4" in shown.stdout and "dropped 4" in shown.stdout
        reset = subprocess.run([hubctl, "errors", "reset", "linux", "--hub", address], capture_output=True,
                               text=True, timeout=30)
        assert reset.returncode == 0 and f"{MAX_ENTRIES} entries removed" in reset.stdout
        assert client.errors_read("linux")["entries"] == []
        with GuestClient.connect(guest_endpoint(hub), "linux", "linux-dev-secret", features=[ERROR_LOG]) as linux:
            linux.report_error("info", "after-reset", "")
    finally:
        hub.stop()

    hub = start_hub(tmp_path / "c", config(state))
    try:
        page = hub.connect().errors_read("linux")
        assert codes(page) == ["after-reset"] and page["dropped"] == 0
        assert page["entries"][0]["sequence"] == MAX_ENTRIES + 5
    finally:
        hub.stop()


def test_mgmt_reads_other_logs_over_the_channel_and_refused_commands_are_logged(tmp_path: Path):
    hub = start_hub(tmp_path / "a", config(tmp_path / "state"))
    try:
        client = hub.connect()
        # A command valid for a year is refused (management.maxCommandLifetimeMs, 30 days by default)...
        far = sign(Command("upgrade", "linux", "designer", 1, expires_in(365 * 86400)), [KEY])
        with pytest.raises(HubError) as refused:
            client.call("mgmt.submit", {"envelope": base64.b64encode(far).decode()})
        assert refused.value.reason == "expiry_too_far"
        # ... and lands in the target's error log, with its refusal code.
        entry = client.errors_read("linux")["entries"][-1]
        assert entry["code"] == "command_refused" and entry["source"] == "hub"
        assert entry["text"].startswith("expiry_too_far: upgrade linux by designer from control")
        with GuestClient.connect(guest_endpoint(hub), "rtos", "rtos-dev-secret", features=[ERROR_LOG]) as rtos:
            rtos.report_error("critical", "modem-lost", "the modem stopped answering")
        with GuestClient.connect(guest_endpoint(hub), "mgmt", "mgmt-dev-secret") as mgmt:
            relay = ManagementRelay(mgmt)
            # An interrupt that arrives while the agent waits for an answer is kept for its own loop.
            client.raise_irq("mgmt", 1, as_="tester")
            time.sleep(0.3)
            answer = relay.local("errors.read", partition="rtos")
            irq = mgmt.receive(timeout=2)
            assert irq is not None and irq.type == "IRQ" and irq.fields["line"] == 1
            assert answer["code"] == "accepted"
            assert codes(answer["output"]) == ["modem-lost"]
            assert relay.local("errors.read", partition="nobody")["code"] == "no_such_partition"
            assert relay.local("partition.stop", name="rtos")["code"] == "unknown_operation"
            assert relay.local("errors.reset", partition="rtos")["output"]["removed"] == 1
            # Envelopes still travel on the same channel.
            assert relay.submit(b"garbage")["code"] == "bad_envelope"
        assert client.errors_read("rtos")["entries"] == []
        # The relayed garbage named no target: it is logged for the partition that relayed it.
        assert codes(client.errors_read("mgmt"))[-1] == "command_refused"
        with GuestClient.connect(guest_endpoint(hub), "linux", "linux-dev-secret") as linux:
            with pytest.raises(GuestError) as denied:
                ManagementRelay(linux)
            assert denied.value.code == 5  # not_permitted: no mayManage
    finally:
        hub.stop()


def test_a_rollback_and_the_crash_behind_it_are_in_the_log(hubd, scratch):  # noqa: F811
    directory, guest_copy = scratch
    hub = hubd(config=slots_config(directory / "state", guest_copy))
    wait_running(hub)
    v2, v2_digest = make_image(directory, 2)
    last = hub.call("events.recent", {"limit": 1})["lastSeq"]
    upgrade(hub, v2, v2_digest, 2)
    upgraded = wait_event(hub, "software.upgraded", last)
    v3, v3_digest = make_image(directory, 3, crash=True)
    upgrade(hub, v3, v3_digest, 3)
    wait_event(hub, "software.rolledBack", upgraded["seq"], timeout=PROBATION_MS / 1000 * 4)
    entries = hub.call("errors.read", {"partition": "linux", "limit": 1000})["entries"]
    rolled = [e for e in entries if e["code"] == "rolled_back"]
    assert len(rolled) == 1 and rolled[0]["source"] == "hub"
    assert rolled[0]["text"].startswith("automatic rollback from slot b to slot a") and "status 3" in rolled[0]["text"]
    assert any(e["code"] == "crashed" and "status 3" in e["text"] for e in entries)


def test_living_handset_mgmt_agent_collects_a_crash_from_linux(hubd, tmp_path: Path):
    import signal


    from test_living_handset import living_config, wait_running

    text = living_config()
    agent = next(line for line in text.splitlines() if line.strip().startswith("command:") and "mgmt_guest" in line)
    text = text.replace(agent, "      environment: [MGMT_AGENT_COLLECT_MS=300]\n" + agent)
    hub = hubd(config=text)
    wait_running(hub)
    pid = hub.call("partition.get", {"name": "linux"})["supervisor"]["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = [line for line in hub.call("partition.logs", {"name": "mgmt"})["text"].splitlines() if "[errors linux" in line]
        if any(" crashed]" in line for line in lines):
            break
        time.sleep(0.2)
    assert any("error crashed]" in line and "killed by signal 9" in line for line in lines), lines
    # rtos reports a modem command that fails: a dial string the modem refuses (`>` phonebook dialling is not
    # supported: +CME ERROR).
    hub.call("msg.send", {"link": "rtos-linux", "to": "rtos", "as": "tester", "text": "dial:>1"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entries = hub.call("errors.read", {"partition": "rtos"})["entries"]
        if any(e["code"] == "modem-command-failed" for e in entries):
            break
        time.sleep(0.2)
    failed = [e for e in entries if e["code"] == "modem-command-failed"]
    assert failed and failed[-1]["source"] == "guest" and failed[-1]["text"].startswith("ATD>1; answered +CME ERROR")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "modem-command-failed] ATD>1;" not in hub.call(
            "partition.logs", {"name": "mgmt"})["text"]:
        time.sleep(0.2)
    assert "warning modem-command-failed] ATD>1;" in hub.call("partition.logs", {"name": "mgmt"})["text"]
    # Each entry is shipped once: the agent keeps a cursor per partition.
    time.sleep(1)
    again = [line for line in hub.call("partition.logs", {"name": "mgmt"})["text"].splitlines() if "[errors linux" in line]
    assert len(again) == len(set(again))
