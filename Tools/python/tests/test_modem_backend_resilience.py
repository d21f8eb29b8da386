"""A host AT session on the hub's PTY across a remote simulator that is killed and restarted, and one that
hangs (SIGSTOP) and resumes (SIGCONT): the host's settings survive the restart (Protocols/modem.md §6.2),
and a hung simulator costs the host one error within the configured deadline, formatted as its +CMEE asks,
instead of a command that never ends (§6.3)."""

from __future__ import annotations

import re
import signal
import subprocess
import time

from handsethub.pytest_plugin import find_hubd
from test_modem_pty import FINAL, Serial, config
from test_modem_remote import start_sim, wait_backend

# Short deadlines so the test is quick; the pexpect timeout (5 s) stays well above them.
LIMITS = "      limits: {backendCommandTimeoutMs: 800, backendKeepaliveMs: 300}"


def remote_hub(hubd, tmp_path):
    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path, extra="      backend: {remote: unix:/tmp/sim.sock}\n" + LIMITS))
    written = (client.hub.directory / "hubd.yaml").read_text()
    sim_path = re.search(r"remote: \"?unix:([^\"}\s]+)", written).group(1)
    return client, pty_path, sim_path


def link(client) -> dict:
    return client.call("modem.list")["modems"][0]["backendLink"]


