#!/usr/bin/env python3
"""Writes the error-log file vectors (Protocols/errorlog.md §4) to records.vectors (format:
Protocols/vectors/README.md). The bytes are built field by field from the spec, independently of the Swift
reader (Sources/ErrorLog). Re-run after changing the spec: python3 generate.py
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = {"guest": 0, "hub": 1}
SEVERITIES = {"info": 1, "warning": 2, "error": 3, "critical": 4}


def header(base, dropped, magic=b"HHEL", version=1):
    return magic + bytes([version, 0, 0, 0]) + struct.pack(">QQ", base, dropped)


def body(seq, time_ms, source, severity, code, text, version=1):
    c = code.encode() if isinstance(code, str) else code
    t = text.encode() if isinstance(text, str) else text
    return (bytes([version]) + struct.pack(">QQ", seq, time_ms) + bytes([SOURCES.get(source, source) if isinstance(source, str) else source,
            SEVERITIES[severity] if isinstance(severity, str) else severity, len(c)]) + c
            + struct.pack(">H", len(t)) + t)


def record(b, crc=None, length=None):
    return struct.pack(">II", len(b) if length is None else length, zlib.crc32(b) if crc is None else crc) + b


def entry(seq, time_ms, source, severity, code, text):
    return {"sequence": seq, "timeMs": time_ms, "source": source, "severity": severity, "code": code, "text": text}


out = []


def emit(name, comment, data, max_entries=16, max_bytes=4096, expect=None, error=None):
    out.append(f"name: {name}")
    out.append(f"# {comment}")
    h = data.hex()
    out.append("hex:")
    for i in range(0, len(h), 64):
        out.append("  " + h[i:i + 64])
    if not h:
        out.append("  -")
    out.append(f"maxEntries: {max_entries}")
    out.append(f"maxBytes: {max_bytes}")
    if expect is not None:
        out.append("expect: " + json.dumps(expect, sort_keys=True))
    if error is not None:
        out.append(f"error: {error}")
    out.append("")


def main():
    e1 = ("hub", "error", "crashed", "guest exited with status 3")
    e2 = ("guest", "warning", "modem-timeout", "no answer to AT+CREG")
    r1 = record(body(1, 1700000000000, *e1))
    r2 = record(body(2, 1700000000500, *e2))
    ok = [entry(1, 1700000000000, *e1), entry(2, 1700000000500, *e2)]
    emit("two-entries", "a header and two intact records", header(1, 0) + r1 + r2,
         expect={"entries": ok, "dropped": 0, "nextSequence": 3, "tornBytes": 0, "tornKind": None})
    emit("torn-truncated", "the second record cut after 10 bytes (a kill during the append)",
         header(1, 0) + r1 + r2[:10],
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": 10, "tornKind": "truncated"})
    emit("torn-prefix-only", "only 5 bytes of the second record's length and CRC", header(1, 0) + r1 + r2[:5],
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": 5, "tornKind": "truncated"})
    bad = bytearray(r2)
    bad[-1] ^= 0x01
    emit("torn-bad-checksum", "the second record's last byte changed: its CRC-32 no longer matches",
         header(1, 0) + r1 + bytes(bad),
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": len(bad), "tornKind": "bad_checksum"})
    huge = struct.pack(">II", 0xFFFFFFFF, 0) + b"\x00" * 4
    emit("huge-length", "a record length of 0xffffffff: refused before anything is read",
         header(1, 0) + r1 + huge,
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": 12, "tornKind": "bad_length"})
    back = record(body(1, 1700000000600, *e2))
    emit("not-ascending", "a second record reusing sequence number 1", header(1, 0) + r1 + back,
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": len(back), "tornKind": "not_ascending"})
    sev = record(body(2, 1700000000500, "guest", 9, "x", ""))
    emit("bad-severity", "severity 9 is not defined", header(1, 0) + r1 + sev,
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": len(sev), "tornKind": "bad_value"})
    utf = record(body(2, 1700000000500, "guest", "info", b"\xc3\x28", ""))
    emit("bad-utf8-code", "a code that is not UTF-8", header(1, 0) + r1 + utf,
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": len(utf), "tornKind": "bad_string"})
    r3 = record(body(3, 1700000001000, "hub", "critical", "failed", "restart budget spent"))
    e3 = entry(3, 1700000001000, "hub", "critical", "failed", "restart budget spent")
    emit("bound-drops-oldest", "three records, two dropped earlier (header), a bound of 2 entries: the oldest goes",
         header(1, 2) + r1 + r2 + r3, max_entries=2,
         expect={"entries": [ok[1], e3], "dropped": 3, "nextSequence": 4, "tornBytes": 0, "tornKind": None})
    emit("bound-by-bytes", "the same three records within 130 bytes: only the newest two fit",
         header(1, 0) + r1 + r2 + r3, max_bytes=130,
         expect={"entries": [ok[1], e3], "dropped": 1, "nextSequence": 4, "tornBytes": 0, "tornKind": None})
    emit("after-reset", "a reset log: no records, numbering goes on from 42", header(42, 0),
         expect={"entries": [], "dropped": 0, "nextSequence": 42, "tornBytes": 0, "tornKind": None})
    emit("bad-magic", "not an error log", header(1, 0, magic=b"HHEX") + r1, error="bad_header")
    emit("bad-file-version", "file version 2", header(1, 0, version=2), error="bad_header")
    emit("short-header", "23 bytes: the header is cut", header(1, 0)[:23], error="bad_header")
    emit("base-out-of-range", "base 2^64-1: the next sequence number would not fit (and used to trap)",
         header(2**64 - 1, 0) + r1, error="bad_header")
    emit("base-at-2-62", "base 2^62: what a file holds stays below it", header(2**62, 0), error="bad_header")
    emit("dropped-out-of-range", "dropped 2^64-1", header(1, 2**64 - 1), error="bad_header")
    top = record(body(2**62, 1700000000500, *e2))
    emit("sequence-out-of-range", "a second record numbered 2^62", header(1, 0) + r1 + top,
         expect={"entries": ok[:1], "dropped": 0, "nextSequence": 2, "tornBytes": len(top), "tornKind": "bad_value"})
    last = record(body(2**62 - 1, 1700000000500, *e2))
    emit("sequence-at-the-top", "a second record numbered 2^62-1, the largest a file may hold",
         header(1, 0) + r1 + last,
         expect={"entries": [ok[0], entry(2**62 - 1, 1700000000500, *e2)], "dropped": 0, "nextSequence": 2**62,
                 "tornBytes": 0, "tornKind": None})
    print("# Persistent error-log files (Protocols/errorlog.md §4), written by generate.py.")
    print("# Fields: hex = a whole file; maxEntries, maxBytes = the bound it is loaded with (§3); expect = the log")
    print("# after loading: the kept entries, dropped, nextSequence, and the torn tail (its bytes and the kind of")
    print("# problem that ended the records, §4.3); error = the kind of a file that is refused as a whole.")
    print()
    print("\n".join(out).rstrip("\n"))


if __name__ == "__main__":
    main()
