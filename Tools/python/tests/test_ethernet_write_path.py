"""The stream ports' write path against hostile receivers (Protocols/ethernet.md §3, §4.5, §8): frames sent one
per write (as QEMU does) reach a receiver that reads a byte at a time, pauses, or is killed mid-stream, each
frame whole and in order, none twice; what does not reach it is counted (`queueFull`, `linkDown`), so every frame
the sender handed in is accounted for. The hub writes to the socket directly while it has room and queues the
rest, so partial writes and EAGAIN are exercised here with a small high watermark.

Every test bounds its own time and stops its hub.
"""

import socket
import struct
import threading
import time

import pytest

PARTITIONS = """partitions:
  - {name: linux, class: fair-share, priority: 8, memoryBytes: 64MiB, secret: linux-dev-secret}
"""
SENDER_MAC = bytes.fromhex("020000000a01")
RECEIVER_MAC = bytes.fromhex("020000000a02")


def config(kind, directory):
    listen = (lambda name: "tcp:127.0.0.1:0") if kind == "tcp" else (lambda name: f"unix:{directory}/{name}.sock")
    return f"""
platform: {{name: ethernet-write-path}}
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
  limits:
    ethernetStreamHighWatermarkBytes: 4096
{PARTITIONS}devices:
  ethernet:
    - name: lan0
      ports:
        - {{name: s, stream: "{listen('s')}"}}
        - {{name: r, stream: "{listen('r')}", queueFrames: 64}}
"""


# One way to reach lan0's stream ports for every Ethernet e2e file (test_ethernet_hostile.py too).
from test_ethernet_hostile import connect_peer as connect  # noqa: E402
from test_ethernet_hostile import ports  # noqa: E402,F401


def frame(index):
    """Frame `index` to the receiver: 60 to 1514 bytes, numbered, every byte derived from the number."""
    length = 60 + (index * 397) % 1455
    body = bytes((index * 7 + k) & 0xFF for k in range(length - 18))
    return RECEIVER_MAC + SENDER_MAC + bytes.fromhex("88b5") + struct.pack(">I", index) + body


def announce(peer, mac):
    hello = b"\xff" * 6 + mac + bytes.fromhex("88b6") + b"\x00" * 46
    peer.sendall(struct.pack(">I", len(hello)) + hello)


