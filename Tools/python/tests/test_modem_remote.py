"""A hub whose modem0 uses `hubd modem-sim` as its remote backend: service through the simulator,
a clear error while it is down, service again after it comes back."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from handsethub.pytest_plugin import find_hubd
from test_modem_pty import FINAL, Serial, config


def start_sim(path: str, log) -> subprocess.Popen:
    process = subprocess.Popen([str(find_hubd()), "modem-sim", "--listen", f"unix:{path}"], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        assert process.poll() is None, "modem-sim exited early"
        assert time.monotonic() < deadline, "modem-sim did not listen"
        time.sleep(0.02)
    return process


def wait_backend(client, up: bool) -> None:
    deadline = time.monotonic() + 10
    while client.call("modem.list")["modems"][0]["backendUp"] != up:
        assert time.monotonic() < deadline, f"backend never became {'up' if up else 'down'}"
        time.sleep(0.05)


def test_remote_simulator_down_and_back(hubd, tmp_path):
    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path, extra="      backend: {remote: unix:/tmp/sim.sock}"))
    # The fixture moves unix sockets into the hub's directory: find where the hub will connect.
    written = (client.hub.directory / "hubd.yaml").read_text()
    sim_path = re.search(r"remote: \"?unix:([^\"}\s]+)", written).group(1)
    log = open(tmp_path / "sim.log", "wb")
    sim = start_sim(sim_path, log)
    serial = Serial(pty_path)
    try:
        wait_backend(client, True)
        serial.at("ATE0")
        assert "+CPIN: READY" in serial.at("AT+CPIN?")
        serial.at("ATD+15550001;")
        assert "+CLCC: 1,0" in serial.at("AT+CLCC")
        # Network-side methods belong to the remote simulator, and say so.
        with pytest.raises(Exception) as refused:
            client.call("modem.call.incoming", {"modem": "modem0", "number": "1"})
        assert "remote" in str(refused.value)
        # The relay is traced like the built-in modem.
        waited = client.call("modem.wait", {"modem": "modem0", "at": {"pattern": "^\\+CLCC: 1", "since": 0},
                                            "timeoutMs": 1000})
        assert waited["direction"] == "from_modem"

        sim.terminate()
        sim.wait(timeout=10)
        wait_backend(client, False)
        serial.child.send("AT\r")
        serial.child.expect(FINAL)
        assert serial.child.match.group(1) == "+CME ERROR: 0"

        sim = start_sim(sim_path, log)
        wait_backend(client, True)
        serial.at("ATE0")
        assert "+CSQ:" in serial.at("AT+CSQ")
    finally:
        serial.close()
        if sim.poll() is None:
            sim.terminate()
            sim.wait(timeout=10)
        log.close()
