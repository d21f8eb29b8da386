"""Tight end to end (`Protocols/framebuffer.md` §2.6): TigerVNC's viewer, asking for Tight first, shows the
screen fb.screenshot shows — exactly with JPEG off, within JPEG's tolerance with it on. The same for ZRLE
(§2.4), whose rectangles are deflate blocks spliced into the viewer's one zlib stream: exactly.

The viewer runs on a private Xvfb display with no window manager, its window at the display's origin and
the framebuffer's size, and the display is read back with Pillow (XGetImage through XCB)."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from handsethub.guest import FramebufferChannel, GuestClient, bgrx

pytest.importorskip("PIL")
from PIL import Image, ImageGrab  # noqa: E402

from test_framebuffer_rfb import reference_without_heartbeats, rfb_port, sync  # noqa: E402

WIDTH, HEIGHT = 480, 800
XVFB = shutil.which("Xvfb")
VIEWER = shutil.which("xtigervncviewer") or shutil.which("vncviewer")
pytestmark = pytest.mark.skipif(not XVFB or not VIEWER,
                                reason="Xvfb and TigerVNC's viewer are needed (apt install xvfb tigervnc-viewer)")


def draw(fb: FramebufferChannel) -> None:
    """Flat areas (fill), stripes of two and four colours (palette) and a photo-like gradient (JPEG, or the
    copy filter without JPEG): every kind of Tight rectangle the hub sends."""
    fb.fill(0, 0, WIDTH, HEIGHT, 0x204060)
    for x in range(0, WIDTH, 6):
        fb.fill(x, 150, 3, 100, 0xFFFFFF)
    colours = (0xCC3300, 0x00AA55, 0xFFCC00, 0x3333FF)
    for index, x in enumerate(range(0, WIDTH, 20)):
        fb.fill(x, 300, 20, 80, colours[index % 4])
    pixels = bytearray()
    for y in range(300):
        for x in range(WIDTH):
            pixels += bgrx(((x + y) % 256) << 16 | (y * 255 // 300) << 8 | (x * 255 // WIDTH))
    fb.put(0, 450, WIDTH, 300, bytes(pixels))


def screenshot(hub) -> bytes:
    shot = hub.call("fb.screenshot")
    return Image.open(io.BytesIO(base64.b64decode(shot["png"]))).convert("RGB").tobytes()


class Display:
    def __init__(self, directory: Path):
        self.display = f":{150 + os.getpid() % 100}"
        self.log = open(directory / "tight-viewer.log", "wb")
        self.processes = [subprocess.Popen([XVFB, self.display, "-screen", "0", "640x960x24", "-nolisten", "tcp"],
                                           stdout=self.log, stderr=self.log)]
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists():
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)

    def viewer(self, port: int, options: list[str]) -> None:
        self.processes.append(subprocess.Popen(
            [VIEWER, "-Shared=1", "-SecurityTypes=None", "-AutoSelect=0", "-CompressLevel=2", "-geometry", f"{WIDTH}x{HEIGHT}+0+0", *options, f"127.0.0.1::{port}"],
            env=dict(os.environ, DISPLAY=self.display), stdout=self.log, stderr=self.log))

    def grab(self, expected: bytes) -> bytes:
        """The viewer's picture: where the window's content starts depends on the viewer's own borders and
        toolbar, so the offset is found by matching sample points of the expected screen."""
        image = ImageGrab.grab(xdisplay=self.display).convert("RGB")
        samples = [(x, y) for y in (160, 200, 340, 470, 600, 740) for x in range(1, WIDTH, 13)]

        def cost(dx: int, dy: int) -> int:
            total = 0
            for x, y in samples:
                got = image.getpixel((x + dx, y + dy))
                want = expected[(y * WIDTH + x) * 3:(y * WIDTH + x) * 3 + 3]
                total += sum(abs(a - b) for a, b in zip(got, want))
            return total

        dx, dy = min(((dx, dy) for dy in range(0, 60) for dx in range(0, 8)), key=lambda d: cost(*d))
        return image.crop((dx, dy, dx + WIDTH, dy + HEIGHT)).tobytes()

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


def differences(got: bytes, expected: bytes) -> tuple[int, float]:
    """Largest channel difference and mean channel difference."""
    if len(got) != len(expected):
        return 255, 255.0
    total = 0
    worst = 0
    for a, b in zip(got, expected):
        delta = abs(a - b)
        total += delta
        worst = max(worst, delta)
    return worst, total / len(expected)


def expect_viewer_shows(display: Display, expected: bytes, jpeg: bool, prefix: Path, deadline: float) -> None:
    figures = (255, 255.0)
    while time.monotonic() < deadline:
        figures = differences(display.grab(expected), expected)
        # Lossless: the same bytes. JPEG at TigerVNC's default quality (8: JPEG quality 92, no subsampling):
        # close on average, and nowhere far off (flat and few-colour bands are lossless either way).
        if figures == (0, 0.0) or (jpeg and figures[0] <= 48 and figures[1] < 1.5):
            break
        time.sleep(0.3)
    if figures != (0, 0.0):
        Image.frombytes("RGB", (WIDTH, HEIGHT), display.grab(expected)).save(f"{prefix}-viewer.png")
        Image.frombytes("RGB", (WIDTH, HEIGHT), expected).save(f"{prefix}-expected.png")
    if jpeg:
        assert figures[0] <= 48 and figures[1] < 1.5, f"{prefix.name}: largest, mean channel difference {figures}"
    else:
        assert figures == (0, 0.0), f"{prefix.name}: largest, mean channel difference {figures}"


@pytest.mark.parametrize("encoding", ["tight", "tight-jpeg", "zrle"])
def test_tigervnc_asking_for_tight_shows_the_screen(hubd, tmp_path, encoding):
    jpeg = encoding == "tight-jpeg"
    hub = hubd(config=reference_without_heartbeats())
    guest = GuestClient.connect(next(a for a in hub.hub.guest if a.startswith("unix:")), "rtos", "rtos-dev-secret")
    display = Display(tmp_path)
    try:
        fb = FramebufferChannel(guest)
        fb.preempt()
        draw(fb)
        sync(fb, 1)
        options = {"tight": ["-PreferredEncoding=Tight", "-NoJPEG=1"],
                   "tight-jpeg": ["-PreferredEncoding=Tight", "-QualityLevel=8", "-NoJPEG=0"],
                   "zrle": ["-PreferredEncoding=ZRLE", "-NoJPEG=1"]}[encoding]
        display.viewer(rfb_port(hub), options)
        deadline = time.monotonic() + 60
        viewers = []
        while time.monotonic() < deadline and not any(v["updates"] > 0 for v in viewers):
            time.sleep(0.1)
            viewers = hub.call("fb.info")["viewers"]
        assert [v["encoding"] for v in viewers] == [encoding], viewers
        # The whole screen first, then changes the viewer receives as later rectangles of its stream.
        for step in range(3):
            if step:
                fb.fill(40 * step, 60 * step, 120, 90, 0xFF00FF * step & 0xFFFFFF)
                fb.put(300, 500 + 40 * step, 64, 32,
                       b"".join(bgrx((x * 4 + step * 50) % 256 << 16 | (y * 8) << 8 | 0x40)
                                for y in range(32) for x in range(64)))
                sync(fb, 1 + step)
            expect_viewer_shows(display, screenshot(hub), jpeg, tmp_path / f"step{step}", deadline)
    finally:
        display.close()
        guest.close()
