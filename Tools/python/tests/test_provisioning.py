"""Runtime provisioning of third-party partitions (Protocols/management.md §9) on a live hub: a signed
`provision` creates a partition inside its authority's budget and returns its hub-issued secret once; the
partition attaches with it and is refused everything it was not granted; it survives a hub restart; a signed
`deprovision` detaches it (DETACH `deprovisioned`) and forgets it and its secret; commands beyond the budget are
refused with their codes and create nothing."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

pytest.importorskip("cryptography")

from handsethub.control import HubError  # noqa: E402
from handsethub.guest import FramebufferChannel, GuestClient, GuestError  # noqa: E402
from handsethub.management import Command, ManagementRelay, expires_in, key_from_seed, public_hex, sign  # noqa: E402
from handsethub.pytest_plugin import find_hubd, managed_config, start_hub  # noqa: E402

KEYS = [key_from_seed(bytes(range(i * 32, i * 32 + 32))) for i in range(2)]
MiB = 1 << 20


def config(state: Path) -> str:
    return yaml.safe_dump(managed_config(state, [
        {"name": "store", "keys": [public_hex(KEYS[0])],
         "budget": {"namePrefix": "store-", "maxPartitions": 2, "maxMemoryBytes": 48 * MiB,
                    "classes": ["fair-share"], "minPriority": 10, "maxPriority": 15, "peers": ["linux"],
                    "devices": ["fb0"]}},
        {"name": "designer", "keys": [public_hex(KEYS[1])],
         "grants": [{"operations": ["upgrade"], "partitions": ["linux"]}]},
    ]))


class Store:
    """Signs the store's commands with increasing counters and submits them through mgmt.submit."""

    def __init__(self, client, counter: int = 0):
        self.client = client
        self.counter = counter

    def submit(self, operation: str, target: str, key=KEYS[0], authority: str = "store", **parameters: str):
        self.counter += 1
        command = Command(operation, target, authority, self.counter, expires_in(60), parameters=parameters)
        envelope = sign(command, [key])
        try:
            answer = self.client.call("mgmt.submit", {"envelope": base64.b64encode(envelope).decode()})
            return "accepted", answer["output"]
        except HubError as error:
            assert error.code == -32001, error
            return error.reason, None


def names(client) -> dict:
    return {p["name"]: p for p in client.call("partition.list")["partitions"]}


