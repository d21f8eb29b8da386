"""A partition whose guest is a QEMU virtual machine that hubd launches (`Deploy/config-reference.md`, `launch.qemu`):
its NIC is a stream port of the virtual LAN, and it answers a ping from the other side of the LAN (a tap the hub
bridges, inside a network namespace this test creates, standing for the other partition's interface: a port is attached
to one thing, so the tap is an external attachment rather than rtos's guest channel)."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
TAG = f"{os.getpid() % 10000}"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("qemu-system-x86_64") is None,
    reason="needs root, /dev/net/tun and qemu-system-x86_64 (Tools/hub test installs it)")


def sh(*args, check=True, timeout=30):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def namespace():
    name = f"hhq{TAG}"
    sh("ip", "netns", "del", name, check=False)
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def test_a_qemu_guest_launched_by_the_hub_answers_a_ping_from_another_partition(hubd, tmp_path, namespace):
    built = sh(str(ROOT / "Tools/guest-image/build.sh"), timeout=600)
    image = Path(built.stdout.strip().splitlines()[-1])
    tap = f"hhqt{TAG}"
    config = f"""
platform: {{name: qemu-partition}}
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
partitions:
  - name: linux
    class: fair-share
    priority: 8
    memoryBytes: 256MiB
    secret: linux-dev-secret
    devices:
      - {{device: lan0, access: shared}}
    launch:
      qemu:
        kernel: {image / 'vmlinuz'}
        initrd: {image / 'initrd.img'}
        append: "console=ttyS0 quiet panic=-1 hh.ip=10.77.0.2/24"
        memoryMiB: 256
        nic: lan0/vm
        mac: "52:54:00:77:00:02"
  - name: rtos
    class: real-time
    priority: 0
    memoryBytes: 64MiB
    secret: rtos-dev-secret
    devices:
      - {{device: lan0, access: shared}}
devices:
  ethernet:
    - name: lan0
      mtu: 1500
      ports:
        - {{name: vm, stream: "unix:/tmp/handsethub/vm.sock"}}
        - {{name: host, tap: {tap}}}
"""
    hub = hubd(config=config)
    try:
        state = hub.call("partition.get", {"name": "linux"})
        assert state["supervisor"]["state"] == "running", state["supervisor"]
        sh("ip", "link", "set", tap, "netns", namespace)
        sh("ip", "netns", "exec", namespace, "ip", "addr", "add", "10.77.0.1/24", "dev", tap)
        sh("ip", "netns", "exec", namespace, "ip", "link", "set", tap, "up")
        # TCG boots in seconds when the machine is quiet, much longer when it is not.
        deadline = time.monotonic() + 120
        answered = None
        while time.monotonic() < deadline:
            answered = sh("ip", "netns", "exec", namespace, "ping", "-c", "1", "-W", "1", "10.77.0.2", check=False)
            if answered.returncode == 0:
                break
        assert answered is not None and answered.returncode == 0, hub.call("partition.logs", {"name": "linux"})["text"][-2000:]
        # The guest's serial console is the partition's log (it may reach the hub a little after the ping).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "HH-READY" not in hub.call("partition.logs", {"name": "linux"})["text"]:
            time.sleep(0.2)
        assert "HH-READY" in hub.call("partition.logs", {"name": "linux"})["text"]
        macs = {entry["mac"] for entry in hub.call("eth.macTable", {"segment": "lan0"})["entries"]}
        assert "52:54:00:77:00:02" in macs
    finally:
        hub.call("partition.stop", {"name": "linux"})


def test_two_qemu_partitions_launched_by_the_hub_ping_each_other(hubd):
    """Both partitions are QEMU guests the hub launches on the same virtual LAN; rtos pings linux."""
    built = sh(str(ROOT / "Tools/guest-image/build.sh"), timeout=600)
    image = Path(built.stdout.strip().splitlines()[-1])

    def partition(name, priority, klass, address, mac, run=""):
        extra = f" hh.run={run}" if run else ""
        return f"""
  - name: {name}
    class: {klass}
    priority: {priority}
    memoryBytes: 256MiB
    secret: {name}-dev-secret
    devices:
      - {{device: lan0, access: shared}}
    launch:
      qemu:
        kernel: {image / 'vmlinuz'}
        initrd: {image / 'initrd.img'}
        append: "console=ttyS0 quiet panic=-1 hh.ip={address}{extra}"
        nic: lan0/{name}-nic
        mac: "{mac}"
"""
    config = f"""
platform: {{name: two-qemu-partitions}}
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
partitions:
{partition("linux", 8, "fair-share", "10.78.0.2/24", "52:54:00:78:00:02")}
{partition("rtos", 0, "real-time", "10.78.0.1/24", "52:54:00:78:00:01", "ping,-c,40,-W,1,10.78.0.2")}
devices:
  ethernet:
    - name: lan0
      mtu: 1500
      ports:
        - {{name: linux-nic, stream: "unix:/tmp/handsethub/linux.sock"}}
        - {{name: rtos-nic, stream: "unix:/tmp/handsethub/rtos.sock"}}
"""
    hub = hubd(config=config)
    try:
        deadline = time.monotonic() + 180
        log = ""
        while time.monotonic() < deadline:
            log = hub.call("partition.logs", {"name": "rtos"})["text"]
            if "HH-RUN-EXIT" in log:
                break
            time.sleep(0.5)
        # Both boot at once: rtos keeps pinging (40 tries, 1 s each) until linux's guest answers; busybox ping
        # exits 0 when any echo came back, and each answer is on rtos's console.
        assert "HH-RUN-EXIT 0" in log, log[-3000:]
        assert "bytes from 10.78.0.2" in log, log[-3000:]
    finally:
        for name in ("rtos", "linux"):
            hub.call("partition.stop", {"name": name})
