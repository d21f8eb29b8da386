#!/usr/bin/env python3
"""Writes keys.vectors: 32-byte Ed25519 public key encodings and whether an authority may hold them
(Protocols/management.md §5, Keys), computed here with plain Python integers from RFC 8032 §5.1.3,
independently of the Swift check.

    python3 Protocols/vectors/management/keys-generate.py > Protocols/vectors/management/keys.vectors

Python's `cryptography` (48.0) is no oracle for this: Ed25519PublicKey.from_public_bytes accepts any 32
bytes, points or not (the failure comes only at verify). It is used here for the keys derived from seeds,
which are points by construction, and each `point` vector is checked by recovering x and re-encoding it.
"""
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SMALL_ORDER_Y = {0, 1, P - 1,
                 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826,
                 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7}


def classify(encoding):
    n = int.from_bytes(encoding, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y in SMALL_ORDER_Y or y - P in SMALL_ORDER_Y:
        return "small-order"
    if y >= P:
        return "non-canonical"
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    if u == 0:
        return "non-canonical" if sign else "point"
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if x * x % P != x2:
        x = x * pow(2, (P - 1) // 4, P) % P
    if x * x % P != x2:
        assert pow(u * v % P, (P - 1) // 2, P) == P - 1
        return "not-on-curve"
    if x & 1 != sign:
        x = P - x
    assert (-x * x + y * y - 1 - D * x * x * y * y) % P == 0
    assert (y | (x & 1) << 255).to_bytes(32, "little") == encoding
    return "point"


def le(n):
    return n.to_bytes(32, "little")


def seed_key(seed_byte):
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(seed_byte, seed_byte + 32))).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


RFC8032_TEST1 = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
BASE = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")

VECTORS = [
    ("rfc8032-test1", RFC8032_TEST1, "the public key of RFC 8032 §7.1, TEST 1"),
    ("seed-00", seed_key(0x00), "key0 of envelopes.vectors (seed 00 01 ... 1f)"),
    ("seed-20", seed_key(0x20), "key1 of envelopes.vectors (seed 20 21 ... 3f)"),
    ("base-point", BASE, "the base point B"),
    ("base-point-negated", BASE[:31] + bytes([BASE[31] | 0x80]), "-B: B with the sign bit set"),
    ("y-3", le(3), "y = 3, a point"),
    ("y-p-minus-3", le(P - 3), "y = p - 3, a point"),
    ("y-2", le(2), "y = 2: (y^2 - 1)/(d*y^2 + 1) is not a square"),
    ("y-2-sign", le(2 | 1 << 255), "y = 2 with the sign bit set"),
    ("y-p-minus-2", le(P - 2), "y = p - 2, the highest canonical y but p - 1: no point"),
    ("y-p-minus-7", le(P - 7), "y = p - 7: no point"),
    ("rfc8032-test1-flipped", bytes([RFC8032_TEST1[0] ^ 0x01]) + RFC8032_TEST1[1:],
     "RFC 8032 TEST 1's key with bit 0 flipped: no point"),
    ("rfc8032-test1-y-plus-1", le(int.from_bytes(RFC8032_TEST1, "little") + 1),
     "RFC 8032 TEST 1's key plus one (y + 1): a point too"),
    ("identity", le(1), "the identity: a point, but of small order"),
    ("y-p-plus-2", le(P + 2), "y = p + 2, a second spelling of y = 2"),
]


def main():
    print("# Ed25519 public key encodings (32 bytes, byte 0 first) and whether an authority may hold them")
    print("# (Protocols/management.md §5, Keys); written by keys-generate.py with plain Python integers")
    print("# (RFC 8032 §5.1.3 decoding; every `point` re-encoded from its recovered x). Fields: hex = the key;")
    print("# expect = `point` when it decodes to a point an authority may hold; error = why it may not:")
    print("# `not-on-curve` ((y^2 - 1)/(d*y^2 + 1) is not a square mod p = 2^255 - 19), `small-order`,")
    print("# `non-canonical` (y >= p, or x = 0 with the sign bit set).")
    for name, encoding, comment in VECTORS:
        Ed25519PublicKey.from_public_bytes(encoding)  # accepts every one of them: see the docstring
        outcome = classify(encoding)
        print()
        print(f"name: {name}")
        print(f"# {comment}")
        print(f"hex: {encoding.hex()}")
        print("expect: point" if outcome == "point" else f"error: {outcome}")


if __name__ == "__main__":
    main()
