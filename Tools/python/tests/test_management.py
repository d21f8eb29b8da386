"""Signed management commands on a live hub (Protocols/management.md): commands signed here in Python with
`cryptography` are accepted or refused with their codes through `mgmt.submit` and through the `mgmt`
partition's relay channel; the counter survives a hub restart, so a replay after it is refused."""

from __future__ import annotations

import base64
import json
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
        # A verified command is audited twice: its write-ahead `verified` entry, then its outcome (§5).
        assert [e["result"] for e in audit][:4] == ["verified", "bad_parameters", "replayed", "bad_signature"]
        assert len(audit) == 14
    finally:
        hub.stop()
    # Restart over the same state directory: the counter and the rotated keys are still there.
    hub = start_hub(tmp_path / "b", config(tmp_path / "state"))
    try:
        client = hub.connect()
        assert submit(client, sign(upgrade(3), [KEYS[2]])) == "replayed"
        assert submit(client, sign(upgrade(4), [KEYS[0]])) == "bad_signature"
        assert submit(client, sign(upgrade(4), [KEYS[2]])) == "bad_parameters"
        assert len(client.call("mgmt.audit", {"limit": 1000})["entries"]) == 18
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
        audit = run("mgmt", "audit", "--hub", address, "--from", "3")  # 1 verified, 2 its outcome
        assert audit.stdout.count("\n") == 2 and "replayed" in audit.stdout and "bad_signature" in audit.stdout
    finally:
        hub.stop()


def hooked_config(state: Path) -> str:
    """The management tests' hub with the crash-safety test hooks on (Protocols/management.md §"Test hooks")."""
    document = yaml.safe_load(config(state))
    document["hub"].setdefault("software", {})["testHooks"] = True
    return yaml.safe_dump(document)


def assert_every_counter_explained(client) -> list:
    """Every spent counter has an outcome entry (accepted, a refusal, `interrupted`), and every `verified` entry a
    later outcome for the same authority and counter (Protocols/management.md §5). Returns the audit entries."""
    entries = client.call("mgmt.audit", {"limit": 1000})["entries"]
    for authority in client.call("mgmt.status")["authorities"]:
        spent = int(authority["counter"])
        if spent == 0:
            continue
        assert any(e["result"] != "verified" and e["authority"] == authority["name"] and int(e["counter"]) == spent
                   for e in entries), (authority, entries)
    for index, entry in enumerate(entries):
        if entry["result"] != "verified":
            continue
        outcomes = [e for e in entries[index + 1:] if (e["authority"], e["counter"]) ==
                    (entry["authority"], entry["counter"]) and e["result"] != "verified"]
        assert outcomes, f"verified entry {entry} has no outcome: {entries}"
    return entries


@pytest.mark.parametrize("point", ["mgmt.verified", "mgmt.trusted", "mgmt.executed"])
def test_a_hub_killed_inside_a_verified_command_leaves_every_counter_explained(tmp_path: Path, monkeypatch, point):
    """SIGKILL after the write-ahead `verified` entry, after trust.json, after the operation: at the next start
    the entry gets its outcome `interrupted`, saying whether the counter was spent."""
    monkeypatch.setenv("HANDSETHUB_TEST_HOOKS", "1")
    monkeypatch.setenv("HANDSETHUB_TEST_KILL_AT", point)
    hub = start_hub(tmp_path / "a", hooked_config(tmp_path / "state"))
    try:
        client = hub.connect()
        assert submit(client, b"garbage") == "bad_envelope"
        with pytest.raises((HubError, OSError)):
            client.call("mgmt.submit", {"envelope": base64.b64encode(sign(upgrade(1), [KEYS[0]])).decode()})
        assert hub.process.wait(timeout=10) == -9
    finally:
        hub.stop()
    monkeypatch.delenv("HANDSETHUB_TEST_KILL_AT")
    hub = start_hub(tmp_path / "b", hooked_config(tmp_path / "state"))
    try:
        client = hub.connect()
        entries = assert_every_counter_explained(client)
        assert [e["result"] for e in entries] == ["bad_envelope", "verified", "interrupted"]
        interrupted = entries[-1]
        assert (interrupted["source"], interrupted["authority"], interrupted["counter"]) == ("hub", "designer", "1")
        spent = point != "mgmt.verified"
        designer = next(a for a in client.call("mgmt.status")["authorities"] if a["name"] == "designer")
        assert designer["counter"] == ("1" if spent else "0")
        assert ("was spent" if spent else "was not spent") in interrupted["detail"]
        assert "interrupted" in hub.log() or "before writing" in hub.log()
        # Not spent: the command may be sent again; spent: it is a replay.
        assert submit(client, sign(upgrade(1), [KEYS[0]])) == ("replayed" if spent else "bad_parameters")
        assert_every_counter_explained(client)
    finally:
        hub.stop()


