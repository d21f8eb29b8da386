#!/usr/bin/env python3
"""Writes the key service test vectors (Protocols/keyservice.md) to messages.vectors (format:
Protocols/vectors/README.md).

The bytes are spelled out field by field from the spec, independently of the codecs (Python
Tools/python/handsethub/keyservice.py, Swift KeyServiceWire). Signatures are Ed25519 (RFC 8032, deterministic)
under a fixed TEST key whose seed is written in the file's header, made with the `cryptography` package.
Re-run after changing the spec: python3 generate.py
"""
import json
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = bytes(range(32))  # TEST key: never use outside tests
KEY = Ed25519PrivateKey.from_private_bytes(SEED)
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def hx(b):
    return {"hex": bytes(b).hex()}


def u8(v, c): return (struct.pack(">B", v), c)
def u16(v, c): return (struct.pack(">H", v), c)
def u64(v, c): return (struct.pack(">Q", v), c)
def raw(b, c): return (bytes(b), c)
def name(text, c):
    data = text.encode()
    return [(struct.pack(">B", len(data)), f"{c} length"), (data, f"{c} '{text}'")]
def reason(text, c):
    data = text.encode()
    return [(struct.pack(">H", len(data)), "reason length"), (data, f"{c}")]


def flatten(parts):
    out = []
    for part in parts:
        if isinstance(part, list):
            out.extend(part)
        else:
            out.append(part)
    return out


entries = []


def hex_lines(parts):
    lines = []
    parts = flatten(parts)
    for b, c in parts:
        lines.append(f"  {b.hex()}  # {c}" if b else f"# (empty) {c}")
    if not any(b for b, _ in parts):
        lines.append("  -")
    return lines


def vector(label, kind, title, parts, outcome_key, outcome, encodes_as=None):
    lines = [f"name: {label}", f"# {title}", f"kind: {kind}", "hex:"] + hex_lines(parts)
    lines.append(f"{outcome_key}: " + json.dumps(outcome))
    if encodes_as is not None:
        lines += ["encodesAs:"] + hex_lines(encodes_as)
    entries.append("\n".join(lines))


def request(label, title, parts, expect):
    vector(label, "request", title, parts, "expect", expect)


def bad_request(label, title, parts, status, op):
    vector(label, "request", title, parts, "error", {"status": status, "op": op})


def response(label, title, parts, expect, encodes_as=None):
    vector(label, "response", title, parts, "expect", expect, encodes_as)


def bad_response(label, title, parts):
    vector(label, "response", title, parts, "error", "malformed")


DATA = b"call log 2026-12-05"
SIGNATURE = KEY.sign(DATA)
EMPTY_SIGNATURE = KEY.sign(b"")
OTHER = bytes(64)

request("public-key", "PUBLIC_KEY request", [u8(1, "version"), u8(1, "op public_key")], {"op": "public_key"})
request("sign", "SIGN request", [u8(1, "version"), u8(2, "op sign"), raw(DATA, f"data {DATA.decode()!r}")],
        {"op": "sign", "data": hx(DATA)})
request("sign-empty", "SIGN of no data", [u8(1, "version"), u8(2, "op sign")], {"op": "sign", "data": hx(b"")})
request("verify", "VERIFY request", [u8(1, "version"), u8(3, "op verify"), raw(SIGNATURE, "signature (64 bytes)"),
                                     raw(DATA, "data")], {"op": "verify", "signature": hx(SIGNATURE), "data": hx(DATA)})
request("put", "PUT request", [u8(1, "version"), u8(4, "op put"), name("pin.sim-1", "name"),
                               raw(b"\x01\x02\x03\x04", "value")],
        {"op": "put", "name": "pin.sim-1", "value": hx(b"\x01\x02\x03\x04")})
request("get", "GET request", [u8(1, "version"), u8(5, "op get"), name("pin.sim-1", "name")],
        {"op": "get", "name": "pin.sim-1"})
request("stats", "STATS request", [u8(1, "version"), u8(6, "op stats")], {"op": "stats"})
request("sign-largest", "SIGN of 16384 bytes (the most)",
        [u8(1, "version"), u8(2, "op sign"), raw(b"\xab" * 16384, "data of 16384 bytes")],
        {"op": "sign", "data": hx(b"\xab" * 16384)})

