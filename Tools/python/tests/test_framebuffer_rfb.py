"""Framebuffer end to end (`Protocols/framebuffer.md`): guests draw, real VNC clients look and type.

vncdotool (PyPI) captures the screen and types keys; TigerVNC's viewer under Xvfb is a second real
client connected at the same time. Hostile RFB input is sent from raw sockets.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from handsethub.guest import FramebufferChannel, GuestClient, bgrx
from handsethub.pytest_plugin import find_hubd

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

VNCDO = shutil.which("vncdo")
pytestmark = pytest.mark.skipif(VNCDO is None, reason="vncdotool is not installed (pip install vncdotool)")

WIDTH, HEIGHT, BAR = 480, 800, 40


def guest_endpoint(hub) -> str:
    return next(a for a in hub.hub.guest if a.startswith("unix:"))


def rfb_port(hub) -> int:
    return int(hub.call("fb.info")["rfbEndpoints"][0].rsplit(":", 1)[1])


def draw_linux(fb: FramebufferChannel) -> list[list[int]]:
    expected = [[0] * WIDTH for _ in range(HEIGHT)]
    colours = [0x336699, 0xCC3300, 0x00AA55, 0xFFFFFF]
    band = (HEIGHT - BAR) // len(colours)
    for index, colour in enumerate(colours):
        top = BAR + index * band
        height = band if index < len(colours) - 1 else HEIGHT - top
        fb.fill(0, top, WIDTH, height, colour)
        for y in range(top, top + height):
            expected[y] = [colour] * WIDTH
    # A 64x64 gradient block sent as raw pixels, once zlib-compressed.
    pixels = bytearray()
    for y in range(64):
        for x in range(64):
            rgb = (x * 4) << 16 | (y * 4) << 8 | ((x + y) * 2)
            pixels += bgrx(rgb)
            expected[100 + y][200 + x] = rgb
    fb.put(200, 100, 64, 64, bytes(pixels), compress=True)
    # A copy within the app region (CopyRect on the screen).
    fb.copy(200, 100, 300, 400, 64, 64)
    for y in range(64):
        expected[400 + y][300:364] = expected[100 + y][200:264]
    return expected


def draw_rtos_bar(fb: FramebufferChannel, expected: list[list[int]]) -> None:
    fb.fill(0, 0, WIDTH, BAR, 0x101010)
    fb.fill(8, 8, 24, 24, 0x00FF00)  # "signal"
    for y in range(BAR):
        expected[y] = [0x101010] * WIDTH
    for y in range(8, 32):
        expected[y][8:32] = [0x00FF00] * 24


def sync(fb: FramebufferChannel, number: int) -> None:
    fb.frame(number)
    event = fb.next_event(kind="frame_done", timeout=5)
    assert event == {"event": "frame_done", "frame": number}


def capture(port: int, path: Path) -> Image.Image:
    subprocess.run([VNCDO, "-s", f"127.0.0.1::{port}", "capture", str(path)], check=True, timeout=30,
                   capture_output=True)
    return Image.open(path).convert("RGB")


def assert_screen(image: Image.Image, expected: list[list[int]]) -> None:
    assert image.size == (WIDTH, HEIGHT)
    data = image.load()
    mismatches = []
    for y in range(HEIGHT):
        row = expected[y]
        for x in range(WIDTH):
            r, g, b = data[x, y]
            if (r << 16 | g << 8 | b) != row[x]:
                mismatches.append((x, y, f"{r:02x}{g:02x}{b:02x}", f"{row[x]:06x}"))
    assert not mismatches, f"{len(mismatches)} pixels differ, first: {mismatches[:5]}"


def type_key(port: int, key: str) -> None:
    subprocess.run([VNCDO, "-s", f"127.0.0.1::{port}", "key", key], check=True, timeout=30, capture_output=True)


def key_events(fb: FramebufferChannel) -> list[tuple[str, bool]]:
    events = []
    for _ in range(2):
        event = fb.next_event(kind="key", timeout=5)
        assert event is not None, "no key event arrived"
        events.append((event["key"], event["down"]))
    return events


class TigerViewer:
    """xtigervncviewer on a private Xvfb display, as a second, independent RFB client."""

    def __init__(self, port: int, directory: Path):
        self.processes: list[subprocess.Popen] = []
        xvfb = shutil.which("Xvfb")
        viewer = shutil.which("xtigervncviewer") or shutil.which("vncviewer")
        if not xvfb or not viewer:
            pytest.skip("Xvfb and TigerVNC's viewer are needed (apt install xvfb tigervnc-viewer)")
        display = f":{90 + os.getpid() % 100}"
        log = open(directory / "tiger.log", "wb")
        self.processes.append(subprocess.Popen([xvfb, display, "-screen", "0", "800x900x24", "-nolisten", "tcp"],
                                               stdout=log, stderr=log))
        time.sleep(0.5)
        env = dict(os.environ, DISPLAY=display)
        self.processes.append(subprocess.Popen([viewer, "-Shared=1", "-SecurityTypes=None", f"127.0.0.1::{port}"],
                                               env=env, stdout=log, stderr=log))

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def reference_without_heartbeats() -> str:
    """The reference handset without the RTOS's heartbeat: this test's guests send no HEARTBEAT, and between
    their frames it starts viewers and vncdotool, which on a loaded machine (pytest -n 2) takes longer than the
    3 x heartbeatMs of silence after which the hub closes a session (Protocols/guest.md §5.4, WELCOME)."""
    text = subprocess.run([str(find_hubd()), "--print-default-config"], capture_output=True, text=True,
                          check=True, timeout=10).stdout
    assert "heartbeatMs:" in text
    return re.sub(r"\n *heartbeatMs: \d+", "", text)


def test_vnc_clients_see_guests_and_type_to_focus_with_preemption(hubd, tmp_path):
    hub = hubd(config=reference_without_heartbeats())
    port = rfb_port(hub)
    endpoint = guest_endpoint(hub)
    linux = GuestClient.connect(endpoint, "linux", "linux-dev-secret")
    rtos = GuestClient.connect(endpoint, "rtos", "rtos-dev-secret")
    tiger = None
    try:
        linux_fb = FramebufferChannel(linux)
        rtos_fb = FramebufferChannel(rtos)
        assert linux_fb.focused and not rtos_fb.focused
        assert rtos_fb.may_preempt and not linux_fb.may_preempt
        expected = draw_linux(linux_fb)
        draw_rtos_bar(rtos_fb, expected)
        sync(linux_fb, 1)
        sync(rtos_fb, 1)

        tiger = TigerViewer(port, tmp_path)
        assert wait_for(lambda: any(v["updates"] > 0 for v in hub.call("fb.info")["viewers"])), \
            "TigerVNC viewer never received an update"

        assert_screen(capture(port, tmp_path / "before.png"), expected)
        assert len(hub.call("fb.info")["viewers"]) == 1, "TigerVNC viewer should still be connected"

        # A key typed through vncdotool reaches the focused guest (linux).
        type_key(port, "5")
        assert key_events(linux_fb) == [("5", True), ("5", False)]

        # The RTOS takes the screen (an incoming call): its full-screen surface and the keys go to it.
        rtos_fb.preempt()
        assert rtos_fb.next_event(kind="focus", timeout=5) == {"event": "focus", "focused": True}
        assert linux_fb.next_event(kind="focus", timeout=5) == {"event": "focus", "focused": False}
        rtos_fb.fill(0, 0, WIDTH, HEIGHT, 0x800000)
        rtos_fb.fill(140, 300, 200, 200, 0x00C000)  # the "answer" button
        sync(rtos_fb, 2)
        call_screen = [[0x800000] * WIDTH for _ in range(HEIGHT)]
        for y in range(300, 500):
            call_screen[y][140:340] = [0x00C000] * 200
        assert_screen(capture(port, tmp_path / "call.png"), call_screen)
        assert hub.call("fb.focus") == {"focus": "rtos", "preemptedBy": "rtos"}
        type_key(port, "5")
        assert key_events(rtos_fb) == [("5", True), ("5", False)]
        # Linux drawing during the call stays hidden (it is not refused).
        linux_fb.fill(0, 40, 10, 10, 0x336699)

        # Release: focus and picture return.
        rtos_fb.release()
        assert linux_fb.next_event(kind="focus", timeout=5) == {"event": "focus", "focused": True}
        sync(rtos_fb, 3)
        assert_screen(capture(port, tmp_path / "after.png"), expected)
        type_key(port, "5")
        assert key_events(linux_fb) == [("5", True), ("5", False)]
        kinds = [e["kind"] for e in hub.call("events.recent", {"filter": {"kinds": ["fb.*"]}})["events"]]
        assert "fb.preempted" in kinds and "fb.released" in kinds and "fb.focus" in kinds
    finally:
        if tiger:
            tiger.close()
        linux.close()
        rtos.close()


def rfb_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert sock.recv(12) == b"RFB 003.008\n"
    sock.sendall(b"RFB 003.008\n")
    return sock


def recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def rfb_init(port: int) -> socket.socket:
    sock = rfb_connect(port)
    assert recv_exact(sock, 2) == b"\x01\x01"
    sock.sendall(b"\x01")
    assert recv_exact(sock, 4) == b"\x00\x00\x00\x00"
    sock.sendall(b"\x01")
    width, height = struct.unpack(">HH", recv_exact(sock, 4))
    assert (width, height) == (WIDTH, HEIGHT)
    recv_exact(sock, 16)
    (name_length,) = struct.unpack(">I", recv_exact(sock, 4))
    recv_exact(sock, name_length)
    return sock


def assert_closed(sock: socket.socket) -> None:
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass


def test_hostile_viewers_are_refused_and_others_keep_their_picture(hubd):
    hub = hubd()
    port = rfb_port(hub)
    linux = GuestClient.connect(guest_endpoint(hub), "linux", "linux-dev-secret")
    try:
        fb = FramebufferChannel(linux)
        fb.fill(0, 40, WIDTH, 760, 0x123456)
        sync(fb, 1)
        good = rfb_init(port)

        # A security type that was not offered: SecurityResult failed with a reason.
        bad = rfb_connect(port)
        recv_exact(bad, 2)
        bad.sendall(b"\x02")
        status, length = struct.unpack(">II", recv_exact(bad, 8))
        assert status == 1 and b"security type 2" in recv_exact(bad, length)
        assert_closed(bad)

        # A 4 GiB cut-text announcement: closed without waiting for (or allocating) the text.
        big = rfb_init(port)
        big.sendall(struct.pack(">B3xI", 6, 0xFFFFFFFF))
        assert_closed(big)
        # A malformed pixel format (bits-per-pixel 24) and an unknown message type.
        for payload in (struct.pack(">B3xBBBBHHHBBB3x", 0, 24, 24, 0, 1, 255, 255, 255, 16, 8, 0), b"\x63"):
            sock = rfb_init(port)
            sock.sendall(payload)
            assert_closed(sock)
        # Unknown encodings are ignored, not fatal.
        good.sendall(struct.pack(">BxHiii", 2, 3, 12345, -1000, 0))

        # A guest rectangle outside its region and outside the surface: guest errors, nothing drawn.
        fb.fill(0, 0, 10, 10, 0xFF0000)
        assert fb.next_event(kind="error")["code"] == 5
        fb.fill(470, 790, 20, 20, 0xFF0000)
        assert fb.next_event(kind="error")["code"] == 15

        # The well-behaved viewer still gets its full picture.
        good.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, WIDTH, HEIGHT))
        message, count = struct.unpack(">BxH", recv_exact(good, 4))
        assert message == 0 and count == 1
        x, y, w, h, encoding = struct.unpack(">HHHHi", recv_exact(good, 12))
        assert (x, y, w, h, encoding) == (0, 0, WIDTH, HEIGHT, 0)
        pixels = recv_exact(good, WIDTH * HEIGHT * 4)
        assert pixels[(100 * WIDTH + 5) * 4:(100 * WIDTH + 5) * 4 + 3] == bytes([0x56, 0x34, 0x12])
        assert pixels[0:3] == b"\x00\x00\x00"
        counters = hub.call("fb.info")["counters"]
        assert counters["viewerProtocolErrors"] >= 4 and counters["commandErrors"] == 2
        good.close()
    finally:
        linux.close()


def test_control_methods_screenshot_wait_and_input(hubd):
    import base64
    import io
    hub = hubd()
    linux = GuestClient.connect(guest_endpoint(hub), "linux", "linux-dev-secret")
    try:
        fb = FramebufferChannel(linux)
        region = {"x": 0, "y": 40, "width": 480, "height": 760}
        hub.call("fb.wait", {**region, "colour": "#000000", "timeoutMs": 1000})
        fb.fill(0, 40, WIDTH, 760, 0x0000FE)
        answer = hub.call("fb.wait", {**region, "colour": "#0000ff", "tolerance": 1, "timeoutMs": 5000})
        assert answer["matched"] is True
        shot = hub.call("fb.screenshot")
        image = Image.open(io.BytesIO(base64.b64decode(shot["png"]))).convert("RGB")
        assert image.size == (WIDTH, HEIGHT) and image.getpixel((3, 500)) == (0, 0, 0xFE)
        assert hub.call("fb.pixel", {"x": 3, "y": 5})["rgb"] == "#000000"
        rgb = base64.b64decode(hub.call("fb.region", {"x": 0, "y": 39, "width": 1, "height": 2})["rgb"])
        assert rgb == b"\x00\x00\x00\x00\x00\xfe"
        hub.call("fb.key", {"key": "call"})
        assert fb.next_event(kind="key") == {"event": "key", "down": True, "key": "call", "keysym": 0}
        hub.call("fb.touch", {"x": 10, "y": 100})
        assert fb.next_event(kind="touch") == {"event": "touch", "action": "down", "x": 10, "y": 100}
        with pytest.raises(Exception):
            hub.call("fb.setFocus", {"partition": "secure"})
    finally:
        linux.close()


def read_update(sock: socket.socket, bpp: int = 4) -> list[tuple[int, int, int, int, int]]:
    """One FramebufferUpdate decoded here (raw and pseudo-rectangles only): its rectangle headers."""
    message, count = struct.unpack(">BxH", recv_exact(sock, 4))
    assert message == 0
    rects = []
    for _ in range(count):
        x, y, w, h, encoding = struct.unpack(">HHHHi", recv_exact(sock, 12))
        if encoding == 0:
            recv_exact(sock, w * h * bpp)
        else:
            assert encoding == -223, f"unexpected encoding {encoding}"
        rects.append((x, y, w, h, encoding))
    return rects


def test_desktop_size_is_confirmed_to_viewers_that_announce_it(hubd):
    hub = hubd()
    port = rfb_port(hub)
    linux = GuestClient.connect(guest_endpoint(hub), "linux", "linux-dev-secret")
    try:
        fb = FramebufferChannel(linux)
        announcing, plain = rfb_init(port), rfb_init(port)
        announcing.sendall(struct.pack(">BxHii", 2, 2, 0, -223))
        plain.sendall(struct.pack(">BxHi", 2, 1, 0))
        for sock in (announcing, plain):
            sock.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, WIDTH, HEIGHT))  # incremental, nothing changed yet
        # Nothing changed, yet the announcing viewer gets its DesktopSize at once (RFC 6143 §7.8.2).
        assert read_update(announcing) == [(0, 0, WIDTH, HEIGHT, -223)]
        fb.fill(0, 40, 8, 8, 0x00FF00)
        sync(fb, 1)
        # Later updates carry only what changed; the plain viewer never gets the pseudo-rectangle.
        announcing.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, WIDTH, HEIGHT))
        assert read_update(announcing) == [(0, 40, 8, 8, 0)]
        assert read_update(plain) == [(0, 40, 8, 8, 0)]
        announcing.close()
        plain.close()
    finally:
        linux.close()
