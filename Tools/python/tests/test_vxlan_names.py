"""VXLAN remotes named by host name against a real hubd (Protocols/ethernet.md, vxlan): `localhost`, which the
machine's own resolver answers from /etc/hosts, is resolved at start and frames reach the UDP socket behind it;
a name that cannot exist (`.invalid`, RFC 6761) stops the hub at start with an error naming the entry.
Loopback only; the fixture stops the hub."""

from __future__ import annotations

import socket
import subprocess

import pytest

from handsethub.pytest_plugin import find_hubd, start_hub

FRAME = "ffffffffffff 020000000001 88b5 " + "00" * 46


def config(remote: str) -> str:
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=10).stdout
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == "- name: linux" and "partition" in lines[i + 1])
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index:index] = [
        f"{indent}- {{name: t}}",
        f'{indent}- {{name: wan, vxlan: {{local: "127.0.0.1:0", vni: 42, remotes: ["{remote}"]}}}}',
    ]
    return "\n".join(lines) + "\n"


def test_a_remote_named_localhost_gets_the_frames(hubd):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        hub = hubd(config=config(f"localhost:{port}"))
        ports = hub.call("eth.ports", {"segment": "lan0"})["ports"]
        wan = next(p for p in ports if p["name"] == "wan")
        assert wan["remoteNames"] == [f"localhost:{port}"] and wan["remotes"] == [f"127.0.0.1:{port}"]
        hub.call("eth.inject", {"segment": "lan0", "port": "t", "frame": FRAME})
        datagram, _ = receiver.recvfrom(65536)
        assert datagram[:8] == bytes([0x08, 0, 0, 0, 0, 0, 42, 0])
        assert datagram[8:14] == b"\xff" * 6


def test_an_unresolvable_remote_stops_the_hub_naming_its_entry(tmp_path):
    with pytest.raises(RuntimeError) as failure:
        hub = start_hub(tmp_path, config("no-such-host.invalid:4789"))
        hub.stop()
    message = str(failure.value)
    assert "vxlan.remotes[0]: cannot resolve 'no-such-host.invalid:4789'" in message
