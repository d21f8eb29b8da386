#!/usr/bin/env python3
"""Writes tight.vectors: Tight-encoded FramebufferUpdates (Protocols/framebuffer.md §2.6) for small fixed
screens, computed here from the specification with Python's zlib, independently of the Swift encoder.

    python3 Protocols/vectors/rfb/tight-generate.py > Protocols/vectors/rfb/tight.vectors
"""
import struct
import zlib


def compact_length(n):
    out = bytearray([n & 0x7F])
    if n >= 0x80:
        out[0] |= 0x80
        out.append((n >> 7) & 0x7F)
        if n >= 0x4000:
            out[1] |= 0x80
            out.append(n >> 14)
    return bytes(out)


def tpixel(c):
    return bytes([(c >> 16) & 0xFF, (c >> 8) & 0xFF, c & 0xFF])


def zlib_level(compress):
    return 1 if compress <= 2 else compress - 1


def compressed(data, compress):
    if len(data) < 12:
        return data
    z = zlib.compressobj(zlib_level(compress), zlib.DEFLATED, 15, 8)
    body = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    return compact_length(len(body)) + body


def bands(x, y, w, h):
    out = []
    bx = x
    while bx < x + w:
        bw = min(2048, x + w - bx)
        rows = max(1, 65536 // bw)
        by = y
        while by < y + h:
            bh = min(rows, y + h - by)
            out.append((bx, by, bw, bh))
            by += bh
        bx += bw
    return out


def encode_band(pixels, width, rect, compress):
    x, y, w, h = rect
    band = [pixels[(y + r) * width + x + c] for r in range(h) for c in range(w)]
    palette = []
    for value in band:
        if value not in palette:
            palette.append(value)
            if len(palette) > 16:
                break
    if len(palette) == 1:
        return b"\x80" + tpixel(palette[0])
    if len(palette) <= 16:
        stream = 1 if len(palette) == 2 else 2
        out = bytes([stream << 4 | 0x40 | 1 << stream, 1, len(palette) - 1]) + b"".join(map(tpixel, palette))
        if len(palette) == 2:
            data = bytearray()
            for r in range(h):
                bits = [1 if band[r * w + c] == palette[1] else 0 for c in range(w)]
                bits += [0] * (-len(bits) % 8)
                for i in range(0, len(bits), 8):
                    data.append(int("".join(map(str, bits[i:i + 8])), 2))
        else:
            data = bytes(palette.index(v) for v in band)
        return out + compressed(bytes(data), compress)
    return b"\x01" + compressed(b"".join(map(tpixel, band)), compress)


def update(pixels, width, rects, compress):
    out = bytearray()
    count = 0
    for rect in rects:
        for band in bands(*rect):
            out += struct.pack(">HHHHi", *band, 7) + encode_band(pixels, width, band, compress)
            count += 1
    return struct.pack(">BxH", 0, count) + bytes(out)


def hexdump(data, width=32):
    return "\n".join("  " + data[i:i + width].hex() for i in range(0, len(data), width))


def pixel_text(pixels):
    runs, out = [], []
    for value in pixels:
        if runs and runs[-1][0] == value:
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    for value, count in runs:
        out.append(f"{value:06x}" + (f"*{count}" if count > 1 else ""))
    lines = [" ".join(out[i:i + 12]) for i in range(0, len(out), 12)]
    return "\n  ".join(lines)


VECTORS = []


def vector(name, comment, width, height, pixels, encodings, rects=None):
    compress = 1
    for e in encodings:
        if -256 <= e <= -247:
            compress = e + 256
    rects = rects or [(0, 0, width, height)]
    VECTORS.append((name, comment, width, height, pixels, encodings, rects, update(pixels, width, rects, compress)))


vector("tight-fill", "one colour: fill compression, TPIXEL red, green, blue", 4, 3, [0x336699] * 12, [7])
vector("tight-mono-raw", "two colours, 10x2: palette filter on stream 1 (reset), 2 bytes of bits per row, "
       "4 bytes in all so sent without zlib", 10, 2, [0x000000, 0xFFFFFF] * 10, [7])
vector("tight-mono-zlib", "two colours, 64x4 stripes: palette filter, 32 bytes of bits through stream 1",
       64, 4, [0xFF0000 if (i // 3) % 2 else 0x0000FF for i in range(256)], [7])
vector("tight-palette-4", "four colours, 8x4: palette filter on stream 2, one index byte per pixel, zlib",
       8, 4, [[0x101010, 0x202020, 0x303030, 0x404040][i % 4] for i in range(32)], [7, -256])
vector("tight-copy", "18 colours, 6x3: basic compression, copy filter (no filter byte) on stream 0, zlib level 1",
       6, 3, [0x010203 * (i + 1) for i in range(18)], [7])
vector("tight-copy-level-6", "the same pixels at compression level 6 (pseudo-encoding -250): zlib level 5",
       6, 3, [0x010203 * (i + 1) for i in range(18)], [7, -250])
vector("tight-bands-wide", "a 2100x1 rectangle of one colour: two bands, 2048 and 52 pixels wide",
       2100, 1, [0x00FF00] * 2100, [7])
vector("tight-bands-tall", "a 300x300 rectangle: bands of 218 rows (65,536 pixels at most), then 82",
       300, 300, [0x0000FF] * (300 * 300), [7])
vector("tight-two-rects", "two rectangles of one update on a 16x8 screen: a fill, then a 2-colour palette",
       16, 8, [0x111111] * 64 + [0x111111 if i % 2 else 0xEEEEEE for i in range(64)], [7],
       rects=[(0, 0, 16, 4), (0, 4, 16, 4)])

print("""# Tight-encoded FramebufferUpdates (Protocols/framebuffer.md §2.6), written by tight-generate.py from the
# specification with Python's zlib (independently of the Swift encoder).
# Fields: width, height: the screen; pixels: its native colours 0xRRGGBB row-major, "COLOUR*N" for N
# repeats; encodings: the viewer's SetEncodings list (decimal); rects: the damaged rectangles "x,y,w,h"
# (absent: the whole screen); hex: the FramebufferUpdate the hub sends a viewer with the native pixel format.
# JPEG rectangles are not here: libjpeg-turbo's bytes may change between versions; the tests check them by
# decoding within a tolerance.""")
for name, comment, width, height, pixels, encodings, rects, data in VECTORS:
    print()
    print(f"name: {name}")
    print(f"# {comment}")
    print(f"width: {width}")
    print(f"height: {height}")
    print(f"pixels: {pixel_text(pixels)}")
    print("encodings: " + " ".join(map(str, encodings)))
    if rects != [(0, 0, width, height)]:
        print("rects: " + " ".join(",".join(map(str, r)) for r in rects))
    print("hex:")
    print(hexdump(data))
