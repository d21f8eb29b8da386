#!/usr/bin/env python3
"""Writes envelopes.vectors: management command envelopes (Protocols/management.md §2), signed with FIXED test
keys whose seeds are in the file's header, so any implementation can check its encoder, decoder and verifier.

    python3 Protocols/vectors/management/generate.py > Protocols/vectors/management/envelopes.vectors
    python3 Protocols/vectors/management/generate.py relay > Protocols/vectors/management/relay.vectors
    python3 Protocols/vectors/management/generate.py provisioning > Protocols/vectors/management/provisioning.vectors

Needs `cryptography` (PyPI) for Ed25519. Ed25519 signatures are deterministic, so the output is stable.
"""
import hashlib
import json
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

SEEDS = [bytes(range(0, 32)), bytes(range(32, 64)), bytes(range(64, 96))]
DOMAIN = b"handsethub-mgmt-v1\x00"
MAGIC = b"HHM1"


def key(seed):
    return Ed25519PrivateKey.from_private_bytes(seed)


def public(seed):
    return key(seed).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(seed):
    return hashlib.sha256(public(seed)).digest()[:8]


def s8(text):
    raw = text.encode() if isinstance(text, str) else text
    return bytes([len(raw)]) + raw


def body(op, target, authority, counter, expires, digest=None, params=()):
    out = bytes([1]) + s8(op) + s8(target) + s8(authority) + struct.pack(">QQ", counter, expires)
    out += (b"\x01" + digest) if digest is not None else b"\x00"
    out += struct.pack(">H", len(params))
    for k, v in params:
        raw = v.encode()
        out += s8(k) + struct.pack(">H", len(raw)) + raw
    return out


def envelope(body_bytes, signers, tamper=None):
    sigs = []
    for seed in signers:
        sig = key(seed).sign(DOMAIN + body_bytes)
        if tamper == "flip":
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        sigs.append(bytes([8]) + key_id(seed) + sig)
    return MAGIC + struct.pack(">I", len(body_bytes)) + body_bytes + bytes([len(sigs)]) + b"".join(sigs)


def emit(name, comment, raw, expect=None, error=None, verify=None, result=None, **extra):
    print(f"name: {name}")
    print(f"# {comment}")
    print("hex:")
    for i in range(0, len(raw), 32):
        print("  " + raw[i:i + 32].hex())
    if expect is not None:
        print("expect: " + json.dumps(expect, separators=(", ", ": ")))
    if error is not None:
        print(f"error: {error}")
    for key, value in extra.items():
        print(f"{key}: {value}")
    if verify is not None:
        print(f"verify: {verify}")
    if result is not None:
        print(f"result: {result}")
    print()


def expect_of(op, target, authority, counter, expires, digest, params, signers):
    return {"operation": op, "target": target, "authority": authority, "counter": counter,
            "expiresAtMs": expires, "softwareSHA256": digest.hex() if digest else None,
            "parameters": [[k, v] for k, v in params], "keyIds": [key_id(s).hex() for s in signers]}