bad_request("bad-empty", "an empty request", [], "malformed", 0)
bad_request("bad-one-byte", "version only", [u8(1, "version")], "malformed", 0)
bad_request("bad-version", "version 2", [u8(2, "version 2"), u8(2, "op sign")], "bad_version", 2)
bad_request("bad-op", "op 9", [u8(1, "version"), u8(9, "op 9 undefined")], "unknown_op", 9)
bad_request("bad-op-zero", "op 0", [u8(1, "version"), u8(0, "op 0 undefined")], "unknown_op", 0)
bad_request("bad-verify-short", "VERIFY with a 63-byte signature",
            [u8(1, "version"), u8(3, "op verify"), raw(bytes(63), "63 bytes")], "malformed", 3)
bad_request("bad-sign-too-large", "SIGN of 16385 bytes",
            [u8(1, "version"), u8(2, "op sign"), raw(b"\x00" * 16385, "data of 16385 bytes")], "too_large", 2)
bad_request("bad-put-value-too-large", "PUT of a 1025-byte value",
            [u8(1, "version"), u8(4, "op put"), name("k", "name"), raw(b"v" * 1025, "value of 1025 bytes")],
            "too_large", 4)
bad_request("bad-get-name-empty", "GET with an empty name", [u8(1, "version"), u8(5, "op get"), u8(0, "length 0")],
            "malformed", 5)
bad_request("bad-get-name-past-end", "GET whose name runs past the end",
            [u8(1, "version"), u8(5, "op get"), u8(9, "length 9"), raw(b"pin", "3 bytes")], "malformed", 5)
bad_request("bad-get-name-long", "GET with a 65-byte name",
            [u8(1, "version"), u8(5, "op get"), u8(65, "length 65 > 64"), raw(b"a" * 65, "name")], "malformed", 5)
bad_request("bad-get-name-alphabet", "GET with a '/' in the name",
            [u8(1, "version"), u8(5, "op get"), name("../key", "name")], "malformed", 5)
bad_request("bad-get-trailing", "GET with a byte after the name",
            [u8(1, "version"), u8(5, "op get"), name("k", "name"), u8(0, "stray byte")], "malformed", 5)
bad_request("bad-stats-trailing", "STATS with a payload", [u8(1, "version"), u8(6, "op stats"), u8(0, "stray")],
            "malformed", 6)

response("public-key-ok", "PUBLIC_KEY answer: the TEST key's public key",
         [u8(1, "version"), u8(1, "op public_key"), u8(0, "status ok"), raw(PUBLIC, "Ed25519 public key")],
         {"op": "public_key", "status": "ok", "public_key": hx(PUBLIC)})
response("sign-ok", f"SIGN answer: Ed25519 of {DATA.decode()!r} under the TEST key",
         [u8(1, "version"), u8(2, "op sign"), u8(0, "status ok"), raw(SIGNATURE, "signature")],
         {"op": "sign", "status": "ok", "signature": hx(SIGNATURE), "signed": hx(DATA)})
response("sign-empty-ok", "SIGN answer for no data",
         [u8(1, "version"), u8(2, "op sign"), u8(0, "status ok"), raw(EMPTY_SIGNATURE, "signature")],
         {"op": "sign", "status": "ok", "signature": hx(EMPTY_SIGNATURE), "signed": hx(b"")})
response("verify-valid", "VERIFY answer: valid", [u8(1, "version"), u8(3, "op verify"), u8(0, "ok"), u8(1, "valid")],
         {"op": "verify", "status": "ok", "valid": True})
response("verify-invalid", "VERIFY answer: not valid",
         [u8(1, "version"), u8(3, "op verify"), u8(0, "ok"), u8(0, "not valid")],
         {"op": "verify", "status": "ok", "valid": False})
response("put-ok", "PUT answer", [u8(1, "version"), u8(4, "op put"), u8(0, "ok")], {"op": "put", "status": "ok"})
response("get-ok", "GET answer", [u8(1, "version"), u8(5, "op get"), u8(0, "ok"), raw(b"\x01\x02\x03\x04", "value")],
         {"op": "get", "status": "ok", "value": hx(b"\x01\x02\x03\x04")})
response("stats-ok", "STATS answer",
         [u8(1, "version"), u8(6, "op stats"), u8(0, "ok"), u64(12, "requests"), u64(5, "signatures"),
          u64(2, "refused"), u64(1, "malformed")],
         {"op": "stats", "status": "ok", "requests": 12, "signatures": 5, "refused": 2, "malformed": 1})
