"""Virtual Ethernet with real peers: host tap interfaces in network namespaces, a Linux vxlan device,
tshark reading the hub's capture, and hostile input on the stream and VXLAN ports.

Needs root (network namespaces, taps); skipped otherwise. Every namespace and interface the test creates
is removed at teardown, and every command is bounded by a timeout.
"""

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="needs root, /dev/net/tun and iproute2")

TAG = f"{os.getpid() % 10000}"
NS_A, NS_B, NS_V = f"ethA{TAG}", f"ethB{TAG}", f"ethV{TAG}"
TAP_A, TAP_B = f"htapA{TAG}", f"htapB{TAG}"
VETH_HOST, VETH_NS = f"hvh{TAG}", f"hvn{TAG}"
# A 10.x pair unlikely to clash with the host's own networks, and one per test process: the veth's address lives
# in the root namespace, so parallel runs (pytest-xdist workers each set this module's fixture up) must not share it.
UNDERLAY_HOST, UNDERLAY_NS = f"10.231.{os.getpid() % 250}.1", f"10.231.{os.getpid() % 250}.2"

CONFIG = f"""
platform: {{name: ethernet-peers}}
hub:
  # Rewritten into the test's private directory by the fixture; never the shared default ports.
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
partitions:
  - name: linux
    class: fair-share
    priority: 8
    memoryBytes: 64MiB
    secret: linux-dev-secret
    devices: [{{device: lan0, access: shared}}]
devices:
  ethernet:
    - name: lan0
      mtu: 1500
      ports:
        - {{name: linux, partition: linux}}
        - {{name: a, tap: {TAP_A}}}
        - {{name: b, tap: {TAP_B}}}
        - {{name: vx, vxlan: {{local: "{UNDERLAY_HOST}:4789", vni: 42, remotes: ["{UNDERLAY_NS}:4789"]}}}}
        - {{name: qemu, stream: "tcp:127.0.0.1:0"}}
        - {{name: probe}}
"""


def sh(*args, check=True, timeout=10):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


