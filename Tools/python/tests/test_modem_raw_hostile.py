"""Hostile raw AT socket clients against a real hubd (Protocols/modem.md §1): a raw AT socket has no
authentication, so what one client sends is taken a bounded number of command lines per loop pass, and a client
that never reads what a shared modem writes is closed before the hub holds more than a bounded amount for it.
Each test bounds its time and closes its sockets; the hubd fixture stops the hub.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path

from handsethub.control import HubError
from handsethub.loop_passes import LoopPasses
from handsethub.pytest_plugin import find_hubd


def raw_at_config(limits: dict[str, str] | None = None) -> str:
    """The reference handset with modem0 shared and listening on a Unix socket, with `limits` set."""
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=10).stdout
    match = re.search(r"^(\s*)backend: builtin$", text, re.MULTILINE)
    assert match, "the default configuration has a built-in modem"
    indent = match.group(1)
    text = text.replace(match.group(0),
                        f"{match.group(0)}\n{indent}listen: [unix:/tmp/handsethub/at.sock]\n{indent}shared: true", 1)
    for name, value in (limits or {}).items():
        text, count = re.subn(rf"^(\s*){name}: .*$", rf"\g<1>{name}: {value}", text, count=1, flags=re.MULTILINE)
        assert count == 1, f"the default configuration lists {name}"
    return text


def at_socket(hub) -> socket.socket:
    config = (hub.hub.directory / "hubd.yaml").read_text()
    path = re.search(r"listen: \[unix:([^\]]+)\]", config).group(1)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    return sock


def command(sock: socket.socket, line: bytes) -> bytes:
    """Sends one command line and reads until its final OK; returns what came back."""
    sock.sendall(line)
    answer = b""
    while b"OK\r\n" not in answer:
        chunk = sock.recv(1 << 16)
        assert chunk, "the opener was closed"
        answer += chunk
    return answer


def modem0(hub) -> dict:
    return next(entry for entry in hub.call("modem.list")["modems"] if entry["name"] == "modem0")


def test_a_raw_client_sending_thousands_of_lines_at_once_is_taken_in_slices_while_others_are_served(hubd):
    """4,000 `AT+CLAC` lines in one write used to be run in the read that brought them: one loop pass of most of
    a second (tens of seconds under a sustained flood) while no one else was served. Now the client gets
    `modemRawLinesPerPass` lines a pass: the control API answers while its lines are still being run, and every
    line is answered, in order."""
    hub = hubd(config=raw_at_config())
    assert hub.call("hub.limits")["limits"]["modemRawLinesPerPass"]["value"] == 16
    flooder = at_socket(hub)
    passes = LoopPasses(hub.hub.process.pid, lambda: hub.call("hub.info"))
    lines = 4000
    finals = []
    reader_failed = []

    def read_answers():
        buffer = b""
        try:
            while len(finals) < lines + 1:  # ATE0's final, then one per AT+CLAC
                chunk = flooder.recv(1 << 16)
                if not chunk:
                    reader_failed.append("closed")
                    return
                buffer += chunk
                while b"\r\n" in buffer:
                    line, _, buffer = buffer.partition(b"\r\n")
                    if line in (b"OK", b"ERROR") or line.startswith(b"+CME ERROR"):
                        finals.append(line)
        except OSError as error:
            reader_failed.append(repr(error))

    reader = threading.Thread(target=read_answers, daemon=True)
    reader.start()
    try:
        flooder.sendall(b"ATE0\r" + b"AT+CLAC\r" * lines)
        served_during_flood = 0
        deadline = time.monotonic() + 120
        while reader.is_alive() and time.monotonic() < deadline:
            hub.call("hub.info")
            # Counted only while the flood's lines are still being run (the first final is ATE0's).
            if 1 < len(finals) < lines + 1:
                served_during_flood += 1
            time.sleep(0.005)
        reader.join(5)
        assert not reader_failed, reader_failed
        assert finals == [b"OK"] * (lines + 1), (len(finals), next((f for f in finals if f != b"OK"), None))
        assert served_during_flood >= 3, served_during_flood
        # No pass ran more than a slice (about 4 ms alone): taken whole, the 4,000 lines held one pass for about
        # 0.9 s (debug build). Judged less the loop thread's waits for a CPU, which made a sliced pass 894 ms long
        # in a loaded CI run.
        passes.assert_short("4,000 lines in one write", 250)
        assert hub.hub.process.poll() is None
    finally:
        flooder.close()


def test_a_shared_modem_opener_that_never_reads_is_closed_once_its_unread_output_passes_the_limit(hubd):
    """On a shared modem everything the modem writes goes to every opener. An opener that never read used to be
    queued all of it, without bound, while another opener kept the modem busy. Past
    `modemOpenerMaxUnsentBytes` it is closed with `ERROR: not_reading`; the busy opener keeps being served."""
    hub = hubd(config=raw_at_config({"modemOpenerMaxUnsentBytes": "64KiB"}))
    assert hub.call("hub.limits")["limits"]["modemOpenerMaxUnsentBytes"]["value"] == 64 << 10
    silent = at_socket(hub)
    busy = at_socket(hub)
    try:
        command(busy, b"ATE0\r")
        deadline = time.monotonic() + 60
        batches = 0
        while modem0(hub)["openersClosedNotReading"] == 0:
            assert time.monotonic() < deadline, f"the silent opener was never closed ({batches} batches)"
            busy.sendall(b"AT+CLAC\r" * 50)
            batches += 1
            # The busy opener reads everything its commands produce, up to the batch's last final.
            finals, tail = 0, b""
            while finals < 50:
                chunk = busy.recv(1 << 16)
                assert chunk, "the busy opener was closed"
                tail += chunk
                finals += tail.count(b"\r\nOK\r\n")
                tail = tail[-5:]  # a marker cut between reads is found with the next one, none counted twice
        assert modem0(hub)["openers"].count("unix") == 1
        # The silent opener, read at last: its output, then the reason, then the end.
        silent.settimeout(10)
        received = b""
        while True:
            chunk = silent.recv(1 << 16)
            if not chunk:
                break
            received += chunk
        assert received.endswith(b"\r\nERROR: not_reading: more than 65536 bytes of output unread\r\n"), received[-120:]
        # The busy one is still served.
        command(busy, b"AT\r")
        assert hub.hub.process.poll() is None
    finally:
        silent.close()
        busy.close()


def test_a_modem_wait_pattern_cannot_make_a_raw_clients_line_hold_the_loop(hubd):
    """`modem.wait` patterns were matched by a backtracking engine on the loop: `^AT(a+)+$` against the 33-byte
    line an unauthenticated AT client typed held the hub indefinitely (every way of splitting 30 `a`s among the
    groups is tried), and no one else was served again. Patterns are now matched in time linear in the line
    (Protocols/control.md §14.15): the line is answered, the control API answers, and the wait still resolves
    on the line it waits for."""
    hub = hubd(config=raw_at_config())
    client = at_socket(hub)
    command(client, b"ATE0\r")
    # From this sequence on: the wait sees the hostile line whether it is registered before or after it comes.
    since = hub.call("modem.trace", {"limit": 1})["lastSeq"]
    waiter = hub.hub.connect()
    waited = {}

    def wait_for_line():
        try:
            waited["answer"] = waiter.call("modem.wait", {
                "at": {"pattern": "^AT(a+)+$", "direction": "to_modem", "since": since}, "timeoutMs": 60_000},
                timeout=90)
        except HubError as error:
            waited["error"] = repr(error)

    thread = threading.Thread(target=wait_for_line, daemon=True)
    thread.start()
    try:
        client.sendall(b"AT" + b"a" * 30 + b"!\r")
        # The modem answers the line (no such command) and the hub keeps serving: the old engine never returned.
        client.settimeout(20)
        answer = b""
        while b"ERROR" not in answer:
            chunk = client.recv(4096)
            assert chunk, "the AT client was closed"
            answer += chunk
        started = time.monotonic()
        hub.call("hub.info", timeout=20)
        assert time.monotonic() - started < 5
        assert not waited, waited
        client.sendall(b"ATaaaa\r")
        thread.join(30)
        assert waited.get("answer", {}).get("line") == "ATaaaa", waited
    finally:
        client.close()
        waiter.close()


def test_a_pattern_outside_the_language_is_refused_with_its_reason_and_offset(hubd):
    """A backreference or a lookahead was accepted by the backtracking engine; the linear language refuses them
    (-32602) and says what and where, rather than matching something else."""
    hub = hubd(config=raw_at_config())
    for pattern, words in (("(a)\\1", "unsupported escape '\\1'"), ("AT(?=\\+)", "only (...) and (?:...) groups"),
                           ("(a{255}){255}", "more than 1024 instructions"), ("a" * 513, "at most 512 bytes")):
        try:
            hub.call("modem.wait", {"at": {"pattern": pattern}, "timeoutMs": 10})
        except HubError as error:
            assert error.code == -32602, (pattern, error)
            assert words in error.message and "at byte" in error.message, (pattern, error.message)
            assert error.data["param"] == "at.pattern", error.data
        else:
            raise AssertionError(f"{pattern!r} was accepted")


def test_lines_of_chained_commands_are_counted_per_command_and_taken_in_slices(hubd):
    """The per-pass bound counted lines: 16 lines of 64 `;`-chained `AT+CLAC` each were 1,024 commands in one
    pass (passes of a quarter of a second). A line now counts once per command in it, so one such line is a
    pass's share; every line still gets its one final result."""
    hub = hubd(config=raw_at_config())
    flooder = at_socket(hub)
    command(flooder, b"ATE0\r")
    passes = LoopPasses(hub.hub.process.pid, lambda: hub.call("hub.info"))
    lines = 120
    line = b"AT+CLAC" + b";+CLAC" * 63 + b"\r"
    finals = []

    def read_answers():
        buffer = b""
        while len(finals) < lines:
            chunk = flooder.recv(1 << 16)
            if not chunk:
                return
            buffer += chunk
            while b"\r\n" in buffer:
                answer, _, buffer = buffer.partition(b"\r\n")
                if answer in (b"OK", b"ERROR"):
                    finals.append(answer)

    reader = threading.Thread(target=read_answers, daemon=True)
    reader.start()
    try:
        flooder.sendall(line * lines)
        reader.join(120)
        assert finals == [b"OK"] * lines, (len(finals), finals[-3:])
        # One line of 64 commands is about 15 ms alone (debug build); 16 of them in a pass were about 240 ms.
        passes.assert_short("lines of 64 chained commands", 100)
    finally:
        flooder.close()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_unread_output_of_a_silent_opener_costs_about_its_bytes(hubd):
    """Each short answer the modem wrote to an opener that did not read was queued as a write of its own (a
    request, a callback and a copy: a few hundred bytes for 6), so the bytes `modemOpenerMaxUnsentBytes` counts
    held about 20 times as much memory: three silent openers took the hub from 20 to 427 MB. Writes made while a
    peer is not taking bytes are now gathered into one buffer (Connection), so 1 MiB owed costs about that.
    One command a pass makes every answer a write of its own, as a client typing one command at a time does."""
    hub = hubd(config=raw_at_config({"modemOpenerMaxUnsentBytes": "16MiB", "modemRawLinesPerPass": "1"}))
    silent = at_socket(hub)
    busy = at_socket(hub)
    pid = hub.hub.process.pid
    try:
        command(busy, b"ATE0\r")
        before = rss_mib(pid)
        owed = 0
        deadline = time.monotonic() + 90
        while owed < 1 << 20:
            assert time.monotonic() < deadline, f"only {owed} bytes owed after 90 s"
            busy.sendall(b"AT\r" * 500)
            finals, tail = 0, b""
            while finals < 500:
                chunk = busy.recv(1 << 16)
                assert chunk, "the busy opener was closed"
                owed += len(chunk)  # every opener of a shared modem is written the same
                tail += chunk
                finals += tail.count(b"\r\nOK\r\n")
                tail = tail[-5:]
        grown = rss_mib(pid) - before
        assert modem0(hub)["openersClosedNotReading"] == 0
        # About 175,000 writes of 6 bytes: 1 MiB owed, tens of MiB of requests when each was its own write.
        assert grown < 8, f"the hub grew {grown:.1f} MiB for {owed / 2**20:.1f} MiB owed to one silent opener"
        command(busy, b"AT\r")
    finally:
        silent.close()
        busy.close()


