"""A partition whose guest is a QEMU virtual machine that hubd launches (issue 8, `launch.qemu`): its NIC is a
stream port of the virtual LAN, and it answers a ping from the other side of the LAN (a tap the hub bridges,
inside a network namespace this test creates, standing for the other partition's interface: a port is
attached to one thing, so the tap is an external attachment rather than rtos's guest channel)."""

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
        assert "HH-READY" in hub.call("partition.logs", {"name": "linux"})["text"]
        macs = {entry["mac"] for entry in hub.call("eth.macTable", {"segment": "lan0"})["entries"]}
        assert "52:54:00:77:00:02" in macs
    finally:
        hub.call("partition.stop", {"name": "linux"})