def ns(name, *args, check=True, timeout=10):
    return sh("ip", "netns", "exec", name, *args, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def lan(tmp_path_factory):
    from handsethub.pytest_plugin import start_hub

    def cleanup():
        for name in (NS_A, NS_B, NS_V):
            sh("ip", "netns", "del", name, check=False)
        sh("ip", "link", "del", VETH_HOST, check=False)

    cleanup()
    hub = client = None
    try:
        # The underlay for VXLAN: a veth pair from the root namespace (where the hub is) into NS_V.
        sh("ip", "netns", "add", NS_V)
        sh("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS)
        sh("ip", "link", "set", VETH_NS, "netns", NS_V)
        sh("ip", "addr", "add", f"{UNDERLAY_HOST}/24", "dev", VETH_HOST)
        sh("ip", "link", "set", VETH_HOST, "up")
        ns(NS_V, "ip", "addr", "add", f"{UNDERLAY_NS}/24", "dev", VETH_NS)
        ns(NS_V, "ip", "link", "set", VETH_NS, "up")
        ns(NS_V, "ip", "link", "set", "lo", "up")
        ns(NS_V, "ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", UNDERLAY_HOST, "local",
           UNDERLAY_NS, "dstport", "4789", "dev", VETH_NS)
        ns(NS_V, "ip", "addr", "add", "192.168.77.3/24", "dev", "vx0")
        ns(NS_V, "ip", "link", "set", "vx0", "up")

        hub = start_hub(tmp_path_factory.mktemp("eth", numbered=True), CONFIG)
        client = hub.connect()
        # The hub created the taps in the root namespace; each moves into its own namespace.
        for tap, name, address in ((TAP_A, NS_A, "192.168.77.1"), (TAP_B, NS_B, "192.168.77.2")):
            sh("ip", "netns", "add", name)
            sh("ip", "link", "set", tap, "netns", name)
            ns(name, "ip", "addr", "add", f"{address}/24", "dev", tap)
            ns(name, "ip", "link", "set", tap, "up")
            ns(name, "ip", "link", "set", "lo", "up")
        yield client, hub
    finally:
        if client is not None:
            client.close()
        if hub is not None:
            hub.stop()
        cleanup()


def ping(namespace, address, count=3):
    return ns(namespace, "ping", "-c", str(count), "-i", "0.2", "-W", "2", address, check=False, timeout=20)


def ports(client):
    return {port["name"]: port for port in client.call("eth.ports", {"segment": "lan0"})["ports"]}


def test_two_namespaces_ping_through_the_hub_and_tshark_reads_the_capture(lan, tmp_path):
    client, _ = lan
    capture = tmp_path / "ping.pcap"
    client.call("eth.capture.start", {"segment": "lan0", "path": str(capture)})
    result = ping(NS_A, "192.168.77.2")
    stopped = client.call("eth.capture.stop", {"segment": "lan0"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert stopped["frames"] >= 6
    table = client.call("eth.macTable", {"segment": "lan0"})["entries"]
    assert {entry["port"] for entry in table} >= {"a", "b"}
    counters = ports(client)
    assert counters["a"]["counters"]["txFrames"] >= 3 and counters["b"]["counters"]["txFrames"] >= 3
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    shown = sh("tshark", "-r", str(capture), "-Y", "icmp", "-T", "fields", "-e", "icmp.type", timeout=60)
    types = shown.stdout.split()
    assert types.count("8") >= 3 and types.count("0") >= 3, shown.stdout + shown.stderr


def test_a_linux_vxlan_device_pings_a_tap_through_the_vxlan_port(lan):
    client, _ = lan
    result = ping(NS_V, "192.168.77.1")
    assert result.returncode == 0, result.stdout + result.stderr
    vx = ports(client)["vx"]
    assert vx["counters"]["rxFrames"] >= 3 and vx["counters"]["txFrames"] >= 3
    assert vx["vni"] == 42


def test_malformed_input_is_dropped_and_counted_while_others_keep_forwarding(lan):
    client, _ = lan
    address = ports(client)["qemu"]["listen"]
    host, port = address[len("tcp:"):].rsplit(":", 1)
    before = ports(client)
    frame = bytes.fromhex("ffffffffffff020000000099" "88b5") + b"\x00" * 46
    with socket.create_connection((host, int(port)), timeout=5) as peer:
        for _ in range(50):
            if ports(client)["qemu"]["connected"]:
                break
            time.sleep(0.02)
        peer.sendall(struct.pack(">I", 0))                            # zero-length: a runt
        peer.sendall(struct.pack(">I", 3000) + b"\x00" * 3000)        # over the 1500 MTU
        # The good frame after the bad ones still arrives at the probe port.
        waiter = lan[1].connect()
        try:
            import threading
            got = {}

            def wait():
                got["frame"] = waiter.call("eth.wait", {"segment": "lan0", "port": "probe", "timeoutMs": 5000,
                                                        "pattern": "ff ff ff ff ff ff 02 00 00 00 00 99 88 b5"})

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.3)
            peer.sendall(struct.pack(">I", len(frame)) + frame)
            thread.join(10)
            assert got.get("frame", {}).get("length") == len(frame)
        finally:
            waiter.close()
        peer.sendall(b"\xff\xff\xff\xff\x00\x00")                   # announces 4 GiB: the hub hangs up
        peer.settimeout(5)
        assert peer.recv(65536 * 4) is not None
    garbage = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        garbage.sendto(b"\x00" * 30, (UNDERLAY_HOST, 4789))          # I flag clear
        garbage.sendto(b"\x08\x00", (UNDERLAY_HOST, 4789))           # shorter than the VXLAN header
    finally:
        garbage.close()
    # From the configured remote (strangers off loopback are dropped first): a whole header with our VNI (42) and
    # an inner frame of 13 bytes, a runt as on every other port.
    ns(NS_V, "python3", "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto("
       f"bytes.fromhex('0800000000002a00') + bytes(13), ('{UNDERLAY_HOST}', 4789))")
    time.sleep(0.3)
    after = ports(client)
    drops = after["qemu"]["counters"]["drops"]
    assert drops["runt"] - before["qemu"]["counters"]["drops"]["runt"] == 1
    assert drops["oversize"] - before["qemu"]["counters"]["drops"]["oversize"] == 1
    assert drops["malformed"] - before["qemu"]["counters"]["drops"]["malformed"] == 1
    assert not after["qemu"]["connected"]
    vx_drops = after["vx"]["counters"]["drops"]["malformed"] - before["vx"]["counters"]["drops"]["malformed"]
    assert vx_drops == 2
    assert after["vx"]["counters"]["drops"]["runt"] - before["vx"]["counters"]["drops"]["runt"] == 1
    # Everyone else still forwards.
    result = ping(NS_B, "192.168.77.1", count=2)
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_tun_permission_names_the_entry(tmp_path):
    from handsethub.pytest_plugin import start_hub

    bad = CONFIG.replace(f"tap: {TAP_A}", "tap: bad/name")
    with pytest.raises(RuntimeError) as failure:
        start_hub(tmp_path, bad)
    assert "devices.ethernet[0].ports[1].tap" in str(failure.value)
