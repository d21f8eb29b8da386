"""The Python framebuffer channel client against the shared vectors in Protocols/vectors/framebuffer/
(Protocols/framebuffer.md §3): the commands it sends are the vectors' bytes, the events it decodes are the
vectors' values. No hub: the channel's sending is captured."""

import os
import sys
import zlib

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(os.path.join(ROOT, "Package.swift")):
    ROOT = os.path.dirname(ROOT)
sys.path.insert(0, os.path.join(ROOT, "Tools", "python"))

from handsethub import vectors  # noqa: E402
from handsethub.guest import FramebufferChannel  # noqa: E402

CHANNEL = vectors.by_name("framebuffer/channel.vectors")


def load_hex(name):
    return CHANNEL[name].bytes()


class Captured(FramebufferChannel):
    """A channel whose CHANNEL_DATA payloads are kept instead of sent."""

    def __init__(self):  # no guest connection: nothing of FramebufferChannel.__init__ runs
        self.max_data = 1 << 20
        self.sent = []

    def _post(self, data):
        self.sent.append(data)


COMMANDS = {
    "guest-command-put": lambda c: c.put(1, 2, 1, 1, bytes([1, 2, 3, 0])),
    "guest-command-fill": lambda c: c.fill(1, 2, 3, 4, 0x123456),
    "guest-command-copy": lambda c: c.copy(5, 6, 7, 8, 9, 10),
    "guest-command-frame": lambda c: c.frame(42),
    "guest-command-preempt": lambda c: c.preempt(),
    "guest-command-release": lambda c: c.release(),
    "guest-command-flush": lambda c: c.flush(1, 2, 3, 4, (0, 40, 480, 760)),
}

EVENTS = {
    "hub-event-key": {"event": "key", "down": True, "key": "5", "keysym": 0x35},
    "hub-event-touch": {"event": "touch", "action": "move", "x": 300, "y": 2},
    "hub-event-frame-done": {"event": "frame_done", "frame": 42},
    "hub-event-focus": {"event": "focus", "focused": True},
    "hub-event-preemption": {"event": "preemption", "by": "rtos"},
    "hub-event-preemption-released": {"event": "preemption", "by": ""},
    "hub-event-surface": {"event": "surface", "width": 480, "height": 800, "stride": 1920, "size": 1536000},
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_client_sends_the_vector_bytes(name):
    channel = Captured()
    COMMANDS[name](channel)
    assert channel.sent == [load_hex(name)]


def test_compressed_put_vector_is_one_zlib_stream_of_its_pixels():
    data = load_hex("guest-command-put-zlib")
    assert data[:10] == bytes.fromhex("01 0000 0000 0002 0002 01")
    assert zlib.decompress(data[10:]) == bytes([0x10, 0x20, 0x30, 0]) * 4


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_client_decodes_the_vector_events(name):
    assert FramebufferChannel.decode_event(load_hex(name)) == EVENTS[name]
