"""A local guest draws through a shared-memory surface (memfd over SCM_RIGHTS) and a real VNC client
(vncdotool) sees exactly those pixels (Protocols/framebuffer.md §3.5); bad FLUSHes are refused with
guest-protocol ERROR frames on the channel."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from handsethub.guest import FramebufferChannel, GuestClient, bgrx

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

VNCDO = shutil.which("vncdo")
WIDTH, HEIGHT, BAR = 480, 800, 40


def endpoint(hub, scheme: str) -> str:
    return next(a for a in hub.hub.guest if a.startswith(scheme + ":"))


def sync(fb: FramebufferChannel, number: int) -> None:
    fb.frame(number)
    assert fb.next_event(kind="frame_done", timeout=5) == {"event": "frame_done", "frame": number}


def pattern(x: int, y: int) -> int:
    return ((x * 7) & 0xFF) << 16 | ((y * 3) & 0xFF) << 8 | ((x ^ y) & 0xFF)


@pytest.mark.skipif(VNCDO is None, reason="vncdotool is not installed (pip install vncdotool)")
def test_local_guest_draws_through_shared_memory_and_vnc_sees_it(hubd, tmp_path: Path):
    hub = hubd()
    port = int(hub.call("fb.info")["rfbEndpoints"][0].rsplit(":", 1)[1])
    linux = GuestClient.connect(endpoint(hub, "unix"), "linux", "linux-dev-secret")
    try:
        fb = FramebufferChannel(linux)
        surface = fb.map_surface()
        assert fb.stride == WIDTH * 4 and len(surface) == WIDTH * HEIGHT * 4

        # The whole app region through the mapping: a pattern no fill could make.
        rows = bytearray()
        for y in range(BAR, HEIGHT):
            rows += b"".join(bgrx(pattern(x, y)) for x in range(WIDTH))
        fb.draw(0, BAR, WIDTH, HEIGHT - BAR, bytes(rows))
        # Nothing shows before the flush.
        assert hub.call("fb.pixel", {"x": 10, "y": 100})["rgb"] == "#000000"
        fb.flush(0, BAR, WIDTH, HEIGHT - BAR)
        sync(fb, 1)
        assert hub.call("fb.pixel", {"x": 10, "y": 100})["rgb"] == f"#{pattern(10, 100):06x}"
        # fb.wait against a PNG written by Pillow (an independent encoder) of the expected pixels.
        expected = Image.new("RGB", (64, 32))
        expected.putdata([((pattern(x, y) >> 16) & 0xFF, (pattern(x, y) >> 8) & 0xFF, pattern(x, y) & 0xFF)
                          for y in range(BAR, BAR + 32) for x in range(64)])
        buffer = io.BytesIO()
        expected.save(buffer, "PNG")
        png = base64.b64encode(buffer.getvalue()).decode()
        area = {"x": 0, "y": BAR, "width": 64, "height": 32}
        assert hub.call("fb.wait", {**area, "png": png, "timeoutMs": 2000})["matched"] is True
        with pytest.raises(Exception, match="timeout|Timed out"):
            hub.call("fb.wait", {**area, "x": 1, "png": png, "timeoutMs": 100})
        with pytest.raises(Exception, match="png"):
            hub.call("fb.wait", {**area, "width": 63, "png": png, "timeoutMs": 100})

        # Small damage: two rectangles in one FLUSH, the rest of the mapping changed too but not named.
        fb.draw(100, 200, 8, 8, bgrx(0xFF00FF) * 64)
        fb.draw(300, 600, 4, 4, bgrx(0x00FFFF) * 16)
        fb.draw(0, 700, 4, 4, bgrx(0x123456) * 16)  # not flushed: stays unseen
        fb.flush(100, 200, 8, 8, (300, 600, 4, 4))
        sync(fb, 2)

        path = tmp_path / "shm.png"
        subprocess.run([VNCDO, "-s", f"127.0.0.1::{port}", "capture", str(path)], check=True, timeout=30,
                       capture_output=True)
        image = Image.open(path).convert("RGB")
        assert image.size == (WIDTH, HEIGHT)
        data = image.load()
        mismatches = []
        for y in range(HEIGHT):
            for x in range(WIDTH):
                if y < BAR:
                    want = 0
                elif 100 <= x < 108 and 200 <= y < 208:
                    want = 0xFF00FF
                elif 300 <= x < 304 and 600 <= y < 604:
                    want = 0x00FFFF
                else:
                    want = pattern(x, y)
                r, g, b = data[x, y]
                if (r << 16 | g << 8 | b) != want:
                    mismatches.append((x, y, f"{r:02x}{g:02x}{b:02x}", f"{want:06x}"))
        assert not mismatches, f"{len(mismatches)} pixels differ, first: {mismatches[:5]}"
        counters = hub.call("fb.info")["counters"]
        assert counters["surfacesMapped"] == 1 and counters["flushedRects"] == 3
    finally:
        linux.close()


def test_bad_flushes_are_guest_errors_and_tcp_guests_get_no_surface(hubd):
    hub = hubd()
    linux = GuestClient.connect(endpoint(hub, "unix"), "linux", "linux-dev-secret")
    rtos = GuestClient.connect(endpoint(hub, "tcp"), "rtos", "rtos-dev-secret")
    try:
        fb = FramebufferChannel(linux)
        # FLUSH before SURFACE.
        fb.flush(0, BAR, 10, 10)
        error = fb.next_event(kind="error")
        assert error["code"] == 5 and error["reason"].startswith("FLUSH")
        fb.map_surface()
        fb.draw(0, 0, 10, 10, bgrx(0xFF0000) * 100)
        # Inside the surface but in rtos's status bar: not_permitted; past the edge: out_of_bounds.
        fb.flush(0, 0, 10, 10)
        assert fb.next_event(kind="error")["code"] == 5
        fb.flush(470, 790, 20, 20)
        assert fb.next_event(kind="error")["code"] == 15
        # A malformed FLUSH (count larger than the rectangles present).
        fb._post(b"\x08\x02" + bytes(8))
        assert fb.next_event(kind="error")["code"] == 8
        # The channel stays open and drawing still works.
        fb.draw(0, BAR, 4, 4, bgrx(0x00FF00) * 16)
        fb.flush(0, BAR, 4, 4)
        sync(fb, 1)
        assert hub.call("fb.pixel", {"x": 0, "y": 0})["rgb"] == "#000000"
        assert hub.call("fb.pixel", {"x": 3, "y": BAR + 3})["rgb"] == "#00ff00"

        # A TCP guest cannot receive a descriptor: SURFACE is refused, PUT still works.
        rtos_fb = FramebufferChannel(rtos)
        rtos_fb._post(b"\x07")
        error = rtos_fb.next_event(kind="error")
        assert error["code"] == 5 and "Unix" in error["reason"]
        rtos_fb.fill(0, 0, WIDTH, BAR, 0x101010)
        sync(rtos_fb, 1)
        assert hub.call("fb.pixel", {"x": 0, "y": 0})["rgb"] == "#101010"
        assert hub.call("fb.info")["counters"]["commandErrors"] == 5
    finally:
        linux.close()
        rtos.close()
