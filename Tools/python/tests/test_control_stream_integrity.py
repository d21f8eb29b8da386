"""Control answers and events reach a slow reader whole and in order (Protocols/control.md §2.4, §2.7, §5).

The hub writes each loop pass's answers and events to a client as one buffer. When the client reads slowly, its
receive window fills, the hub's writes go partial and queue behind each other, and the bytes reach the client in
pieces that end anywhere, often inside a line. These tests make that happen on purpose (a tiny receive buffer,
reading a byte at a time, then in small chunks) and check every byte: each line parses, answers come in request
order, events in sequence order, and nothing else arrives.

They also cover the campaign's own reader (``handsethub.hostile.read_lines``): a quiet CI run once saw a line
"arrive with its head missing" in test_hostile_campaign's wrong-token attack. The hub's stream was whole; the
reader had thrown away the bytes it read past the line it returned, so its next call started inside a line. Every
test bounds its own time and stops the hub it started.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time

import pytest

from handsethub import hostile
from handsethub.pytest_plugin import find_hubd, start_hub

TOKEN = "stream-integrity-token"
SMALL_RECEIVE_BUFFER = 4096


def small_window_stream(address: str, timeout: float = 5.0) -> socket.socket:
    """A stream socket whose receive buffer is set small before connecting, so the window stays small."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address[len("unix:"):]
    else:
        host, _, port = address[len("tcp:"):].rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host.strip("[]"), int(port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RECEIVE_BUFFER)
    sock.settimeout(timeout)
    sock.connect(target)
    return sock


def token_config() -> str:
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=30).stdout
    return re.sub(r"(?m)^hub:\n", f"hub:\n  controlToken: {TOKEN}\n", text, count=1)


def test_the_campaign_reader_keeps_what_it_read_past_its_lines():
    # No hub: the peer's second line arrives in two pieces, the first piece together with the first line.
    reader, peer = socket.socketpair()
    try:
        peer.sendall(b'{"jsonrpc":"2.0","id":1,"result":{}}\n{"jsonrpc":"2.0')
        assert hostile.read_lines(reader, 1, 2) == [{"jsonrpc": "2.0", "id": 1, "result": {}}]
        peer.sendall(b'","id":99,"result":{}}\n')
        assert hostile.read_lines(reader, 1, 2) == [{"jsonrpc": "2.0", "id": 99, "result": {}}]
        # Several lines in one piece are handed out across calls, none lost.
        peer.sendall(b'{"id":2}\n{"id":3}\n{"id":4}\n')
        assert hostile.read_lines(reader, 2, 2) == [{"id": 2}, {"id": 3}]
        assert hostile.read_lines(reader, 1, 2) == [{"id": 4}]
    finally:
        reader.close()
        peer.close()


def test_wrong_tokens_read_through_a_small_window_are_whole_lines(tmp_path, monkeypatch):
    """The campaign's wrong-token attack, with the attacker's window small enough that every batch of answers
    arrives in pieces ending mid-line (what a quiet machine does when the attacker falls behind)."""
    hub = start_hub(tmp_path / "hub", token_config())
    try:
        tcp = hub.address("tcp")
        target = hostile.Target(pid=hub.process.pid, control_unix=hub.address("unix"), control_tcp=tcp,
                                guest_unix="", guest_tcp="", token=TOKEN)
        monkeypatch.setattr(hostile, "open_stream", small_window_stream)
        facts = hostile.attack_wrong_tokens(target, connections=5)
        assert facts["refused"] > 0, facts
        assert hub.process.poll() is None, hub.log()
    finally:
        hub.stop()