def test_a_raw_client_that_stops_reading_then_goes_away_is_let_go(hubd):
    """A raw client whose unsent output passed the high watermark is not read (backpressure), so its end of
    stream is not seen while it stays blocked: when it goes away, the hub must still let go of its connection,
    queued output and admission slot (on an unshared modem, the slot keeps every other raw client out). Here the
    failed writes release the queue and the end of stream is read; the hub also closes such a client on its
    first failed write."""
    hub = hubd(config=raw_at_config({"writeHighWatermarkBytes": "256KiB", "writeLowWatermarkBytes": "64KiB"}))
    client = at_socket(hub)
    command(client, b"ATE0\r")
    size = len(command(client, b"AT+CLAC\r"))
    # Enough output to pass the high watermark many times over, never read.
    client.sendall(b"AT+CLAC\r" * ((4 << 20) // size))
    time.sleep(1.5)  # the hub has stopped reading it: its output is past the watermark
    assert modem0(hub)["openers"] == ["unix"]
    client.close()
    deadline = time.monotonic() + 15
    while modem0(hub)["openers"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert modem0(hub)["openers"] == [], "the vanished client is still held"
    # The slot is free again: a new client is served.
    again = at_socket(hub)
    try:
        assert b"OK" in command(again, b"AT\r")
    finally:
        again.close()
