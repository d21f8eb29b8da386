"""A hub whose modem0 uses `hubd modem-sim` as its remote backend, connected out (`backend: {remote}`)
or accepted (`backend: {listen}` with `hubd modem-sim --connect`): service through the simulator, the
network-side control methods forwarded over the framed link, a clear error while it is down, service
again after it comes back."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from handsethub.pytest_plugin import find_hubd
from test_modem_pty import FINAL, Serial, config


def start_sim(path: str, log, *extra: str) -> subprocess.Popen:
    process = subprocess.Popen([str(find_hubd()), "modem-sim", "--listen", f"unix:{path}", *extra], stdout=log,
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
        # Network-side methods are forwarded to the remote simulator over the link's control frames.
        client.call("modem.call.answer", {"modem": "modem0"})
        assert "+CLCC: 1,0,0" in serial.at("AT+CLCC")
        status = client.call("modem.status", {"modem": "modem0"})
        assert status["modem"] == "modem0" and status["calls"][0]["state"] == "active"
        client.call("modem.call.hangup", {"modem": "modem0"})
        serial.child.expect("NO CARRIER")
        assert client.call("modem.calls", {"modem": "modem0"})["calls"] == []
        # The relay is traced like the built-in modem.
        waited = client.call("modem.wait", {"modem": "modem0", "at": {"pattern": "^\\+CLCC: 1", "since": 0},
                                            "timeoutMs": 1000})
        assert waited["direction"] == "from_modem"

        sim.terminate()
        sim.wait(timeout=10)
        wait_backend(client, False)
        serial.child.send("AT\r")
        serial.child.expect(FINAL)
        # The hub's own answer follows the host's +CMEE (0 here: plain ERROR; Protocols/modem.md §6.3).
        assert serial.child.match.group(1) == "ERROR"
        with pytest.raises(Exception) as refused:
            client.call("modem.call.incoming", {"modem": "modem0", "number": "1"})
        assert "backend_down" in str(refused.value) or "not connected" in str(refused.value)

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


def test_simulator_connects_in(hubd, tmp_path):
    """`backend: {listen}`: the simulator dials the hub with the token; a guest on the PTY registers,
    takes an incoming call driven through the forwarded control methods, sends a two-part SMS that
    modem.sms.sent joins, and a simulator with the wrong token is refused."""
    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path, extra="      backend: {listen: unix:/tmp/backend.sock, token: s3cret}"))
    written = (client.hub.directory / "hubd.yaml").read_text()
    backend = re.search(r"listen: \"?unix:([^\"}\s,]+)", written).group(1)
    log = open(tmp_path / "sim.log", "wb")
    wrong = subprocess.Popen([str(find_hubd()), "modem-sim", "--connect", f"unix:{backend}", "--token", "nope"],
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sim = None
    serial = Serial(pty_path)
    try:
        time.sleep(0.5)
        assert client.call("modem.list")["modems"][0]["backendUp"] is False
        wrong.terminate()
        wrong.wait(timeout=10)
        sim = subprocess.Popen([str(find_hubd()), "modem-sim", "--connect", f"unix:{backend}", "--token", "s3cret"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_backend(client, True)
        serial.at("ATE0")
        serial.at("AT+CMEE=1;+CLIP=1;+CREG=2")
        assert "+CREG: 2,1" in serial.at("AT+CREG?")
        # The simulator built its modem from the hub's configuration (sent in the hub's hello).
        assert "+15550000001" in serial.at("AT+CNUM")
        client.call("modem.registration", {"modem": "modem0", "state": "roaming"})
        serial.expect(r"\+CREG: 5")
        client.call("modem.call.incoming", {"modem": "modem0", "number": "+15550002222"})
        serial.expect(r'\+CLIP: "\+15550002222",145')
        serial.at("ATA")
        call = client.call("modem.wait", {"modem": "modem0", "call": {"state": "active"}, "timeoutMs": 3000})
        assert call["call"]["number"] == "+15550002222"
        serial.at("ATH")
        serial.at("AT+CMGF=1")
        text = "remote " * 30  # 210 characters: two parts
        serial.child.send('AT+CMGS="+15550003333"\r')
        serial.expect("> ")
        serial.child.send(text + "\x1a")
        serial.child.expect(FINAL)
        assert serial.child.match.group(1) == "OK", serial.child.before
        done = client.call("modem.wait", {"modem": "modem0", "sms": {"pattern": "^remote", "since": 0},
                                          "timeoutMs": 3000})
        assert done["sms"]["to"] == "+15550003333"
        sent = client.call("modem.sms.sent", {"modem": "modem0"})
        assert sent["count"] == 2
        assert sent["joined"][0]["text"] == text and sent["joined"][0]["complete"] is True
        assert [m["part"]["sequence"] for m in sent["messages"]] == [1, 2]
    finally:
        serial.close()
        for process in (wrong, sim):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        log.close()
