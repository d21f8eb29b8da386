"""Virtual Ethernet end to end with real peers: QEMU guests (the tiny image from Tools/guest-image/build.sh) on
stream and dgram ports, host taps in network namespaces, iperf3 between two namespaces, two hubs joined by
VXLAN, and vde_plug cables from a vde_switch.

Needs root (namespaces, taps); QEMU tests also need qemu-system-x86_64 and the guest image (built and cached on
first use; skipped when it cannot be built, e.g. without apt). Every test bounds its time and removes every
process, namespace and interface it created.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="needs root, /dev/net/tun and iproute2")

ROOT = Path(__file__).resolve().parents[3]
TAG = f"{os.getpid() % 10000}"
BOOT_TIMEOUT = 90  # TCG boot takes a few seconds alone, much longer on a loaded 2-core machine


def sh(*args, check=True, timeout=10):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


def ns(name, *args, check=True, timeout=10):
    return sh("ip", "netns", "exec", name, *args, check=check, timeout=timeout)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hub_config(name, ports):
    lines = "\n".join(f"        - {port}" for port in ports)
    return f"""
platform: {{name: {name}}}
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
partitions:
  - name: linux
    class: fair-share
    priority: 8
    memoryBytes: 64MiB
    secret: linux-dev-secret
devices:
  ethernet:
    - name: lan0
      mtu: 1500
      ports:
{lines}
"""


def ports(client):
    return {port["name"]: port for port in client.call("eth.ports", {"segment": "lan0"})["ports"]}


class Namespaces:
    """Network namespaces (and the taps moved into them) that a test creates; removed on cleanup."""

    def __init__(self):
        self.names = []

    def add_with_tap(self, name, tap, address):
        sh("ip", "netns", "del", name, check=False)
        sh("ip", "netns", "add", name)
        self.names.append(name)
        sh("ip", "link", "set", tap, "netns", name)
        ns(name, "ip", "addr", "add", address, "dev", tap)
        ns(name, "ip", "link", "set", tap, "up")
        ns(name, "ip", "link", "set", "lo", "up")

    def cleanup(self):
        for name in self.names:
            sh("ip", "netns", "del", name, check=False)
        self.names.clear()


@pytest.fixture
def namespaces():
    made = Namespaces()
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture
def hubs(tmp_path):
    from handsethub.pytest_plugin import start_hub
    started = []

    def start(config):
        hub = start_hub(tmp_path / f"hub{len(started)}", config)
        started.append(hub)
        return hub, hub.connect()

    try:
        yield start
    finally:
        for hub in started:
            hub.stop()


@pytest.fixture(scope="module")
def guest_image():
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 not installed (Tools/hub deps installs it)")
    try:
        built = sh(str(ROOT / "Tools/guest-image/build.sh"), timeout=600)
    except subprocess.CalledProcessError as failure:
        pytest.skip(f"guest image could not be built: {failure.stderr[-500:]}")
    directory = Path(built.stdout.strip().splitlines()[-1])
    return directory / "vmlinuz", directory / "initrd.img"


class Guest:
    """One QEMU guest whose serial console is written to a log file."""

    def __init__(self, image, log_path, netdev, mac, address, run=None, halt=False):
        kernel, initrd = image
        append = f"console=ttyS0 quiet panic=-1 hh.ip={address}"
        if run:
            append += " hh.run=" + ",".join(run)
        if halt:
            append += " hh.halt=1"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
             "-kernel", str(kernel), "-initrd", str(initrd), "-append", append, "-netdev", f"{netdev},id=n0",
             "-device", f"virtio-net-pci,netdev=n0,mac={mac}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def console(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.console())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"guest console never showed {pattern!r}:\n{self.console()[-3000:]}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


@pytest.fixture
def guests(tmp_path):
    started = []

    def boot(image, netdev, mac, address, run=None, halt=False):
        guest = Guest(image, tmp_path / f"guest{len(started)}.log", netdev, mac, address, run, halt)
        started.append(guest)
        return guest

    try:
        yield boot
    finally:
        for guest in started:
            guest.stop()


def stream_netdev(listen):
    if listen.startswith("unix:"):
        return f"stream,server=off,addr.type=unix,addr.path={listen[len('unix:'):]}"
    host, port = listen[len("tcp:"):].rsplit(":", 1)
    return f"stream,server=off,addr.type=inet,addr.host={host},addr.port={port}"


def test_two_qemu_guests_on_stream_ports_ping_each_other(hubs, guests, guest_image):
    _, client = hubs(hub_config("qemu-pair", [
        '{name: a, stream: "unix:/tmp/handsethub/a.sock"}', '{name: b, stream: "tcp:127.0.0.1:0"}']))
    listen = ports(client)
    assert listen["a"]["listen"].startswith("unix:") and listen["b"]["listen"].startswith("tcp:")
    guests(guest_image, stream_netdev(listen["a"]["listen"]), "02:00:00:00:0a:01", "10.200.0.1/24")
    pinger = guests(guest_image, stream_netdev(listen["b"]["listen"]), "02:00:00:00:0a:02", "10.200.0.2/24",
                    run=["ping", "-c", "3", "-W", "5", "10.200.0.1"])
    exit_status = pinger.wait_for(r"HH-RUN-EXIT (\d+)")
    console = pinger.console()
    assert exit_status.group(1) == "0", console[-2000:]
    assert re.search(r"3 packets transmitted, [123] packets received", console), console[-2000:]
    counters = ports(client)
    assert counters["a"]["connected"] and counters["b"]["connected"]
    assert counters["a"]["counters"]["txFrames"] >= 3 and counters["b"]["counters"]["txFrames"] >= 3
    table = {entry["mac"]: entry["port"] for entry in client.call("eth.macTable", {"segment": "lan0"})["entries"]}
    assert table.get("02:00:00:00:0a:01") == "a" and table.get("02:00:00:00:0a:02") == "b", table


def test_a_guests_tcp_transfer_through_stream_ports_is_read_in_held_batches_and_complete(hubs, guests, guest_image):
    """Receive coalescing (Protocols/ethernet.md 4.8) with QEMU as the peer. A guest sends its busybox binary (about
    2 MB) over TCP to another: the sender's full-size segments mostly make long reads (read each pass, `busyPeriods`,
    not held); the receiver's acknowledgements are small frames that QEMU writes one per write, several back to back when
    the guest queued them together, and such reads hold the next one (`readHolds`; two frames to a hold here, so a
    pair suffices). The transfer completes and every byte the sender's port took was forwarded."""
    config = hub_config("qemu-bulk", [
        '{name: a, stream: "unix:/tmp/handsethub/a.sock"}', '{name: b, stream: "unix:/tmp/handsethub/b.sock"}'])
    config = config.replace("hub:\n", "hub:\n  limits: {ethernetStreamCoalesceFrames: 2}\n", 1)
    _, client = hubs(config)
    listen = ports(client)
    # busybox nc: -e runs the rest of the line with the connection as its standard input and output.
    sender = guests(guest_image, stream_netdev(listen["a"]["listen"]), "02:00:00:00:0b:01", "10.201.0.1/24",
                    run=["nc", "-l", "-p", "5000", "-e", "cat", "/bin/busybox"])
    sender.wait_for(r"HH-RUN-BEGIN")
    receiver = guests(guest_image, stream_netdev(listen["b"]["listen"]), "02:00:00:00:0b:02", "10.201.0.2/24",
                      run=["nc", "-w", "60", "10.201.0.1", "5000", "-e", "md5sum"])
    exit_status = receiver.wait_for(r"HH-RUN-EXIT (\d+)", timeout=BOOT_TIMEOUT + 120)
    assert exit_status.group(1) == "0", receiver.console()[-2000:]
    counters = ports(client)
    sent, delivered = counters["a"]["counters"]["rxBytes"], counters["b"]["counters"]["txBytes"]
    assert sent > 1_000_000, counters["a"]
    # Everything A's guest sent was forwarded to B (B also got the few broadcasts of other ports).
    assert delivered >= sent, (counters["a"], counters["b"])
    assert counters["a"]["busyPeriods"] >= 1, counters["a"]
    assert counters["b"]["readHolds"] >= 1, counters["b"]
    assert counters["a"]["counters"]["drops"]["malformed"] == 0 and counters["b"]["counters"]["drops"]["malformed"] == 0