def read_slowly(sock: socket.socket, want_answers: int, seconds: float) -> bytes:
    """Reads until ``want_answers`` answers arrived (the first 16 KiB a byte at a time, then small chunks with
    pauses, so the hub's writes keep meeting a full window), then what follows until the hub is quiet."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    stream = bytearray()
    answers = 0
    counted = 0  # bytes of `stream` whose complete lines were counted
    while answers < want_answers and time.monotonic() < deadline:
        size = 1 if len(stream) < 16384 else 1500
        chunk = sock.recv(size)
        if not chunk:
            break
        stream += chunk
        end = stream.rfind(b"\n") + 1
        if end > counted:
            lines = bytes(stream[counted:end]).split(b"\n")
            answers += sum(1 for line in lines if line.startswith(b'{"jsonrpc":"2.0","id"'))
            counted = end
        if size > 1 and len(stream) % 7 == 0:
            time.sleep(0.001)
    # Every request is answered, so every event was published: take the rest until the hub has been quiet a while.
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        stream += chunk
    return bytes(stream)


@pytest.mark.parametrize("scheme", ["unix", "tcp"])
def test_pipelined_answers_and_events_to_a_slow_reader_arrive_whole_and_in_order(tmp_path, scheme):
    hub = start_hub(tmp_path / "hub")
    try:
        sock = small_window_stream(hub.address(scheme), timeout=10)
        greeting = b""
        while not greeting.endswith(b"\n"):
            greeting += sock.recv(1)
        assert json.loads(greeting)["method"] == "hub.hello"
        # This client subscribes to the interrupts it raises itself: each pass writes answers and events together.
        sock.sendall(b'{"jsonrpc":"2.0","id":0,"method":"events.subscribe","params":{"filter":{"kinds":["irq.*"]}}}\n')
        requests = 1200
        lines = []
        for number in range(1, requests + 1):
            if number % 3 == 0:
                lines.append(b'{"jsonrpc":"2.0","id":%d,"method":"irq.raise","params":{"partition":"rtos",'
                             b'"line":%d,"as":"stream-test"}}\n' % (number, number % 32))
            else:
                lines.append(b'{"jsonrpc":"2.0","id":%d,"method":"hub.info"}\n' % number)
        writer = threading.Thread(target=sock.sendall, args=(b"".join(lines),), daemon=True)
        writer.start()
        stream = read_slowly(sock, requests + 1, 60)
        writer.join(timeout=10)
        sock.close()
        assert stream.endswith(b"\n"), stream[-200:]
        answer_ids = []
        event_seqs = []
        for raw in stream.split(b"\n")[:-1]:
            message = json.loads(raw)  # every line whole: a missing head or tail does not parse
            assert message.get("jsonrpc") == "2.0", message
            if "id" in message:
                assert "result" in message, message
                answer_ids.append(message["id"])
            elif message["method"] == "event":
                assert message["params"]["kind"].startswith("irq."), message
                event_seqs.append(message["params"]["seq"])
            else:
                # A subscriber that falls behind is told what it missed (§5.4), never sent half an event.
                assert message["method"] == "events.missed", message
        assert answer_ids == list(range(requests + 1))
        assert event_seqs == sorted(set(event_seqs)) and event_seqs, event_seqs[:20]
        assert hub.process.poll() is None, hub.log()
    finally:
        hub.stop()


def small_watermark_config() -> str:
    """The reference handset with a 4 KiB write high watermark (1 KiB low): one pass's answers or events exceed it."""
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True, text=True,
                          timeout=30).stdout
    text = re.sub(r"writeHighWatermarkBytes: \S+", "writeHighWatermarkBytes: 4096", text)
    return re.sub(r"writeLowWatermarkBytes: \S+", "writeLowWatermarkBytes: 1024", text)


def test_answers_and_events_over_the_high_watermark_all_arrive_at_a_reading_client(tmp_path):
    """§2.7: unsent bytes over writeHighWatermarkBytes hold a client back until they drain, and events wait in the
    outbox until there is room. A pass's write goes to the kernel at once; when the kernel takes all of it nothing
    is left queued to say the queue drained, so the hub must carry on by itself: a large answer must not hold its
    client back for good, and a burst of events larger than the watermark must reach a subscriber that reads
    without waiting for the next event."""
    hub = start_hub(tmp_path, small_watermark_config())
    try:
        client = hub.connect()
        assert len(json.dumps(client.call("hub.limits"))) > 4096  # one answer over the high watermark
        assert client.info()["server"] == "hubd"  # ...and the client is served after it
        subscriber = hub.connect()
        subscriber.subscribe(kinds=["irq.raised"])
        count = 300
        # Pipelined in one write, so the raises (and their events) come in as few passes as the hub takes.
        raw = hub.connect()
        raw.send_raw(b"".join(
            json.dumps({"jsonrpc": "2.0", "id": n, "method": "irq.raise",
                        "params": {"partition": "linux", "line": n % 32, "as": "flood"}}).encode() + b"\n"
            for n in range(count)))
        answered = 0
        deadline = time.monotonic() + 20
        while answered < count and time.monotonic() < deadline:
            if raw.read_message(timeout=5.0) is not None:
                answered += 1
        assert answered == count
        # No event is published after the burst: every one must arrive on its own.
        received = [item for item in subscriber.events(timeout=3.0)]
        assert len(received) == count and all(item.kind == "irq.raised" for item in received), received[-3:]
    finally:
        hub.stop()
