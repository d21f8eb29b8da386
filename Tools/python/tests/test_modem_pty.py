"""The modem through a real host serial line: a pexpect client on the hub's pseudo-terminal runs an
init sequence like ModemManager/ofono, calls, SMS in text and PDU mode, and bad input; the network
side is driven through the control API (Protocols/modem.md, control.md §14)."""

from __future__ import annotations

import os
import re
import termios
import tty

import pexpect
import pytest
from pexpect import fdpexpect

FINAL = r"\r\n(OK|ERROR|\+CME ERROR: [^\r]*|\+CMS ERROR: [^\r]*|NO CARRIER|BUSY|NO ANSWER)\r\n"


def config(pty_path: str, extra: str = "") -> str:
    return f"""
platform:
  name: modem-test
hub:
  controlEndpoints: ["unix:/tmp/control.sock"]
  guestEndpoints: ["unix:/tmp/guest.sock"]
partitions:
  - name: rtos
    class: real-time
    priority: 0
    memoryBytes: 16MiB
    secret: "rtos-secret-0123456789"
    devices:
      - {{device: modem0, access: dedicated}}
devices:
  modems:
    - name: modem0
      owner: rtos
      pty: "{pty_path}"
      interruptLine: 5
{extra}
"""


class Serial:
    """A host serial client on the PTY (raw termios, like a modem stack sets up its port)."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)
        self.child = fdpexpect.fdspawn(self.fd, timeout=5, encoding="latin-1")

    def at(self, command: str, final: str = "OK") -> str:
        self.child.send(command + "\r")
        self.child.expect(FINAL)
        got = self.child.match.group(1)
        assert got == final, f"{command!r}: expected {final!r}, got {got!r} after {self.child.before!r}"
        return self.child.before

    def expect(self, pattern: str) -> str:
        self.child.expect(pattern)
        return self.child.match.group(0)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


@pytest.fixture
def modem(hubd, tmp_path):
    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path))
    assert os.path.islink(pty_path)
    serial = Serial(pty_path)
    yield client, serial
    serial.close()


def init_sequence(serial: Serial) -> None:
    # What ModemManager / ofono send when they probe and enable a 3GPP modem.
    serial.at("ATZ")
    serial.at("ATE0")
    serial.at("AT+CMEE=1")
    assert "HandsetHub" in serial.at("ATI")
    assert "+GCAP: +CGSM" in serial.at("AT+GCAP")
    for command in ("AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CGSN"):
        assert serial.at(command).strip()
    assert "+CPIN: READY" in serial.at("AT+CPIN?")
    assert "001010123456789" in serial.at("AT+CIMI")
    serial.at("AT+CFUN=1")
    serial.at("AT+CREG=2")
    serial.at("AT+CGREG=2")
    serial.at("AT+CEREG=2")
    assert re.search(r"\+CREG: 2,1,\"1A2B\"", serial.at("AT+CREG?"))
    assert '+COPS: 0,2,"00101",7' in serial.at("AT+COPS=3,2;+COPS?")
    assert re.search(r"\+CSQ: \d+,\d+", serial.at("AT+CSQ"))
    serial.at("AT+CLIP=1;+CRC=1;+CCWA=1")
    serial.at("AT+CSMS=0")
    serial.at('AT+CPMS="SM","SM","SM"')
    serial.at("AT+CNMI=2,1,0,0,0")
    serial.at('AT+CSCS="GSM"')


def test_host_serial_stack_through_the_pty(modem):
    client, serial = modem
    init_sequence(serial)
    assert client.call("modem.status", {"modem": "modem0"})["registration"] == "home"

    # Registration URCs arrive on the serial line when the network changes.
    client.call("modem.registration", {"modem": "modem0", "state": "roaming"})
    serial.expect(r"\+CREG: 5,\"1A2B\"")
    client.call("modem.registration", {"modem": "modem0", "state": "home"})
    serial.expect(r"\+CREG: 1")

    # An outgoing call that the test answers from the network side.
    serial.at("ATD+15551230000;")
    client.call("modem.wait", {"modem": "modem0", "call": {"state": "alerting"}, "timeoutMs": 3000})
    assert "+CLCC: 1,0,3,0,0" in serial.at("AT+CLCC")
    client.call("modem.call.answer", {"modem": "modem0"})
    assert "+CLCC: 1,0,0,0,0,\"+15551230000\",145" in serial.at("AT+CLCC")
    serial.at("AT+VTS=5")
    client.call("modem.call.hangup", {"modem": "modem0"})
    serial.expect(r"NO CARRIER")

    # An incoming call with +CLIP, answered by the host.
    client.call("modem.call.incoming", {"modem": "modem0", "number": "+15559870000"})
    serial.expect(r"\+CRING: VOICE\r\n\+CLIP: \"\+15559870000\",145,,,,0")
    serial.at("ATA")
    waited = client.call("modem.wait", {"modem": "modem0", "call": {"state": "active"}, "timeoutMs": 1000})
    assert waited["call"]["number"] == "+15559870000"
    serial.at("ATH")
    assert client.call("modem.calls", {"modem": "modem0"})["calls"] == []

    # SMS in text mode, read back decoded through the control API.
    serial.at("AT+CMGF=1")
    serial.child.send('AT+CMGS="+15550001111"\r')
    serial.expect(r"\r\n> ")
    serial.child.send("Hello from the host\x1a")
    serial.child.expect(r"\+CMGS: (\d+)\r\n\r\nOK\r\n")
    # PDU mode: "Howdy y'all!" to +15125551234 (SMSC 00 = default), TPDU length 24.
    serial.at("AT+CMGF=0")
    serial.child.send("AT+CMGS=24\r")
    serial.expect(r"\r\n> ")
    serial.child.send("0001000B915121551532F400000CC8F79D9C07E54F61363B04\x1a")
    serial.child.expect(r"\+CMGS: (\d+)\r\n\r\nOK\r\n")
    sent = client.call("modem.sms.sent", {"modem": "modem0"})["messages"]
    assert [(m["to"], m["text"], m["mode"]) for m in sent] == [
        ("+15550001111", "Hello from the host", "text"),
        ("+15125551234", "Howdy y'all!", "pdu"),
    ]

    # A multi-part incoming SMS: stored, announced with +CMTI, read back and reassembled.
    text = "This message is long enough to need three parts. " * 8
    result = client.call("modem.sms.deliver", {"modem": "modem0", "from": "+15557770000", "text": text})
    assert result["parts"] == 3
    for index in result["stored"]:
        serial.expect(rf'\+CMTI: "SM",{index}')
    serial.at("AT+CMGF=1")
    listing = serial.at('AT+CMGL="ALL"')
    bodies = re.findall(r'\+CMGL: \d+,"REC UNREAD","\+15557770000",,"[^"]+"\r\n([^\r]*)', listing)
    assert "".join(bodies) == text
    serial.at("AT+CMGD=1,4")
    assert '+CPMS: "SM",0,30' in serial.at("AT+CPMS?")

    # The trace holds both directions, and the URCs raised the owner's interrupt line.
    trace = client.call("modem.trace", {"modem": "modem0", "limit": 2000})["lines"]
    assert {"direction": "to_modem", "line": "ATA"} in [{k: e[k] for k in ("direction", "line")} for e in trace]
    assert client.call("modem.status", {"modem": "modem0"})["urcs"] > 0


def test_bad_input_leaves_the_modem_usable(modem):
    client, serial = modem
    serial.at("ATE0")
    serial.at("AT+CMEE=1")
    serial.at("A" * 3000, final="ERROR")               # longer than maxLineBytes (2048)
    serial.child.send("\x00\xff\x80garbage\x07\r")
    serial.child.expect(FINAL)
    assert serial.child.match.group(1) == "ERROR"
    serial.child.send("\x1a")                           # Ctrl-Z with no prompt
    serial.child.expect(FINAL)
    assert serial.child.match.group(1) == "ERROR"
    serial.at("AT+CMGF=0")
    serial.child.send("AT+CMGS=40\r")                   # the PDU below has a 24-octet TPDU
    serial.expect(r"\r\n> ")
    serial.child.send("0001000B915121551532F400000CC8F79D9C07E54F61363B04\x1a")
    serial.child.expect(FINAL)
    assert serial.child.match.group(1) == "+CMS ERROR: 304"
    serial.child.send("AT+CMGS=24\r")                   # Esc aborts the prompt
    serial.expect(r"\r\n> ")
    serial.child.send("00\x1b")
    serial.child.expect(FINAL)
    assert serial.child.match.group(1) == "OK"
    serial.at("AT+NOSUCHCOMMAND", final="ERROR")
    serial.at("ATD123x;", final="+CME ERROR: 27")
    assert "+CSQ:" in serial.at("AT+CSQ")
    assert client.call("modem.sms.sent", {"modem": "modem0"})["messages"] == []


def test_configured_limits_reach_the_modem_and_hub_limits(hubd, tmp_path):
    """`limits` and `echo` from the configuration: shown in hub.limits, obeyed by the modem (store size
    in +CPMS, calls refused past maxCalls), and `echo: opener` echoes only to the typist."""
    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path, extra="""      shared: true
      echo: opener
      listen: ["unix:/tmp/modem0.sock"]
      limits: {smsCapacity: 5, maxCalls: 2, ringIntervalMs: 500, traceLines: 100}"""))
    limits = client.call("hub.limits")["modem"]["modem0"]
    assert (limits["smsCapacity"], limits["maxCalls"], limits["ringIntervalMs"], limits["traceLines"]) == (5, 2, 500, 100)
    assert limits["echo"] == "opener"
    serial = Serial(pty_path)
    written = (client.hub.directory / "hubd.yaml").read_text()
    socket_path = re.search(r"unix:([^\"\]\s,]+modem0\.sock)", written).group(1)
    import socket as socketlib
    other = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    other.settimeout(2)
    other.connect(socket_path)
    try:
        # The PTY types with echo on; the socket sees the result but not the echoed characters.
        serial.child.send("AT+CPMS?\r")
        serial.expect(r"AT\+CPMS\?\r")
        serial.expect(r'\+CPMS: "SM",0,5')
        serial.child.expect(FINAL)
        seen = b""
        while b"OK\r\n" not in seen:
            seen += other.recv(4096)
        assert b"AT+CPMS?" not in seen and b'+CPMS: "SM",0,5' in seen
        serial.at("ATE0")
        serial.at("ATD+15550000002;")
        client.call("modem.call.answer")
        client.call("modem.call.incoming", {"number": "+15550000003"})
        serial.at("AT+CHLD=2")
        assert len(client.call("modem.calls")["calls"]) == 2
        with pytest.raises(Exception) as full:
            client.call("modem.call.incoming", {"number": "+15550000004"})
        assert "no free call slot" in str(full.value)
        trace = client.call("modem.trace", {"limit": 100})
        assert len(trace["lines"]) <= 100
    finally:
        other.close()
        serial.close()


def test_a_burst_of_lines_on_the_pty_is_taken_in_slices(hubd, tmp_path):
    """Whoever opens the PTY is not authenticated either. Its input was taken a whole read at a time (about
    500 lines of `AT+CLAC`: passes of 100 ms and more, the control API waiting); it is now sliced per pass as a
    raw socket client's is (`modemRawLinesPerPass`, Protocols/modem.md §1), and every line is answered."""
    import threading
    import time

    from handsethub.loop_passes import LoopPasses

    pty_path = str(tmp_path / "modem0.tty")
    client = hubd(config(pty_path))
    serial = Serial(pty_path)
    try:
        serial.at("ATE0")
        passes = LoopPasses(client.hub.process.pid, lambda: client.call("hub.info"))
        lines = 3000
        finals = []

        def read_answers():
            buffer = b""
            deadline = time.monotonic() + 120
            while len(finals) < lines and time.monotonic() < deadline:
                try:
                    chunk = os.read(serial.fd, 1 << 16)
                except BlockingIOError:
                    time.sleep(0.001)
                    continue
                buffer += chunk
                while b"\r\n" in buffer:
                    answer, _, buffer = buffer.partition(b"\r\n")
                    if answer in (b"OK", b"ERROR"):
                        finals.append(answer)

        reader = threading.Thread(target=read_answers, daemon=True)
        reader.start()
        data = b"AT+CLAC\r" * lines
        written = 0
        while written < len(data):
            written += os.write(serial.fd, data[written:written + 4096])
        reader.join(120)
        assert finals == [b"OK"] * lines, (len(finals), finals[-3:])
        # A slice of 16 lines is a few ms (debug build); whole reads were 100 ms and more.
        passes.assert_short("a burst of lines on the PTY", 50)
    finally:
        serial.close()