class Reader(threading.Thread):
    """Reads the receiver's stream: a byte per recv for the first `slow_bytes`, then in chunks with pauses;
    parses frames and keeps their numbers."""

    def __init__(self, peer, slow_bytes, pause_every=0, pause=0.0):
        super().__init__(daemon=True)
        self.peer, self.slow_bytes, self.pause_every, self.pause = peer, slow_bytes, pause_every, pause
        self.numbers, self.garbled, self.stop = [], [], False
        self.hellos = 0
        self.total = 0

    def run(self):
        buffer = bytearray()
        next_pause = self.pause_every
        self.peer.settimeout(0.2)
        while not self.stop:
            try:
                chunk = self.peer.recv(1 if self.total < self.slow_bytes else 65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            self.total += len(chunk)
            buffer += chunk
            while len(buffer) >= 4:
                length = struct.unpack(">I", buffer[:4])[0]
                if len(buffer) < 4 + length:
                    break
                got = bytes(buffer[4:4 + length])
                del buffer[:4 + length]
                if got == b"\xff" * 6 + SENDER_MAC + bytes.fromhex("88b6") + b"\x00" * 46:
                    self.hellos += 1  # the sender's hello, flooded to every port
                    continue
                number = struct.unpack(">I", got[14:18])[0]
                if got != frame(number):
                    self.garbled.append(number)
                self.numbers.append(number)
            if self.pause_every and self.total >= next_pause:
                next_pause += self.pause_every
                time.sleep(self.pause)


def counters(client, name):
    return ports(client)[name]["counters"]


def send_frames(peer, numbers):
    """One frame per write, as QEMU sends them."""
    for index in numbers:
        data = frame(index)
        peer.sendall(struct.pack(">I", len(data)) + data)


def reset_and_wait_gone(client, peer, name):
    """Kills `peer` with a reset (not a clean close) and waits until the hub has let go of port `name`."""
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()
    deadline = time.monotonic() + 10
    while ports(client)[name]["connected"]:
        assert time.monotonic() < deadline, f"the dead peer still holds port {name}"
        time.sleep(0.02)


def wait_received(reader, count, client, name):
    deadline = time.monotonic() + 20
    while len(reader.numbers) < count:
        assert time.monotonic() < deadline, f"received {len(reader.numbers)} of {count}: {counters(client, name)}"
        time.sleep(0.02)


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_a_slow_receiver_gets_every_frame_it_is_sent_whole_and_in_order_and_the_rest_is_counted(tmp_path, kind):
    from handsethub.pytest_plugin import start_hub

    total = 6000
    hub = start_hub(tmp_path, config(kind, tmp_path))
    client = hub.connect()
    sender = receiver = None
    try:
        receiver = connect(client, "r")
        sender = connect(client, "s")
        announce(receiver, RECEIVER_MAC)
        announce(sender, SENDER_MAC)
        reader = Reader(receiver, slow_bytes=150_000, pause_every=400_000, pause=0.1)
        reader.start()
        time.sleep(0.2)
        send_frames(sender, range(total))
        deadline = time.monotonic() + 60
        while True:
            state = counters(client, "r")
            # The sender's hello was flooded to the receiver too: total + 1 frames were sent its way.
            if (state["txFrames"] + state["drops"]["queueFull"] >= total + 1
                    and len(reader.numbers) + reader.hellos >= state["txFrames"]):
                break
            assert time.monotonic() < deadline, f"stuck: {state}, received {len(reader.numbers)}"
            time.sleep(0.05)
        time.sleep(0.2)
        reader.stop = True
        reader.join(5)
        state = counters(client, "r")
        assert counters(client, "s")["rxFrames"] == total + 1  # and the hello
        assert reader.garbled == [], "frames arrived with bytes of other frames"
        assert reader.numbers == sorted(set(reader.numbers)), "a frame was reordered or doubled"
        # Every frame is accounted for: handed to the receiver's socket (and read), or tail-dropped as counted.
        assert reader.hellos == 1
        assert len(reader.numbers) + reader.hellos == state["txFrames"]
        assert state["txFrames"] + state["drops"]["queueFull"] == total + 1
        assert sum(state["drops"].values()) == state["drops"]["queueFull"]
    finally:
        for peer in (sender, receiver):
            if peer is not None:
                peer.close()
        client.close()
        hub.stop()


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_a_receiver_killed_mid_stream_frees_its_port_and_the_next_receiver_gets_whole_frames(tmp_path, kind):
    from handsethub.pytest_plugin import start_hub

    hub = start_hub(tmp_path, config(kind, tmp_path))
    client = hub.connect()
    sender = receiver = second = None
    try:
        receiver = connect(client, "r")
        sender = connect(client, "s")
        announce(receiver, RECEIVER_MAC)
        time.sleep(0.1)
        # The receiver never reads: the socket fills, the hub queues, then the receiver dies with bytes in flight.
        send_frames(sender, range(600))
        reset_and_wait_gone(client, receiver, "r")
        receiver = None
        assert client.call("hub.info")
        second = connect(client, "r")
        announce(second, RECEIVER_MAC)
        time.sleep(0.1)
        # The dead peer's port was judged stalled (it never read); the new peer is not: the sender is slowed for
        # it again rather than its frames tail-dropped (ethernet.md §4.6).
        dropped_before = counters(client, "r")["drops"]["queueFull"]
        reader = Reader(second, slow_bytes=5_000)
        reader.start()
        send_frames(sender, range(1000, 1300))
        wait_received(reader, 300, client, "r")
        reader.stop = True
        reader.join(5)
        # Nothing of the dead peer's stream leaks into the new one: only the new frames, whole, in order.
        assert reader.garbled == []
        assert reader.numbers == list(range(1000, 1300))
        assert counters(client, "r")["drops"]["queueFull"] == dropped_before
        assert ports(client)["s"]["connected"], "the sender was not hurt by the receiver's death"
    finally:
        for peer in (sender, receiver, second):
            if peer is not None:
                peer.close()
        client.close()
        hub.stop()


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_a_sender_killed_mid_frame_loses_only_that_frame_and_the_next_sender_starts_clean(tmp_path, kind):
    """The read side: whole frames are switched straight from the read buffer and only a frame cut by the end of a
    read is kept, so a sender that dies in the middle of one (reset, not a clean close) leaves nothing behind: its
    earlier frames arrive whole, the cut one never does, and the next sender's frames are not glued to it."""
    from handsethub.pytest_plugin import start_hub

    hub = start_hub(tmp_path, config(kind, tmp_path))
    client = hub.connect()
    sender = receiver = second = None
    try:
        receiver = connect(client, "r")
        announce(receiver, RECEIVER_MAC)
        reader = Reader(receiver, slow_bytes=0)
        reader.start()
        sender = connect(client, "s")
        stream = b"".join(struct.pack(">I", len(frame(i))) + frame(i) for i in range(40))
        cut = stream + struct.pack(">I", len(frame(40))) + frame(40)[:37]
        for offset in range(0, len(cut), 777):  # odd-sized writes: frames straddle the hub's reads
            sender.sendall(cut[offset:offset + 777])
            time.sleep(0.001)
        time.sleep(0.2)
        reset_and_wait_gone(client, sender, "s")
        sender = None
        second = connect(client, "s")
        send_frames(second, range(100, 140))
        wait_received(reader, 80, client, "r")
        time.sleep(0.1)
        reader.stop = True
        reader.join(5)
        assert reader.garbled == []
        assert reader.numbers == list(range(40)) + list(range(100, 140))
        assert counters(client, "s")["drops"]["malformed"] == 0
    finally:
        for peer in (sender, receiver, second):
            if peer is not None:
                peer.close()
        client.close()
        hub.stop()