def wait_for(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def final_of(serial: Serial, command: str) -> tuple[str, str]:
    """Sends a command line; returns (final result, what came before it)."""
    serial.child.send(command + "\r")
    serial.child.expect(FINAL)
    return serial.child.match.group(1), serial.child.before


def test_host_settings_survive_a_simulator_restart(hubd, tmp_path):
    client, pty_path, sim_path = remote_hub(hubd, tmp_path)
    log = open(tmp_path / "sim.log", "wb")
    sim = start_sim(sim_path, log)
    serial = Serial(pty_path)
    try:
        wait_backend(client, True)
        assert link(client)["commandTimeoutMs"] == 800 and link(client)["keepaliveMs"] == 300
        limits = client.call("hub.limits")["modem"]["modem0"]
        assert (limits["backendCommandTimeoutMs"], limits["backendKeepaliveMs"]) == (800, 300)
        # A host stack's init sequence (AT+CVHU=0 included, as ModemManager and ofono send it).
        serial.at("ATE0")
        serial.at("AT+CVHU=0")
        serial.at("AT+CMEE=2")
        serial.at('AT+CMGF=1;+CNMI=2,2,0,0,0;+CLIP=1;+CRC=1;+CSCS="GSM"')
        serial.child.send('AT+CMGS="+15550003333"\r')
        serial.expect("> ")
        serial.child.send("before\x1a")
        serial.child.expect(FINAL)
        assert "+CMGS: 0" in serial.child.before

        sim.kill()
        sim.wait(timeout=10)
        wait_backend(client, False)
        # While it is away: the hub answers, without echo, in the host's +CMEE=2 format.
        got, before = final_of(serial, "AT+CSQ")
        assert got == "+CME ERROR: phone failure" and "AT+CSQ" not in before

        sim = start_sim(sim_path, log)
        wait_for(lambda: link(client)["reconnects"] == 1, "the simulator never came back")
        event = client.recent_events(kinds=["modem.backend"])[-1]
        assert event.data["state"] == "reconnected" and event.data["restored"] is True
        assert event.data["attempts"] >= 1
        lost = [e for e in client.recent_events(kinds=["modem.backend"]) if e.data["up"] is False]
        assert lost and lost[-1].data["state"] == "disconnected"

        # Same echo (none) and error format as before the restart.
        got, before = final_of(serial, "AT")
        assert got == "OK" and "AT" not in before
        assert final_of(serial, "AT+CFUN=9")[0] == "+CME ERROR: Incorrect parameters"
        assert '+CSCS: "GSM"' in serial.at("AT+CSCS?")
        # SMS notifications: +CMT shown directly, in text mode.
        client.call("modem.sms.deliver", {"modem": "modem0", "from": "+15557654321", "text": "after restart"})
        serial.expect(r'\+CMT: "\+15557654321",,"[^"]+"\r\nafter restart')
        # Ring format and caller id.
        client.call("modem.call.incoming", {"modem": "modem0", "number": "+15550002222"})
        serial.expect(r"\+CRING: VOICE")
        serial.expect(r'\+CLIP: "\+15550002222",145')
        client.call("modem.call.hangup", {"modem": "modem0"})
        serial.expect("NO CARRIER")
        # The SMS message reference continues instead of restarting at 0.
        serial.child.send('AT+CMGS="+15550003333"\r')
        serial.expect("> ")
        serial.child.send("after\x1a")
        serial.child.expect(FINAL)
        assert serial.child.match.group(1) == "OK" and "+CMGS: 1" in serial.child.before
    finally:
        serial.close()
        if sim.poll() is None:
            sim.kill()
            sim.wait(timeout=10)
        log.close()


def test_a_hung_simulator_costs_one_error_within_the_deadline(hubd, tmp_path):
    client, pty_path, sim_path = remote_hub(hubd, tmp_path)
    log = open(tmp_path / "sim.log", "wb")
    sim = start_sim(sim_path, log)
    serial = Serial(pty_path)
    stopped = False
    try:
        wait_backend(client, True)
        serial.at("ATE0")
        serial.at("AT+CMEE=1")

        sim.send_signal(signal.SIGSTOP)
        stopped = True
        # Without a deadline this command never got a final result.
        got, _ = final_of(serial, "AT+CSQ")
        assert got == "+CME ERROR: 0"
        wait_backend(client, False)
        assert link(client)["timeouts"] >= 1
        lost = [e for e in client.recent_events(kinds=["modem.backend"]) if e.data["up"] is False][-1]
        assert lost.data["commandPending"] is True and "did not answer" in lost.data["reason"]
        # While it stays stopped, every line is answered at once and the hub keeps redialling.
        assert final_of(serial, "AT")[0] == "+CME ERROR: 0"
        attempts = link(client)["attempts"]
        wait_for(lambda: link(client)["attempts"] > attempts, "the hub did not redial a silent simulator")

        sim.send_signal(signal.SIGCONT)
        stopped = False
        wait_backend(client, True)
        # It answered the hellos of the connections the hub had already given up (EPIPE, not SIGPIPE).
        time.sleep(0.3)
        assert sim.poll() is None, "the simulator died answering connections the hub had closed"
        # The resumed simulator serves the host as it was set up: no echo, numeric +CME.
        got, before = final_of(serial, "AT+CFUN=9")
        assert got == "+CME ERROR: 50" and "AT+CFUN" not in before

        # A hang noticed by the keepalive alone, with the host idle, then an error in verbose format.
        serial.at("AT+CMEE=2")
        timeouts = link(client)["timeouts"]
        sim.send_signal(signal.SIGSTOP)
        stopped = True
        wait_for(lambda: link(client)["timeouts"] > timeouts, "the keepalive did not notice the hang")
        assert final_of(serial, "AT+CSQ")[0] == "+CME ERROR: phone failure"
        # And with +CMEE=0 (restored after the next reconnect) a plain ERROR.
        sim.send_signal(signal.SIGCONT)
        stopped = False
        wait_backend(client, True)
        serial.at("AT+CMEE=0")
        sim.send_signal(signal.SIGSTOP)
        stopped = True
        assert final_of(serial, "AT+CSQ")[0] == "ERROR"
        # The control API's forwarded requests fail too instead of hanging.
        try:
            client.call("modem.status", {"modem": "modem0"})
            raise AssertionError("modem.status answered while the simulator is stopped")
        except Exception as error:  # noqa: BLE001 - HubError: backend_down or backend_timeout
            assert "backend" in str(error) or "not connected" in str(error) or "did not answer" in str(error)
        sim.send_signal(signal.SIGCONT)
        stopped = False
        wait_backend(client, True)
        assert "+CSQ:" in serial.at("AT+CSQ")
    finally:
        serial.close()
        if stopped:
            sim.send_signal(signal.SIGCONT)
        if sim.poll() is None:
            sim.kill()
            sim.wait(timeout=10)
        log.close()


def test_settings_survive_when_the_simulator_dials_in(hubd, tmp_path):
    """`backend: {listen}`: the restarted simulator dials the hub (`--connect`) and gets the host's
    settings in the hub's answering hello."""
    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path, extra="      backend: {listen: unix:/tmp/backend.sock}\n" + LIMITS))
    written = (client.hub.directory / "hubd.yaml").read_text()
    backend = re.search(r"listen: \"?unix:([^\"}\s,]+)", written).group(1)
    log = open(tmp_path / "sim.log", "wb")
    command = [str(find_hubd()), "modem-sim", "--connect", f"unix:{backend}"]
    sim = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    serial = Serial(pty_path)
    try:
        wait_backend(client, True)
        serial.at("ATE0")
        serial.at("AT+CMEE=1;+CRC=1;+CLIP=1")
        sim.kill()
        sim.wait(timeout=10)
        wait_backend(client, False)
        sim = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: link(client)["reconnects"] == 1, "the simulator never dialled back")
        got, before = final_of(serial, "AT+CFUN=9")
        assert got == "+CME ERROR: 50" and "AT+CFUN" not in before
        client.call("modem.call.incoming", {"modem": "modem0", "number": "+15550002222"})
        serial.expect(r"\+CRING: VOICE")
        serial.expect(r'\+CLIP: "\+15550002222",145')
    finally:
        serial.close()
        if sim.poll() is None:
            sim.kill()
            sim.wait(timeout=10)
        log.close()
