"""Upgrade with fallback by signed command on a live hub (Protocols/management.md §3, §4, §8): `linux` goes from
its configured command (v1) to image v2 by a command signed here in Python and relayed by the `mgmt` partition;
v2 runs. A v3 that crashes on start, submitted through `mgmt.submit`, is rolled back to v2 within its probation,
and the event, the error log and the audit log say why. The same v3 signed by an authority not allowed on
`linux`, unsigned, garbage, replayed, expired, and with a bundle that does not match its digest are refused with
their own codes, and the software stays as it was. Guests are cleaned up by `scratch` (test_software_slots)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("cryptography")

from handsethub.guest import GuestClient  # noqa: E402
from handsethub.management import Command, ManagementRelay, expires_in, public_hex, sign  # noqa: E402

from test_management import KEYS, submit  # noqa: E402
from test_software_slots import (  # noqa: E402,F401  (scratch is a fixture)
    PROBATION_MS, config as slots_config, make_image, scratch, wait_event, wait_running)


def config(state: Path, guest_copy: Path) -> str:
    """The slot tests' hub (launched `linux`, short probation) with the management tests' authorities:
    `designer` may upgrade `linux`, `operator` (two of two keys) only `rtos`; `mgmt` relays."""
    doc = yaml.safe_load(slots_config(state, guest_copy))
    for partition in doc["partitions"]:
        if partition["name"] == "mgmt":
            partition["mayManage"] = True
    doc["management"] = {"authorities": [
        {"name": "designer", "keys": [public_hex(KEYS[0])],
         "grants": [{"operations": ["upgrade", "rollback"], "partitions": ["linux"]}]},
        {"name": "operator", "keys": [public_hex(KEYS[1]), public_hex(KEYS[2])], "threshold": 2,
         "grants": [{"operations": ["upgrade"], "partitions": ["rtos"]}]},
    ]}
    return yaml.safe_dump(doc)


def signed_upgrade(counter: int, bundle: str, content: str, version: int, authority: str = "designer",
                   expires: int | None = None) -> Command:
    return Command("upgrade", "linux", authority, counter, expires if expires is not None else expires_in(60),
                   software_sha256=bytes.fromhex(content), parameters={"bundle": bundle, "version": str(version)})


def linux_status(hub) -> dict:
    return hub.call("software.status")["partitions"]["linux"]


def test_signed_upgrade_runs_v2_and_a_crashing_v3_falls_back_with_its_reason(hubd, scratch):
    directory, guest_copy = scratch
    hub = hubd(config=config(directory / "state", guest_copy))
    wait_running(hub)
    v2, v2_digest = make_image(directory, 2)
    last = hub.call("events.recent", {"limit": 1})["lastSeq"]
    guest_endpoint = next(a for a in hub.hub.guest if a.startswith("unix:"))
    with GuestClient.connect(guest_endpoint, "mgmt", "mgmt-dev-secret") as mgmt:
        answer = ManagementRelay(mgmt).submit(sign(signed_upgrade(1, v2, v2_digest, 2), [KEYS[0]]), timeout=20)
    assert answer["code"] == "accepted", answer
    assert json.loads(answer["output"]) == {"partition": "linux", "active": "a", "version": 2, "probation": True}
    upgraded = wait_event(hub, "software.upgraded", last)
    assert upgraded["data"]["version"] == 2
    assert wait_running(hub)["supervisor"]["command"][0].endswith("/software/linux/slot-a/bin/run")

    v3, v3_digest = make_image(directory, 3, crash=True)
    accepted_v3 = sign(signed_upgrade(2, v3, v3_digest, 3), [KEYS[0]])
    output = hub.call("mgmt.submit", {"envelope": base64.b64encode(accepted_v3).decode()},
                      timeout=20)
    assert output["result"] == "accepted" and output["output"]["active"] == "b"
    assert output["output"]["probation"] is True
    rolled = wait_event(hub, "software.rolledBack", upgraded["seq"], timeout=PROBATION_MS / 1000 * 4)
    assert (rolled["data"]["from"], rolled["data"]["to"], rolled["data"]["automatic"]) == ("b", "a", True)
    assert "status 3" in rolled["data"]["reason"]
    assert wait_running(hub)["supervisor"]["command"][0].endswith("/slot-a/bin/run")
    status = linux_status(hub)
    assert (status["active"], status["version"], status["highestVersion"]) == ("a", 2, 2)
    audit = hub.call("mgmt.audit", {"limit": 1000})["entries"]
    # Each verified command: its write-ahead `verified` entry, then its outcome (Protocols/management.md §5).
    assert [(e["source"], e["result"]) for e in audit] == [
        ("guest:mgmt", "verified"), ("guest:mgmt", "accepted"), ("control", "verified"), ("control", "accepted"),
        ("hub", "rolled_back")]
    assert audit[-1]["target"] == "linux" and "status 3" in audit[-1]["detail"]
    assert "software rolled back" in hub.hub.log_path.read_text(errors="replace")

    refuse_v3_every_way(hub, directory, accepted_v3, v3, v3_digest)


def refuse_v3_every_way(hub, directory: Path, accepted_v3: bytes, v3: str, v3_digest: str) -> None:
    """The same v3, each time refused with its own code; the slots and what runs stay as they were."""
    before = linux_status(hub)
    running = hub.call("partition.get", {"name": "linux"})["supervisor"]["command"]
    tampered, tampered_digest = make_image(directory / "tampered", 3, crash=True)
    Path(tampered, "VERSION").write_text("2\n")
    cases = [
        (sign(signed_upgrade(3, v3, v3_digest, 3, authority="operator"), [KEYS[1], KEYS[2]]), "not_authorised"),
        # Unsigned: an envelope carries at least one signature (§2.5); signed by a key not designer's: §4 step 3.
        (sign(signed_upgrade(3, v3, v3_digest, 3), []), "bad_envelope"),
        (sign(signed_upgrade(3, v3, v3_digest, 3), [KEYS[1]]), "bad_signature"),
        (b"HHM1 garbage", "bad_envelope"),
        (accepted_v3, "replayed"),
        (sign(signed_upgrade(3, v3, v3_digest, 3, expires=expires_in(-1)), [KEYS[0]]), "expired"),
        (sign(signed_upgrade(3, tampered, tampered_digest, 3), [KEYS[0]]), "digest_mismatch"),
    ]
    for envelope, code in cases:
        assert submit(hub, envelope) == code
        assert linux_status(hub) == before
    assert hub.call("partition.get", {"name": "linux"})["supervisor"]["command"] == running
    audit = hub.call("mgmt.audit", {"limit": 1000})["entries"]
    outcomes = [e["result"] for e in audit if e["result"] != "verified"]
    assert outcomes[-len(cases):] == [code for _, code in cases]