def test_qemu_guests_on_stream_and_dgram_ports_ping_a_tap_in_a_namespace(hubs, guests, guest_image, namespaces):
    tap = f"hqt{TAG}"
    qemu_udp = free_udp_port()
    _, client = hubs(hub_config("qemu-tap", [
        '{name: s, stream: "unix:/tmp/handsethub/s.sock"}',
        f'{{name: d, dgram: {{local: "127.0.0.1:0", remote: "127.0.0.1:{qemu_udp}"}}}}',
        f"{{name: t, tap: {tap}}}"]))
    namespaces.add_with_tap(f"hqn{TAG}", tap, "10.201.0.1/24")
    listen = ports(client)
    hub_udp = listen["d"]["local"].rsplit(":", 1)[1]
    on_stream = guests(guest_image, stream_netdev(listen["s"]["listen"]), "02:00:00:00:0b:01", "10.201.0.2/24",
                       run=["ping", "-c", "3", "-W", "5", "10.201.0.1"])
    on_dgram = guests(guest_image,
                      f"dgram,local.type=inet,local.host=127.0.0.1,local.port={qemu_udp},"
                      f"remote.type=inet,remote.host=127.0.0.1,remote.port={hub_udp}",
                      "02:00:00:00:0b:02", "10.201.0.3/24", run=["ping", "-c", "3", "-W", "5", "10.201.0.1"])
    for guest in (on_stream, on_dgram):
        assert guest.wait_for(r"HH-RUN-EXIT (\d+)").group(1) == "0", guest.console()[-2000:]
    counters = ports(client)
    for name in ("s", "d", "t"):
        assert counters[name]["counters"]["rxFrames"] >= 3 and counters[name]["counters"]["txFrames"] >= 3, name
    # The namespace's own neighbour table learned both guests through the tap.
    neighbours = ns(f"hqn{TAG}", "ip", "neigh", "show", "dev", tap).stdout
    assert "02:00:00:00:0b:01" in neighbours and "02:00:00:00:0b:02" in neighbours, neighbours