def test_provisioned_partition_lives_within_its_budget_across_a_restart(tmp_path: Path):
    state = tmp_path / "state"
    hub = start_hub(tmp_path / "a", config(state))
    try:
        client = hub.connect()
        store = Store(client)
        endpoint = next(a for a in hub.guest if a.startswith("unix:"))
        # Beyond the budget: refused with their codes, and nothing is created.
        assert store.submit("provision", "store-big", memoryBytes=str(64 * MiB))[0] == "budget_exceeded"
        assert store.submit("provision", "store-x", memoryBytes=str(MiB), priority="1")[0] == "not_in_budget"
        assert store.submit("provision", "store-x", memoryBytes=str(MiB), mayInterrupt="secure")[0] == "not_in_budget"
        assert store.submit("provision", "store-x", memoryBytes=str(MiB), mayMessage="rtos")[0] == "not_in_budget"
        assert store.submit("provision", "store-x", memoryBytes=str(MiB), **{"class": "real-time"})[0] \
            == "not_in_budget"
        assert store.submit("provision", "store-x", memoryBytes="-4096")[0] == "bad_parameters"
        assert store.submit("provision", "store-x", memoryBytes="9" * 40)[0] == "bad_parameters"
        assert store.submit("provision", "rtos", memoryBytes=str(MiB))[0] == "not_authorised"
        assert store.submit("provision", "store-x", key=KEYS[1], authority="designer",
                            memoryBytes=str(MiB))[0] == "not_authorised"
        assert not any(n.startswith("store-") for n in names(client))

        code, answer = store.submit("provision", "store-app", memoryBytes=str(32 * MiB), priority="12",
                                    mayInterrupt="linux", mayMessage="linux", mayOpenLinks="true")
        assert code == "accepted", code
        secret = answer["secret"]
        assert len(secret) == 64 and int(secret, 16) >= 0
        assert answer["partition"] == "store-app" and answer["authority"] == "store"
        assert store.submit("provision", "store-app", memoryBytes=str(MiB))[0] == "name_taken"
        # 32 MiB of 48 used: another 32 MiB is over the memory budget.
        assert store.submit("provision", "store-two", memoryBytes=str(32 * MiB))[0] == "budget_exceeded"

        listed = names(client)["store-app"]
        assert listed["origin"]["provisionedBy"] == "store" and listed["class"] == "fair-share"
        got = client.call("partition.get", {"name": "store-app"})
        assert got["policy"]["mayInterrupt"] == ["linux"] and got["memoryBytes"] == 32 * MiB
        status = client.call("provisioning.status")
        assert status["budgets"][0]["partitions"] == 1 and status["counters"]["provisioned"] == 1
        assert "secret" not in str(status) and secret not in str(got)
        stored = state / "provisioning" / "partitions.json"
        assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600

        with pytest.raises(GuestError):
            GuestClient.connect(endpoint, "store-app", "not-the-secret")
        with GuestClient.connect(endpoint, "store-app", secret, features=["runtime-links"]) as app:
            assert app.raise_irq("secure", 0) == "not_permitted"
            assert app.raise_irq("linux", 0) in ("delivered", "latched")
            with pytest.raises(GuestError) as refused:
                app.open_link("to-rtos", "rtos")
            assert refused.value.code == 5  # not_permitted
            assert app.open_link("store-linux", "linux")["peer"] == "linux"
    finally:
        hub.stop()

    # The partition, its policy and its secret survive a restart.
    hub = start_hub(tmp_path / "b", config(state))
    try:
        client = hub.connect()
        store = Store(client, counter=100)
        endpoint = next(a for a in hub.guest if a.startswith("unix:"))
        assert names(client)["store-app"]["origin"]["provisionedBy"] == "store"
        with GuestClient.connect(endpoint, "linux", "linux-dev-secret", features=["runtime-links"]) as linux:
            app = GuestClient.connect(endpoint, "store-app", secret, features=["runtime-links"])
            try:
                assert app.raise_irq("secure", 0) == "not_permitted"
                link = app.open_link("store-linux", "linux")
                assert app.send(link["id"], b"hello")[0] == "queued"
                # A configured partition cannot be deprovisioned; nor can another authority's partition.
                assert store.submit("deprovision", "linux")[0] == "not_authorised"
                assert store.submit("deprovision", "store-none")[0] == "not_provisioned"
                code, answer = store.submit("deprovision", "store-app")
                assert code == "accepted" and answer["detached"] is True and answer["linksRemoved"] == 1
                detach = None
                while True:
                    frame = app.receive(timeout=5)
                    assert frame is not None, "no DETACH after deprovision"
                    if frame.type == "DETACH":
                        detach = frame
                        break
                assert detach.fields["reason"] == "deprovisioned"
                # The peer was told the link is gone.
                closed = None
                while closed is None:
                    frame = linux.receive(timeout=5)
                    assert frame is not None, "no LINK_CLOSED at the peer"
                    if frame.type == "LINK_CLOSED":
                        closed = frame
                assert closed.fields["state"] == 1  # closed
            finally:
                app.close()
        assert "store-app" not in names(client)
        with pytest.raises(GuestError):
            GuestClient.connect(endpoint, "store-app", secret)
        assert store.submit("deprovision", "store-app")[0] == "not_provisioned"
        assert client.call("provisioning.status")["counters"]["deprovisioned"] == 1
    finally:
        hub.stop()

    # Forgotten for good: not back after another restart, and the budget is free again.
    hub = start_hub(tmp_path / "c", config(state))
    try:
        client = hub.connect()
        assert "store-app" not in names(client)
        assert secret not in (state / "provisioning" / "partitions.json").read_text()
        store = Store(client, counter=200)
        assert store.submit("provision", "store-two", memoryBytes=str(48 * MiB))[0] == "accepted"
    finally:
        hub.stop()


