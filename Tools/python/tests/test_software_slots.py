"""Software slots with fallback (`Protocols/management.md` §"Images"): a launched partition is upgraded from its
configured command to image v2, which runs; v3, which crashes on start, is rolled back within its probation; a hub
SIGKILLed at ten and more named points of an upgrade comes back with the partition on a complete image.

The operations are driven through the test-only `software.test.apply` (on only with `hub.software.testHooks` and
HANDSETHUB_TEST_HOOKS=1; production software changes come through signed management commands). Every guest the
tests start is found by its command line (it runs from this test's directory) and killed at the end."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handsethub.control import HubError
from handsethub.pytest_plugin import find_hubd

from test_supervision import default_config, with_launch

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
GUEST = REPO / "Tools/python/examples/supervised_guest.py"
PROBATION_MS = 1500


def listing(root: Path) -> str:
    """The content listing of Protocols/management.md §"Images", written from the specification."""
    lines = []
    for path in sorted(root.rglob("*"), key=lambda p: str(p.relative_to(root)).encode()):
        relative = str(path.relative_to(root))
        if relative == "manifest.json":
            continue
        if path.is_dir():
            lines.append(f"D {relative}\n")
        else:
            data = path.read_bytes()
            mode = "x" if os.stat(path).st_mode & 0o100 else "-"
            lines.append(f"F {mode} {len(data)} {hashlib.sha256(data).hexdigest()} {relative}\n")
    return "".join(lines)


def digest(root: Path, name: str, version: int, launch: list[str]) -> str:
    header = f"N {name}\nV {version}\n" + "".join(f"A {arg.encode().hex()}\n" for arg in launch)
    return hashlib.sha256((header + listing(root)).encode()).hexdigest()


def make_image(directory: Path, version: int, crash: bool = False, mark_good: str | None = None) -> tuple[str, str]:
    """A bundle whose bin/run starts the sample supervised guest (v3-style crash on start when `crash`; with
    `mark_good`, the guest's `--mark-good` mode)."""
    bundle = directory / f"image-v{version}{'-crash' if crash else ''}{'-' + mark_good if mark_good else ''}"
    (bundle / "bin").mkdir(parents=True)
    shutil.copy(GUEST, bundle / "guest.py")
    extra = (" --exit-after 0" if crash else "") + (f" --mark-good {mark_good}" if mark_good else "")
    run = bundle / "bin/run"
    run.write_text(f'#!/bin/sh\nexec {sys.executable} "$(dirname "$0")/../guest.py" --heartbeat-ms 200{extra}\n')
    run.chmod(0o755)
    (bundle / "VERSION").write_text(f"{version}\n")
    content = digest(bundle, "linux-guest", version, ["bin/run"])
    manifest = {"name": "linux-guest", "version": version, "launch": ["bin/run"], "digest": content}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return str(bundle), content


def config(state: Path, guest_copy: Path) -> str:
    launch = (f"      command: [{sys.executable}, {guest_copy}, --heartbeat-ms, '200']\n"
              f"      environment: [PYTHONPATH={REPO / 'Tools/python'}]\n      attachTimeoutMs: 5000\n")
    text = with_launch(default_config(), "linux", launch)
    software = (f"hub:\n  stateDirectory: {state}\n  software:\n    probationMs: {PROBATION_MS}\n"
                "    maxStartAttempts: 2\n    testHooks: true\n")
    return text.replace("hub:\n", software, 1)


def guests_of(directory: Path) -> list[int]:
    """Processes whose command line names this test's directory: the guests its hubs started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in command and "guest.py" in command:
            found.append(int(entry.name))
    return found


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDSETHUB_TEST_HOOKS", "1")
    guest_copy = tmp_path / "guest.py"
    shutil.copy(GUEST, guest_copy)
    yield tmp_path, guest_copy
    for pid in guests_of(tmp_path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_event(hub, kind: str, since: int, timeout: float = 15.0) -> dict:
    event = hub.call("events.wait", {"filter": {"kinds": [kind], "partitions": ["linux"]}, "since": since,
                                     "timeoutMs": int(timeout * 1000)})
    return event["event"]


def wait_running(hub, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = hub.call("partition.get", {"name": "linux"})
        if status["supervisor"]["state"] == "running" and status.get("session"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"linux not running: {hub.call('partition.get', {'name': 'linux'})}")


def upgrade(hub, bundle: str, content: str, version: int) -> dict:
    return hub.call("software.test.apply", {"operation": "upgrade", "partition": "linux", "bundle": bundle,
                                            "digest": content, "version": version}, timeout=20)


def test_v2_runs_and_a_crashing_v3_is_rolled_back_within_its_probation(hubd, scratch):
    directory, guest_copy = scratch
    hub = hubd(config=config(directory / "state", guest_copy))
    wait_running(hub)
    assert hub.call("software.status")["partitions"]["linux"]["active"] == "configured"
    v2, v2_digest = make_image(directory, 2)
    last = hub.call("events.recent", {"limit": 1})["lastSeq"]
    assert upgrade(hub, v2, v2_digest, 2)["probation"] is True
    upgraded = wait_event(hub, "software.upgraded", last)
    assert upgraded["data"]["version"] == 2
    status = hub.call("software.status")["partitions"]["linux"]
    assert (status["active"], status["version"], status["probation"]) == ("a", 2, None)
    running = wait_running(hub)
    assert running["supervisor"]["command"][0].endswith("/software/linux/slot-a/bin/run")

    v3, v3_digest = make_image(directory, 3, crash=True)
    last = upgraded["seq"]
    upgrade(hub, v3, v3_digest, 3)
    rolled = wait_event(hub, "software.rolledBack", last, timeout=PROBATION_MS / 1000 * 4)
    assert rolled["data"]["from"] == "b" and rolled["data"]["to"] == "a" and rolled["data"]["automatic"] is True
    assert "status 3" in rolled["data"]["reason"]
    status = hub.call("software.status")["partitions"]["linux"]
    assert (status["active"], status["version"], status["highestVersion"]) == ("a", 2, 2)
    assert "status 3" in status["lastRollback"]
    assert wait_running(hub)["supervisor"]["command"][0].endswith("/slot-a/bin/run")
    # The rollback index: v1 is below the highest accepted version, refused unless the downgrade is authorised.
    v1, v1_digest = make_image(directory, 1)
    with pytest.raises(HubError) as refused:
        upgrade(hub, v1, v1_digest, 1)
    assert refused.value.reason == "software_versionRollback"
    # A bundle that does not match the command's digest changes nothing.
    with pytest.raises(HubError) as mismatch:
        upgrade(hub, v2, v3_digest, 2)
    assert mismatch.value.reason == "software_digestMismatch"
    assert hub.call("software.status")["partitions"]["linux"]["active"] == "a"

    address = hub.hub.address()
    shown = subprocess.run([os.environ.get("HANDSETHUB_HUBCTL", str(find_hubd().parent / "hubctl")), "software",
                            "status", "--hub", address], capture_output=True, text=True, timeout=20)
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("linux"))
    assert row.split()[1:3] == ["a", "2"]


def test_the_unsigned_test_method_is_absent_without_the_environment_switch(hubd, scratch, monkeypatch):
    directory, guest_copy = scratch
    monkeypatch.delenv("HANDSETHUB_TEST_HOOKS")
    hub = hubd(config=config(directory / "state", guest_copy))
    with pytest.raises(HubError) as missing:
        hub.call("software.test.apply", {"operation": "rollback", "partition": "linux"})
    assert missing.value.code == -32601
    assert hub.call("software.status")["enabled"] is True


def test_mark_good_ends_probation_and_a_guest_that_withholds_it_is_rolled_back(hubd, scratch):
    directory, guest_copy = scratch
    hub = hubd(config=config(directory / "state", guest_copy))
    wait_running(hub)
    v2, v2_digest = make_image(directory, 2, mark_good="send")
    last = hub.call("events.recent", {"limit": 1})["lastSeq"]
    upgrade(hub, v2, v2_digest, 2)
    upgraded = wait_event(hub, "software.upgraded", last)
    assert upgraded["data"]["how"] == "marked good by the guest"
    v3, v3_digest = make_image(directory, 3, mark_good="withhold")
    upgrade(hub, v3, v3_digest, 3)
    rolled = wait_event(hub, "software.rolledBack", upgraded["seq"], timeout=PROBATION_MS / 1000 * 4 + 5)
    assert "did not mark itself good" in rolled["data"]["reason"]
    status = hub.call("software.status")["partitions"]["linux"]
    assert (status["active"], status["version"]) == ("a", 2)


BEFORE_SWITCH = ["upgrade.journaled", "upgrade.cleared", "upgrade.copying", "upgrade.copied", "upgrade.verified",
                 "upgrade.switched.temporaryWritten"]
AFTER_SWITCH = ["upgrade.switched", "upgrade.restarted", "probation.attempt", "probation.attached",
                "probation.committing", "probation.committed.temporaryWritten", "probation.committed"]


@pytest.mark.parametrize("point", BEFORE_SWITCH + AFTER_SWITCH)
def test_a_hub_killed_during_an_upgrade_comes_back_on_a_complete_image(hubd, scratch, monkeypatch, point):
    directory, guest_copy = scratch
    state = directory / "state"
    text = config(state, guest_copy)
    first = hubd(config=text)
    wait_running(first)
    v2, v2_digest = make_image(directory, 2)
    last = first.call("events.recent", {"limit": 1})["lastSeq"]
    upgrade(first, v2, v2_digest, 2)
    wait_event(first, "software.upgraded", last)
    first.hub.stop()

    monkeypatch.setenv("HANDSETHUB_TEST_KILL_AT", point)
    killed = hubd(config=text)
    wait_running(killed)
    v3, v3_digest = make_image(directory, 3)
    try:
        upgrade(killed, v3, v3_digest, 3)
    except (HubError, OSError, ConnectionError, TimeoutError):
        pass  # the hub died while answering
    killed.hub.process.wait(timeout=PROBATION_MS / 1000 * 4 + 10)
    assert killed.hub.process.returncode == -signal.SIGKILL, f"{point} not reached"
    for pid in guests_of(directory):
        os.kill(pid, signal.SIGKILL)

    monkeypatch.delenv("HANDSETHUB_TEST_KILL_AT")
    restarted = hubd(config=text)
    running = wait_running(restarted)
    status = restarted.call("software.status")["partitions"]["linux"]
    expected = 2 if point in BEFORE_SWITCH else 3
    assert status["version"] == expected, (point, status)
    slot = state / "software/linux" / f"slot-{status['active']}"
    # Complete, never mixed: what is in the active slot is exactly the image its digest names.
    assert digest(slot, "linux-guest", expected, ["bin/run"]) == status["digest"] == (v2_digest if expected == 2 else v3_digest)
    assert running["supervisor"]["command"][0] == str(slot / "bin/run")
    if status["probation"] is not None:
        last = restarted.call("events.recent", {"limit": 1})["lastSeq"]
        wait_event(restarted, "software.upgraded", last)
    assert restarted.call("software.status")["partitions"]["linux"]["probation"] is None