def test_a_hub_killed_at_random_leaves_every_counter_explained(tmp_path: Path):
    """SIGKILL from outside at a random moment while verified commands stream in, a few times over one state
    directory: after each restart every spent counter is explained by the audit log."""
    import random
    import threading

    rng = random.Random(20261206)
    counter = 0
    for round_ in range(6):
        hub = start_hub(tmp_path / f"r{round_}", config(tmp_path / "state"))
        try:
            client = hub.connect()
            assert_every_counter_explained(client)
            spent = int(next(a for a in client.call("mgmt.status")["authorities"]
                             if a["name"] == "designer")["counter"])
            counter = max(counter, spent) + 1
            submit(client, sign(upgrade(counter), [KEYS[0]]))  # at least one spent counter a round, however slow
            timer = threading.Timer(rng.uniform(0.02, 0.3), hub.process.kill)
            timer.start()
            try:
                while hub.process.poll() is None:
                    counter += 1
                    envelope = base64.b64encode(sign(upgrade(counter), [KEYS[0]])).decode()
                    try:
                        client.call("mgmt.submit", {"envelope": envelope})
                    except HubError as error:
                        if error.code != -32001:
                            break
            except OSError:
                pass
            timer.join()
            assert hub.process.wait(timeout=10) == -9
        finally:
            hub.stop()
    hub = start_hub(tmp_path / "last", config(tmp_path / "state"))
    try:
        client = hub.connect()
        assert_every_counter_explained(client)
        assert int(client.call("mgmt.status")["authorities"][0]["counter"]) > 0
    finally:
        hub.stop()


def test_a_full_log_of_one_hundred_thousand_is_appended_to_not_rewritten(tmp_path: Path):
    """At auditMaxEntries 100000 with the log full (a version-1 audit.json of 100000 entries, migrated at start),
    a verified command's save appends its two lines to the newest segment and touches no other file of the log:
    nothing is rewritten, replaced or created (inodes and sizes, not time). The version-1 hub rewrote 18 MB."""
    state = tmp_path / "state"
    (state / "management").mkdir(parents=True)
    entries = [{"seq": n, "timeMs": 1700000000000, "source": "guest:mgmt", "authority": "designer",
                "operation": "upgrade", "target": "linux", "counter": str(n), "result": "replayed",
                "detail": f"counter {n} is not above the last accepted"} for n in range(1, 100001)]
    (state / "management" / "audit.json").write_text(
        json.dumps({"version": 1, "nextSequence": 100001, "entries": entries}))
    document = yaml.safe_load(config(state))
    document["management"]["auditMaxEntries"] = 100000
    # Migrating 100000 entries (18 MB of JSON) at start takes the suite's debug build about 6 s on an idle machine
    # (0.5 s in release), so under the suite's parallel load the default 10 s ready deadline was missed once.
    hub = start_hub(tmp_path / "a", yaml.safe_dump(document), start_timeout=60)
    try:
        client = hub.connect()
        assert submit(client, b"garbage") == "bad_envelope"  # the log is full: this one starts a new segment

        def files() -> dict:
            return {p.name: (p.stat().st_ino, p.stat().st_size) for p in (state / "management").iterdir()
                    if p.name != "trust.json"}

        before = files()
        assert submit(client, sign(upgrade(1), [KEYS[0]])) == "bad_parameters"
        after = files()
        assert after.keys() == before.keys()
        changed = {name: value for name, value in after.items() if before[name] != value}
        assert len(changed) == 1, changed
        [(name, (inode, size))] = changed.items()
        assert inode == before[name][0]
        tail = (state / "management" / name).read_bytes().splitlines(keepends=True)[-2:]
        assert [json.loads(line)["result"] for line in tail] == ["verified", "bad_parameters"]
        assert size - before[name][1] == sum(len(line) for line in tail) < 1024
        assert client.call("mgmt.audit", {"limit": 1})["oldest"] == 4
    finally:
        hub.stop()


def test_a_torn_last_line_is_ignored_logged_and_cut_off(tmp_path: Path):
    """A hub killed in the middle of an append leaves a torn last line in the newest segment: the next start
    ignores it, says so in its log, cuts it off, and the next entry lands on a line of its own (§5)."""
    hub = start_hub(tmp_path / "a", config(tmp_path / "state"))
    try:
        assert submit(hub.connect(), b"garbage") == "bad_envelope"
    finally:
        hub.stop()
    segment = tmp_path / "state" / "management" / "audit.1.jsonl"
    whole = segment.read_bytes()
    segment.write_bytes(whole + b'{"seq":2,"timeMs":17')
    hub = start_hub(tmp_path / "b", config(tmp_path / "state"))
    try:
        client = hub.connect()
        assert "audit.1.jsonl line 3: no line feed: ignored the torn last line" in hub.log()
        assert segment.read_bytes() == whole
        assert submit(client, b"garbage") == "bad_envelope"
        assert [json.loads(line)["seq"] for line in segment.read_bytes().splitlines()[1:]] == [1, 2]
    finally:
        hub.stop()
