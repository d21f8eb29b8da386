"""Signed management commands on a live hub (Protocols/management.md): commands signed here in Python with
`cryptography` are accepted or refused with their codes through `mgmt.submit` and through the `mgmt`
partition's relay channel; the counter survives a hub restart, so a replay after it is refused."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

pytest.importorskip("cryptography")

from handsethub.control import HubError  # noqa: E402
from handsethub.guest import GuestClient, GuestError  # noqa: E402
from handsethub.management import Command, ManagementRelay, expires_in, key_from_seed, public_hex, sign  # noqa: E402
from handsethub.pytest_plugin import find_hubd, managed_config, start_hub  # noqa: E402

KEYS = [key_from_seed(bytes(range(i * 32, i * 32 + 32))) for i in range(3)]


def config(state: Path) -> str:
    return yaml.safe_dump(managed_config(state, [
        {"name": "designer", "keys": [public_hex(KEYS[0])],
         "grants": [{"operations": ["upgrade"], "partitions": ["linux"]}]},
        {"name": "operator", "keys": [public_hex(KEYS[1]), public_hex(KEYS[2])], "threshold": 2,
         "grants": [{"operations": ["upgrade"], "partitions": ["rtos"]}]},
    ]))


def submit(client, envelope: bytes) -> str:
    try:
        client.call("mgmt.submit", {"envelope": base64.b64encode(envelope).decode()})
        return "accepted"
    except HubError as error:
        assert error.code == -32001, error
        return error.reason


def upgrade(counter: int, target: str = "linux", authority: str = "designer", expires: int | None = None) -> Command:
    return Command("upgrade", target, authority, counter, expires if expires is not None else expires_in(60))


def test_commands_signed_in_python_are_verified(tmp_path: Path):
    hub = start_hub(tmp_path / "a", config(tmp_path / "state"))
    try:
        client = hub.connect()
        # Verified, so its counter is spent; the slot engine's executor then refuses an upgrade naming no bundle
        # (Protocols/management.md §3).
        assert submit(client, sign(upgrade(1), [KEYS[0]])) == "bad_parameters"
        assert submit(client, sign(upgrade(1), [KEYS[0]])) == "replayed"
        assert submit(client, sign(upgrade(2), [KEYS[1]])) == "bad_signature"
        assert submit(client, sign(upgrade(2, expires=expires_in(-1)), [KEYS[0]])) == "expired"
        assert submit(client, sign(upgrade(2, target="rtos"), [KEYS[0]])) == "not_authorised"
        assert submit(client, sign(upgrade(2, authority="store"), [KEYS[0]])) == "unknown_authority"
        assert submit(client, sign(upgrade(1, "rtos", "operator"), [KEYS[1]])) == "threshold_not_met"
        assert submit(client, sign(upgrade(1, "rtos", "operator"), [KEYS[1], KEYS[2]])) == "bad_parameters"
        assert submit(client, b"HHM1\x00") == "bad_envelope"
        rotate = Command("rotateKeys", "designer", "designer", 3, expires_in(60),
                         parameters={"keys": public_hex(KEYS[2]), "threshold": "1"})
        assert submit(client, sign(rotate, [KEYS[0]])) == "accepted"
        assert submit(client, sign(upgrade(4), [KEYS[0]])) == "bad_signature"
        status = client.call("mgmt.status")
        designer = next(a for a in status["authorities"] if a["name"] == "designer")
        assert designer["counter"] == "3" and designer["keys"] == [public_hex(KEYS[2])]
        audit = client.call("mgmt.audit", {"from": 1, "limit": 100})["entries"]
        assert [e["result"] for e in audit][:3] == ["bad_parameters", "replayed", "bad_signature"]
        assert len(audit) == 11
    finally:
        hub.stop()
    # Restart over the same state directory: the counter and the rotated keys are still there.
    hub = start_hub(tmp_path / "b", config(tmp_path / "state"))
    try:
        client = hub.connect()
        assert submit(client, sign(upgrade(3), [KEYS[2]])) == "replayed"
        assert submit(client, sign(upgrade(4), [KEYS[0]])) == "bad_signature"
        assert submit(client, sign(upgrade(4), [KEYS[2]])) == "bad_parameters"
        assert len(client.call("mgmt.audit", {"limit": 1000})["entries"]) == 14
    finally:
        hub.stop()


def test_mgmt_partition_relays_but_never_authorises(tmp_path: Path):
    hub = start_hub(tmp_path / "a", config(tmp_path / "state"))
    try:
        client = hub.connect()
        guest_endpoint = next(a for a in hub.guest if a.startswith("unix:"))
        with GuestClient.connect(guest_endpoint, "mgmt", "mgmt-dev-secret") as mgmt:
            relay = ManagementRelay(mgmt)
            assert relay.submit(sign(upgrade(1), [KEYS[0]]))["code"] == "bad_parameters"
            # A replay through the control API of what the relay sent, and the other way round.
            assert submit(client, sign(upgrade(1), [KEYS[0]])) == "replayed"
            assert submit(client, sign(upgrade(2), [KEYS[0]])) == "bad_parameters"
            assert relay.submit(sign(upgrade(2), [KEYS[0]]))["code"] == "replayed"
            forged = sign(upgrade(3), [KEYS[1]])
            answer = relay.submit(forged)
            assert answer["code"] == "bad_signature" and answer["detail"]
            assert relay.submit(b"garbage")["code"] == "bad_envelope"
        with GuestClient.connect(guest_endpoint, "linux", "linux-dev-secret") as linux:
            with pytest.raises(GuestError):
                ManagementRelay(linux)
        sources = {e["source"] for e in client.call("mgmt.audit", {"limit": 1000})["entries"]}
        assert sources == {"control", "guest:mgmt"}
    finally:
        hub.stop()


def test_hubctl_mgmt_keygen_sign_submit_status_audit(tmp_path: Path):
    hubctl = os.environ.get("HANDSETHUB_HUBCTL", str(find_hubd().with_name("hubctl")))
    seed = tmp_path / "designer.key"
    seed.write_text(bytes(range(32)).hex() + "\n")
    hub = start_hub(tmp_path / "a", config(tmp_path / "state"))
    try:
        address = next(a for a in hub.control if a.startswith("unix:"))

        def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
            return subprocess.run([hubctl, *args], input=stdin, capture_output=True, text=True, timeout=30)

        new_key = tmp_path / "new.key"
        made = run("mgmt", "keygen", "--out", str(new_key))
        assert made.returncode == 0 and len(made.stdout.strip()) == 64
        assert run("mgmt", "keygen", "--out", str(new_key)).returncode != 0  # never overwrites a key
        signed = run("mgmt", "sign", "--key", str(seed), "--authority", "designer", "--counter", "1",
                     "--param", "version=2.0.0", "upgrade", "linux")
        assert signed.returncode == 0, signed.stderr
        first = run("mgmt", "submit", "--hub", address, stdin=signed.stdout)
        assert first.returncode == 1 and "[bad_parameters]" in first.stderr
        again = run("mgmt", "submit", "--hub", address, signed.stdout.strip())
        assert again.returncode == 1 and "[replayed]" in again.stderr
        wrong = run("mgmt", "sign", "--key", str(new_key), "--authority", "designer", "--counter", "2",
                    "upgrade", "linux")
        assert "[bad_signature]" in run("mgmt", "submit", "--hub", address, wrong.stdout.strip()).stderr
        status = run("mgmt", "status", "--hub", address)
        assert "designer: counter 1, 1 of 1 keys" in status.stdout
        audit = run("mgmt", "audit", "--hub", address, "--from", "2")
        assert audit.stdout.count("\n") == 2 and "replayed" in audit.stdout and "bad_signature" in audit.stdout
    finally:
        hub.stop()