response("stats-ok-dropped", "STATS answer with the fifth counter, dropped (§3.2)",
         [u8(1, "version"), u8(6, "op stats"), u8(0, "ok"), u64(2000, "requests"), u64(0, "signatures"),
          u64(0, "refused"), u64(0, "malformed"), u64(719, "dropped")],
         {"op": "stats", "status": "ok", "requests": 2000, "signatures": 0, "refused": 0, "malformed": 0,
          "dropped": 719})
response("stats-ok-longer", "STATS answer with a sixth counter a later service might add: ignored (§3.2)",
         [u8(1, "version"), u8(6, "op stats"), u8(0, "ok"), u64(7, "requests"), u64(1, "signatures"),
          u64(0, "refused"), u64(0, "malformed"), u64(3, "dropped"), u64(99, "a later counter, ignored")],
         {"op": "stats", "status": "ok", "requests": 7, "signatures": 1, "refused": 0, "malformed": 0,
          "dropped": 3},
         encodes_as=[u8(1, "version"), u8(6, "op stats"), u8(0, "ok"), u64(7, "requests"), u64(1, "signatures"),
                     u64(0, "refused"), u64(0, "malformed"), u64(3, "dropped")])
response("not-permitted", "SIGN refused by the rules",
         [u8(1, "version"), u8(2, "op sign"), u8(4, "status not_permitted"), reason("mgmt may not sign", "reason")],
         {"op": "sign", "status": "not_permitted", "reason": "mgmt may not sign"})
response("malformed-no-op", "answer to a request too short to have an op",
         [u8(1, "version"), u8(0, "op 0"), u8(1, "status malformed"), reason("", "empty reason")],
         {"op": 0, "status": "malformed", "reason": ""})

bad_response("bad-response-short", "two bytes", [u8(1, "version"), u8(2, "op")])
bad_response("bad-response-status", "status 8 undefined", [u8(1, "version"), u8(2, "op"), u8(8, "status 8")])
bad_response("bad-response-signature-short", "SIGN ok with 63 bytes",
             [u8(1, "version"), u8(2, "op sign"), u8(0, "ok"), raw(SIGNATURE[:63], "63 bytes")])
bad_response("bad-response-valid", "VERIFY ok with valid 2",
             [u8(1, "version"), u8(3, "op verify"), u8(0, "ok"), u8(2, "valid 2")])
bad_response("bad-response-reason-length", "reason length past the end",
             [u8(1, "version"), u8(2, "op"), u8(4, "not_permitted"), u16(10, "reason length 10"), raw(b"ab", "2 bytes")])
bad_response("bad-response-stats-short", "STATS ok with 3 counters",
             [u8(1, "version"), u8(6, "op stats"), u8(0, "ok"), u64(1, "requests"), u64(0, "signatures"),
              u64(0, "refused")])
bad_response("bad-response-stats-partial", "STATS ok with 4 counters and 4 more bytes",
             [u8(1, "version"), u8(6, "op stats"), u8(0, "ok"), u64(1, "requests"), u64(0, "signatures"),
              u64(0, "refused"), u64(0, "malformed"), raw(b"\0\0\0\0", "half a counter")])
bad_response("bad-response-stats-long", "STATS ok with 17 counters",
             [u8(1, "version"), u8(6, "op stats"), u8(0, "ok")] + [u64(n, f"counter {n}") for n in range(17)])
bad_response("bad-response-public-key-long", "PUBLIC_KEY ok with 33 bytes",
             [u8(1, "version"), u8(1, "op public_key"), u8(0, "ok"), raw(PUBLIC + b"\x00", "33 bytes")])

HEADER = f"""# Key service messages (Protocols/keyservice.md), generated by generate.py: do not edit by hand.
# Format: Protocols/vectors/README.md. Each vector: name, kind (request or response), hex (the message payload),
# and expect (the decoded value: "op" and the spec's field names, bytes as {{"hex": ...}}; a response's "signed"
# is the data its signature is over, for checking it) or error (a request: {{"status", "op"}} the service
# answers with; a response: "malformed", rejected by a client). encodesAs, when present: the bytes an encoder
# writes for the expected value, where the decoder ignored part of hex (`stats` counters after the five it knows).
# Signatures are Ed25519 (RFC 8032) under a TEST key: seed {SEED.hex()}
# public key {PUBLIC.hex()}
"""
with open(os.path.join(HERE, "messages.vectors"), "w") as f:
    f.write(HEADER + "\n" + "\n\n".join(entries) + "\n")