def test_iperf3_between_two_namespaces_bridged_by_the_hub(hubs, namespaces, capsys):
    if shutil.which("iperf3") is None:
        pytest.skip("iperf3 not installed")
    tap_a, tap_b = f"hia{TAG}", f"hib{TAG}"
    ns_a, ns_b = f"hna{TAG}", f"hnb{TAG}"
    _, client = hubs(hub_config("iperf", [f"{{name: a, tap: {tap_a}}}", f"{{name: b, tap: {tap_b}}}"]))
    namespaces.add_with_tap(ns_a, tap_a, "10.202.0.1/24")
    namespaces.add_with_tap(ns_b, tap_b, "10.202.0.2/24")
    server = subprocess.Popen(["ip", "netns", "exec", ns_b, "iperf3", "-s", "-1", "-B", "10.202.0.2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(0.5)
        result = ns(ns_a, "iperf3", "-c", "10.202.0.2", "-t", "3", "-J", timeout=30)
        report = json.loads(result.stdout)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(5)
    received = report["end"]["sum_received"]
    bits_per_second = received["bits_per_second"]
    with capsys.disabled():
        print(f"\n[ethernet] iperf3 TCP through the hub (tap to tap): {bits_per_second / 1e6:.0f} Mbit/s "
              f"({received['bytes']} bytes in {received['seconds']:.1f} s)")
    assert received["bytes"] > 1_000_000
    counters = ports(client)
    assert counters["a"]["counters"]["drops"]["queueFull"] == 0 or counters["a"]["counters"]["txFrames"] > 0


def test_two_hubs_joined_by_vxlan_carry_a_ping(hubs, namespaces):
    tap_a, tap_b = f"hva{TAG}", f"hvb{TAG}"
    port_a, port_b = free_udp_port(), free_udp_port()
    _, first = hubs(hub_config("vxlan-a", [
        f"{{name: t, tap: {tap_a}}}",
        f'{{name: vx, vxlan: {{local: "127.0.0.1:{port_a}", vni: 77, remotes: ["127.0.0.1:{port_b}"]}}}}']))
    _, second = hubs(hub_config("vxlan-b", [
        f"{{name: t, tap: {tap_b}}}",
        f'{{name: vx, vxlan: {{local: "127.0.0.1:{port_b}", vni: 77, remotes: ["127.0.0.1:{port_a}"]}}}}']))
    namespaces.add_with_tap(f"hvna{TAG}", tap_a, "10.203.0.1/24")
    namespaces.add_with_tap(f"hvnb{TAG}", tap_b, "10.203.0.2/24")
    result = ns(f"hvna{TAG}", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.203.0.2", check=False, timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    for client in (first, second):
        vx = ports(client)["vx"]
        assert vx["counters"]["rxFrames"] >= 3 and vx["counters"]["txFrames"] >= 3


def test_vde_plug_cable_from_a_vde_switch_attaches_to_a_vde_port(hubs, namespaces, tmp_path):
    for tool in ("vde_switch", "vde_plug", "dpipe", "socat"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    tap_hub, tap_vde = f"hdh{TAG}", f"hdv{TAG}"
    _, client = hubs(hub_config("vde", ['{name: cable, vde: "unix:/tmp/handsethub/cable.sock"}',
                                        f"{{name: t, tap: {tap_hub}}}"]))
    cable_path = ports(client)["cable"]["listen"][len("unix:"):]
    switch_dir, pid_file = tmp_path / "vde.ctl", tmp_path / "vde.pid"
    # vde_switch owns a tap of its own; a vde_plug cable joins its switch to the hub's vde port.
    sh("vde_switch", "-s", str(switch_dir), "-t", tap_vde, "-d", "-p", str(pid_file))
    switch_pid = None
    cable = None
    try:
        for _ in range(50):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            time.sleep(0.05)
        switch_pid = int(pid_file.read_text().strip())
        cable = subprocess.Popen(["dpipe", "vde_plug", str(switch_dir), "=", "socat", "-",
                                  f"UNIX-CONNECT:{cable_path}"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=open(tmp_path / "cable.log", "wb"))  # dpipe makes its own group
        for _ in range(100):
            if ports(client)["cable"]["connected"]:
                break
            time.sleep(0.05)
        assert ports(client)["cable"]["connected"], (tmp_path / "cable.log").read_text()
        namespaces.add_with_tap(f"hdnh{TAG}", tap_hub, "10.204.0.1/24")
        namespaces.add_with_tap(f"hdnv{TAG}", tap_vde, "10.204.0.2/24")
        result = ns(f"hdnh{TAG}", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.204.0.2", check=False, timeout=20)
        assert result.returncode == 0, result.stdout + result.stderr
        cable_counters = ports(client)["cable"]["counters"]
        assert cable_counters["rxFrames"] >= 3 and cable_counters["txFrames"] >= 3
        assert cable_counters["drops"]["malformed"] == 0
    finally:
        if cable is not None:
            os.killpg(cable.pid, signal.SIGTERM)
            cable.wait(5)
        if switch_pid is not None:
            try:
                os.kill(switch_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_a_udp_peer_exchanges_frames_with_a_dgram_port(hubs):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5)
    try:
        _, client = hubs(hub_config("dgram", [
            f'{{name: d, dgram: {{local: "127.0.0.1:0", remote: "127.0.0.1:{peer.getsockname()[1]}"}}}}',
            "{name: probe}"]))
        host, port = ports(client)["d"]["local"].rsplit(":", 1)
        peer_mac = "020000000c01"
        # A broadcast from the peer reaches the test port; a frame injected there comes back as one datagram.
        frame = bytes.fromhex("ffffffffffff" + peer_mac + "88b5") + b"hello".ljust(46, b"\x00")
        peer.sendto(frame, (host, int(port)))
        deadline = time.monotonic() + 5
        while ports(client)["probe"]["counters"]["txFrames"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ports(client)["probe"]["counters"]["txFrames"] == 1
        reply = bytes.fromhex(peer_mac + "020000000c02" + "88b5") + b"world".ljust(46, b"\x00")
        client.call("eth.inject", {"segment": "lan0", "port": "probe", "frame": reply.hex()})
        data, _ = peer.recvfrom(2048)
        assert data == reply
    finally:
        peer.close()