def test_hubctl_and_the_python_helper_provision_and_events_say_so(tmp_path: Path):
    from handsethub.management import deprovision, provision

    hubctl = os.environ.get("HANDSETHUB_HUBCTL", str(find_hubd().with_name("hubctl")))
    seed = tmp_path / "store.key"
    seed.write_text(bytes(range(32)).hex() + "\n")
    hub = start_hub(tmp_path / "a", config(tmp_path / "state"))
    try:
        client = hub.connect()
        address = next(a for a in hub.control if a.startswith("unix:"))
        endpoint = next(a for a in hub.guest if a.startswith("unix:"))
        limits = client.call("hub.limits")["management"]["provisioningBudgets"]
        assert limits[0]["authority"] == "store" and limits[0]["maxPartitions"] == 2

        def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
            return subprocess.run([hubctl, *args], input=stdin, capture_output=True, text=True, timeout=30)

        signed = run("mgmt", "sign", "--key", str(seed), "--authority", "store", "--counter", "1",
                     "--param", f"memoryBytes={4 * MiB}", "--param", "mayMessage=linux", "provision", "store-cli")
        assert signed.returncode == 0, signed.stderr
        submitted = run("mgmt", "submit", "--hub", address, stdin=signed.stdout)
        assert submitted.returncode == 0, submitted.stderr
        output = json.loads(submitted.stdout.strip().split(" ", 1)[1])
        with GuestClient.connect(endpoint, "store-cli", output["secret"]) as cli:
            assert cli.raise_irq("linux", 0) == "not_permitted"  # only messaging was granted
        over = run("mgmt", "submit", "--hub", address, stdin=run(
            "mgmt", "sign", "--key", str(seed), "--authority", "store", "--counter", "2",
            "--param", f"memoryBytes={64 * MiB}", "provision", "store-big").stdout)
        assert over.returncode == 1 and "[budget_exceeded]" in over.stderr

        # Relayed by the mgmt partition (its agent): the same command, the answer with the secret comes back to it.
        with GuestClient.connect(endpoint, "mgmt", "mgmt-dev-secret") as mgmt:
            relayed = ManagementRelay(mgmt).submit(sign(
                provision("store-py", "store", 3, 8 * MiB, may_interrupt=["linux"], devices=["fb0"]), [KEYS[0]]))
        assert relayed["code"] == "accepted", relayed
        answer = {"output": json.loads(relayed["output"])}
        assert answer["output"]["mayInterrupt"] == ["linux"]
        # The shared device it was granted opens; the CLI-provisioned partition has no grant for it.
        with GuestClient.connect(endpoint, "store-py", answer["output"]["secret"]) as app:
            assert FramebufferChannel(app).width > 0
            # Deprovisioned with the device channel open: the guest is told, the device lets go, the hub lives on.
            gone = client.call("mgmt.submit", {"envelope": base64.b64encode(sign(
                deprovision("store-py", "store", 10), [KEYS[0]])).decode()})
            assert gone["output"]["detached"] is True
            frame = app.receive(timeout=5)
            while frame is not None and frame.type != "DETACH":
                frame = app.receive(timeout=5)
            assert frame is not None and frame.fields["reason"] == "deprovisioned"
        assert client.call("fb.info")["viewers"] is not None
        with GuestClient.connect(endpoint, "store-cli", output["secret"]) as cli:
            with pytest.raises(GuestError):
                FramebufferChannel(cli)
        client.call("mgmt.submit", {"envelope": base64.b64encode(sign(
            deprovision("store-cli", "store", 11), [KEYS[0]])).decode()})
        events = client.call("events.recent", {"filter": {"kinds": ["partition.*"]}})["events"]
        kinds = [(e["kind"], e["partition"]) for e in events if e["kind"].endswith("provisioned")]
        assert kinds == [("partition.provisioned", "store-cli"), ("partition.provisioned", "store-py"),
                         ("partition.deprovisioned", "store-py"), ("partition.deprovisioned", "store-cli")]
        assert all(output["secret"] not in json.dumps(e) for e in events)
        audit = json.dumps(client.call("mgmt.audit", {"limit": 100}))
        assert output["secret"] not in audit and "budget_exceeded" in audit
    finally:
        hub.stop()


@pytest.mark.parametrize("content", [b"garbage", b'{"version":1,"partitions":[{"name":"store-a"}]}', b"\xff" * 64])
def test_a_state_file_that_cannot_be_read_stops_the_hub(tmp_path: Path, content: bytes):
    """Forgetting provisioned partitions would issue a name and its budget share twice (management.md §9)."""
    state = tmp_path / "state"
    (state / "provisioning").mkdir(parents=True)
    (state / "provisioning" / "partitions.json").write_bytes(content)
    with pytest.raises(RuntimeError, match="provision"):
        start_hub(tmp_path / "a", config(state))