def main():
    print("# Management command envelopes (Protocols/management.md §2), written by generate.py.")
    print("# Fixed test keys (Ed25519, RFC 8032), never used outside tests:")
    for i, seed in enumerate(SEEDS):
        print(f"#   key{i}: seed {seed.hex()}")
        print(f"#          public {public(seed).hex()} keyId {key_id(seed).hex()}")
    print("# Fields: hex = the envelope; expect = the decoded body (JSON) and its signatures' key ids;")
    print("# error = the decode error kind (bad_envelope detail, §2.5); verify = the verification outcome")
    print("# against the authorities of §6 at time 1700000000000 with every counter at 0 (`accepted` or a")
    print("# refusal code of §4).")
    print()
    T = 1800000000000
    digest = hashlib.sha256(b"linux v2 bundle").digest()
    up = ("upgrade", "linux", "designer", 1, T, digest, [("version", "2.0.0")])
    b = body(*up)
    emit("upgrade-one-signature", "designer (key0, threshold 1) upgrades linux", envelope(b, [SEEDS[0]]),
         expect=expect_of(*up, [SEEDS[0]]), verify="accepted")
    emit("upgrade-flipped-signature", "the same, one signature bit flipped",
         envelope(b, [SEEDS[0]], tamper="flip"), expect=expect_of(*up, [SEEDS[0]]), verify="bad_signature")
    emit("upgrade-wrong-key", "the same, signed by key2, not one of designer's keys", envelope(b, [SEEDS[2]]),
         expect=expect_of(*up, [SEEDS[2]]), verify="bad_signature")
    rt = ("upgrade", "rtos", "operator", 7, T, digest, [])
    b2 = body(*rt)
    emit("operator-two-of-two", "operator (key1, key2; threshold 2) upgrades rtos, both sign",
         envelope(b2, [SEEDS[1], SEEDS[2]]), expect=expect_of(*rt, [SEEDS[1], SEEDS[2]]), verify="accepted")
    emit("operator-one-of-two", "the same with key1 only: threshold not met", envelope(b2, [SEEDS[1]]),
         expect=expect_of(*rt, [SEEDS[1]]), verify="threshold_not_met")
    ng = ("upgrade", "rtos", "designer", 2, T, digest, [])
    emit("designer-not-granted", "designer may not touch rtos", envelope(body(*ng), [SEEDS[0]]),
         expect=expect_of(*ng, [SEEDS[0]]), verify="not_authorised")
    ex = ("upgrade", "linux", "designer", 3, 1600000000000, None, [])
    emit("expired", "expired before the verification time", envelope(body(*ex), [SEEDS[0]]),
         expect=expect_of(*ex, [SEEDS[0]]), verify="expired")
    un = ("upgrade", "linux", "store", 1, T, None, [])
    emit("unknown-authority", "no authority 'store'", envelope(body(*un), [SEEDS[0]]),
         expect=expect_of(*un, [SEEDS[0]]), verify="unknown_authority")
    rp = ("upgrade", "linux", "designer", 0, T, None, [])
    emit("counter-zero", "counter 0 is never above the stored counter", envelope(body(*rp), [SEEDS[0]]),
         expect=expect_of(*rp, [SEEDS[0]]), verify="replayed")
    rk = ("rotateKeys", "designer", "designer", 4, T, None,
          [("keys", public(SEEDS[2]).hex()), ("threshold", "1")])
    emit("rotate-designer-keys", "designer replaces key0 by key2, signed by key0", envelope(body(*rk), [SEEDS[0]]),
         expect=expect_of(*rk, [SEEDS[0]]), verify="accepted")
    good = envelope(b, [SEEDS[0]])
    emit("bad-magic", "HHM2", b"HHM2" + good[4:], error="bad_magic")
    emit("truncated-signature", "the last signature byte missing", good[:-1], error="truncated")
    emit("trailing-byte", "one byte after the signatures", good + b"\x00", error="trailing_bytes")
    emit("no-signatures", "a signature count of 0", MAGIC + struct.pack(">I", len(b)) + b + b"\x00",
         error="bad_signature_count")
    dup = envelope(b, [SEEDS[0], SEEDS[0]])
    emit("duplicate-key-id", "key0 twice: one key counts once", dup, error="duplicate_key_id")
    emit("huge-body-length", "body length 0xffffffff", MAGIC + b"\xff\xff\xff\xff", error="bad_length")
    emit("bad-version", "body version 2", envelope(bytes([2]) + b[1:], [SEEDS[0]]), error="bad_version")
    unsorted = body("upgrade", "linux", "designer", 5, T, None, [("b", "1"), ("a", "2")])
    emit("unsorted-parameters", "parameter names out of order", envelope(unsorted, [SEEDS[0]]),
         error="unsorted_parameters")
    bad_flag = body("upgrade", "linux", "designer", 5, T).replace(b"\x00\x00\x00", b"\x02\x00\x00", 1)
    bad_flag = bytes([1]) + s8("upgrade") + s8("linux") + s8("designer") + struct.pack(">QQ", 5, T) + b"\x02" + b"\x00\x00"
    emit("bad-digest-flag", "digest flag 2", envelope(bad_flag, [SEEDS[0]]), error="bad_flag")
    bad_name = bytes([1]) + s8("up grade") + s8("linux") + s8("designer") + struct.pack(">QQ", 5, T) + b"\x00\x00\x00"
    emit("bad-operation-name", "a space in the operation", envelope(bad_name, [SEEDS[0]]), error="bad_name")


