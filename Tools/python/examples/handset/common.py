"""Shared pieces of the living reference handset's sample guests: attaching with what hubd put in the
environment, heartbeats, link lookup, a serial line over a device channel, and a tiny bitmap font so guests
can draw text on the framebuffer without any dependency."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Iterable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from handsethub.guest import GuestClient  # noqa: E402

# 5x7 glyphs: seven rows of five bits per character ('1' = ink).
_FONT = {
    '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
    '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
    '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
    '3': ['11111', '00010', '00100', '00010', '00001', '10001', '01110'],
    '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
    '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
    '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
    '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
    '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
    '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
    'A': ['01110', '10001', '10001', '11111', '10001', '10001', '10001'],
    'B': ['11110', '10001', '10001', '11110', '10001', '10001', '11110'],
    'C': ['01110', '10001', '10000', '10000', '10000', '10001', '01110'],
    'D': ['11100', '10010', '10001', '10001', '10001', '10010', '11100'],
    'E': ['11111', '10000', '10000', '11110', '10000', '10000', '11111'],
    'F': ['11111', '10000', '10000', '11110', '10000', '10000', '10000'],
    'G': ['01110', '10001', '10000', '10111', '10001', '10001', '01111'],
    'H': ['10001', '10001', '10001', '11111', '10001', '10001', '10001'],
    'I': ['01110', '00100', '00100', '00100', '00100', '00100', '01110'],
    'J': ['00111', '00010', '00010', '00010', '00010', '10010', '01100'],
    'K': ['10001', '10010', '10100', '11000', '10100', '10010', '10001'],
    'L': ['10000', '10000', '10000', '10000', '10000', '10000', '11111'],
    'M': ['10001', '11011', '10101', '10101', '10001', '10001', '10001'],
    'N': ['10001', '10001', '11001', '10101', '10011', '10001', '10001'],
    'O': ['01110', '10001', '10001', '10001', '10001', '10001', '01110'],
    'P': ['11110', '10001', '10001', '11110', '10000', '10000', '10000'],
    'Q': ['01110', '10001', '10001', '10001', '10101', '10010', '01101'],
    'R': ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
    'S': ['01111', '10000', '10000', '01110', '00001', '00001', '11110'],
    'T': ['11111', '00100', '00100', '00100', '00100', '00100', '00100'],
    'U': ['10001', '10001', '10001', '10001', '10001', '10001', '01110'],
    'V': ['10001', '10001', '10001', '10001', '10001', '01010', '00100'],
    'W': ['10001', '10001', '10001', '10101', '10101', '10101', '01010'],
    'X': ['10001', '10001', '01010', '00100', '01010', '10001', '10001'],
    'Y': ['10001', '10001', '01010', '00100', '00100', '00100', '00100'],
    'Z': ['11111', '00001', '00010', '00100', '01000', '10000', '11111'],
    ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
    ':': ['00000', '01100', '01100', '00000', '01100', '01100', '00000'],
    '+': ['00000', '00100', '00100', '11111', '00100', '00100', '00000'],
    '-': ['00000', '00000', '00000', '11111', '00000', '00000', '00000'],
    '.': ['00000', '00000', '00000', '00000', '00000', '01100', '01100'],
    '#': ['01010', '01010', '11111', '01010', '11111', '01010', '01010'],
    '*': ['00000', '00100', '10101', '01110', '10101', '00100', '00000'],
    '=': ['00000', '00000', '11111', '00000', '11111', '00000', '00000'],
    '/': ['00001', '00010', '00010', '00100', '01000', '01000', '10000'],
}


def text_pixels(text: str, fg: int, bg: int, scale: int = 2) -> tuple[int, int, bytes]:
    """Renders `text` (upper-cased; unknown characters as blanks) into BGRX pixels: (width, height, bytes)."""
    text = text.upper()
    glyph_w, glyph_h = 6 * scale, 7 * scale  # one column of spacing
    width, height = max(1, glyph_w * len(text)), glyph_h
    fg_px = bytes((fg & 0xFF, (fg >> 8) & 0xFF, (fg >> 16) & 0xFF, 0))
    bg_px = bytes((bg & 0xFF, (bg >> 8) & 0xFF, (bg >> 16) & 0xFF, 0))
    rows = []
    for y in range(height):
        row = bytearray()
        for char in text:
            glyph = _FONT.get(char, _FONT[" "])[y // scale]
            for x in range(glyph_w):
                column = x // scale
                row += fg_px if column < 5 and glyph[column] == "1" else bg_px
        rows.append(bytes(row))
    return width, height, b"".join(rows)


def attach(timeout: float = 10.0, features: Iterable[str] = ()) -> GuestClient:
    """Attaches as the partition hubd launched us for (HANDSETHUB_* environment), asking for `features`."""
    return GuestClient.connect(os.environ["HANDSETHUB_GUEST_ENDPOINT"], os.environ["HANDSETHUB_PARTITION"],
                               os.environ["HANDSETHUB_SECRET"], timeout=timeout, features=list(features))


def report_error(guest: GuestClient, severity: str, code: str, text: str) -> None:
    """One entry for this partition's persistent error log (ERROR_REPORT, Protocols/guest.md §9.5), when the hub
    offered the `error-log` feature; the management agent collects it. A refusal (rate limit) is only logged."""
    from handsethub.guest import ERROR_LOG, GuestError
    if ERROR_LOG not in guest.hub_features:
        return
    try:
        guest.report_error(severity, code, text)
    except GuestError as error:
        log(f"error report refused: {error}")


def link_ids(guest: GuestClient) -> dict[str, int]:
    """Link name → id from the welcome."""
    return {link["name"]: link["id"] for link in guest.welcome["links"]}


class Heartbeat:
    """Sends HEARTBEAT at a third of the hub's expected period (WELCOME.heartbeat_ms), so one lost beat is harmless."""

    def __init__(self, guest: GuestClient):
        self.guest = guest
        expected = guest.welcome.get("heartbeat_ms", 0)
        self.period = expected / 3000 if expected else 1.0
        self.last = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.period:
            self.guest.post("HEARTBEAT", {"stamp": int(now * 1000)})
            self.last = now


class SerialChannel:
    """A byte stream over a device channel (the modem's AT line), split into lines."""

    def __init__(self, guest: GuestClient, device: str, channel: int):
        self.guest = guest
        self.channel = channel
        answer = guest.request("CHANNEL_OPEN", {"device": device, "options": b""}, channel=channel)
        if answer.type != "CHANNEL_OPENED":
            raise RuntimeError(f"cannot open {device}: {answer.type} {answer.fields}")
        self.buffer = b""

    def write(self, text: str) -> None:
        self.guest.post("CHANNEL_DATA", {"data": text.encode()}, channel=self.channel)

    def feed(self, data: bytes) -> list[str]:
        """Adds received bytes; returns the complete non-empty lines."""
        self.buffer += data
        *lines, self.buffer = self.buffer.replace(b"\r", b"\n").split(b"\n")
        return [line.decode(errors="replace") for line in lines if line.strip()]


def log(message: str) -> None:
    """stdout goes to the hub's per-partition log ring (partition.logs)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)