def provisioning():
    print("# Signed provision and deprovision commands (Protocols/management.md §9), written by generate.py, all")
    print("# signed with key0 (seed 000102...1f, envelopes.vectors' header) for the authority `store`: keys [key0],")
    print("# budget {namePrefix: store-, maxPartitions: 2, maxMemoryBytes: 64MiB, classes: [fair-share],")
    print("# minPriority: 10, maxPriority: 15, devices: [fb0], peers: [linux]} on the reference handset.")
    print("# Fields: hex = the envelope; expect = its decoded body and key ids; result = the code the hub answers")
    print("# when the vectors are submitted in file order at time 1700000000000 to a hub with no state yet.")
    print()
    T = 1800000000000
    MiB = 1 << 20
    cases = [
        ("provision-store-app", "within the budget: 32 MiB, priority 12, may interrupt and message linux",
         "provision", "store-app", [("mayInterrupt", "linux"), ("mayMessage", "linux"), ("mayOpenLinks", "true"),
                                   ("memoryBytes", str(32 * MiB)), ("priority", "12")], None, "accepted"),
        ("provision-same-name", "store-app exists", "provision", "store-app", [("memoryBytes", "4096")], None,
         "name_taken"),
        ("provision-over-memory", "32 MiB in use + 64 MiB > 64 MiB", "provision", "store-big",
         [("memoryBytes", str(64 * MiB))], None, "budget_exceeded"),
        ("provision-peer-not-in-budget", "secure is not a budget peer", "provision", "store-x",
         [("mayInterrupt", "secure"), ("memoryBytes", "4096")], None, "not_in_budget"),
        ("provision-priority-not-in-budget", "priority 1 is above the budget's 10...15", "provision", "store-x",
         [("memoryBytes", "4096"), ("priority", "1")], None, "not_in_budget"),
        ("provision-configured-name", "rtos does not start with store-", "provision", "rtos",
         [("memoryBytes", "4096")], None, "not_authorised"),
        ("provision-negative-memory", "not decimal digits", "provision", "store-x", [("memoryBytes", "-4096")],
         None, "bad_parameters"),
        ("provision-huge-memory", "more digits than any 64-bit number", "provision", "store-x",
         [("memoryBytes", "9" * 40)], None, "bad_parameters"),
        ("provision-second", "the second partition the budget allows, sharing fb0", "provision", "store-two",
         [("devices", "fb0"), ("memoryBytes", "4096")], None, "accepted"),
        ("provision-over-count", "a third partition: maxPartitions is 2", "provision", "store-three",
         [("memoryBytes", "4096")], None, "budget_exceeded"),
        ("deprovision-configured", "linux is configured (and not the store's prefix)", "deprovision", "linux", [],
         None, "not_authorised"),
        ("deprovision-unknown", "no partition store-none", "deprovision", "store-none", [], None,
         "not_provisioned"),
        ("deprovision-store-app", "store-app goes", "deprovision", "store-app", [], None, "accepted"),
        ("deprovision-store-app-again", "the same envelope again", "deprovision", "store-app", [], "again",
         "replayed"),
    ]
    counter = 0
    for name, comment, op, target, params, again, result in cases:
        if again is None:
            counter += 1
        fields = (op, target, "store", counter, T, None, sorted(params, key=lambda kv: kv[0].encode()))
        emit(name, comment, envelope(body(*fields), [SEEDS[0]]), expect=expect_of(*fields, [SEEDS[0]]),
             result=result)


def relay_result(code, detail="", output=""):
    raw = code.encode()
    d = detail.encode()
    return bytes([0 if code == "accepted" else 1, len(raw)]) + raw + struct.pack(">H", len(d)) + d + output.encode()


def relay():
    print("# Results of envelopes relayed over the `management` device channel (Protocols/management.md §2.3),")
    print("# written by generate.py. hex = one CHANNEL_DATA payload from the hub; expect = its code, detail and")
    print("# output; error = the decode error kind.")
    print()
    emit("relay-accepted", "accepted with the executor's output", relay_result("accepted", "", '{"keys":1}'),
         expect={"code": "accepted", "detail": "", "output": '{"keys":1}'})
    emit("relay-refused", "refused as replayed", relay_result("replayed", "counter 1 is not above 1"),
         expect={"code": "replayed", "detail": "counter 1 is not above 1", "output": ""})
    emit("relay-status-mismatch", "status 0 with a refusal code", bytes([0]) + relay_result("expired")[1:],
         error="bad_flag")
    emit("relay-truncated-detail", "detail length past the end", relay_result("expired", "abc")[:-1],
         error="truncated")


def lifetime():
    print("# Management commands checked against management.maxCommandLifetimeMs (Protocols/management.md §4,")
    print("# step 5), written by generate.py. hex = the envelope (signed with key0 of envelopes.vectors); now = the")
    print("# verification time; maxCommandLifetimeMs = the bound; verify = the outcome with the authorities of §6.")
    print()
    now = 1700000000000
    day = 86400000
    for name, comment, expires, outcome in [
        ("lifetime-within", "expires exactly one day ahead, the bound one day", now + day, "accepted"),
        ("lifetime-one-ms-over", "expires one day and 1 ms ahead: too far", now + day + 1, "expiry_too_far"),
        ("lifetime-far-future", "expires in 2100: a command to withhold and replay later", 4102444800000,
         "expiry_too_far"),
        ("lifetime-expired-first", "expired already: expiry is checked before the lifetime", now - 1, "expired"),
    ]:
        emit(name, comment, envelope(body("upgrade", "linux", "designer", 1, expires), [SEEDS[0]]),
             now=str(now), maxCommandLifetimeMs=str(day), verify=outcome)


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["relay"]:
        relay()
    elif sys.argv[1:] == ["provisioning"]:
        provisioning()
    elif sys.argv[1:] == ["lifetime"]:
        lifetime()
    else:
        main()
