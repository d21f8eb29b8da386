"""The Python key service codec against the shared vectors (Protocols/keyservice.md,
Protocols/vectors/keyservice/messages.vectors): requests and responses decode to the vectors' values and encode
back to their bytes, malformed ones are refused with the spec's status, and the vectors' signatures verify with
the TEST key's public key. No hub."""

import json
import os
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(os.path.join(ROOT, "Package.swift")):
    ROOT = os.path.dirname(ROOT)
sys.path.insert(0, os.path.join(ROOT, "Tools", "python"))

from handsethub import keyservice, vectors  # noqa: E402

VECTORS = vectors.load("keyservice/messages.vectors")
SEED = bytes(range(32))


def value(expect):
    """The vector's JSON with {"hex": ...} turned into bytes."""
    return {k: bytes.fromhex(v["hex"]) if isinstance(v, dict) else v for k, v in expect.items()}


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "request"], ids=lambda v: v.name)
def test_requests(vector):
    payload = vector.bytes()
    if "expect" in vector:
        expected = value(json.loads(vector["expect"]))
        assert keyservice.decode_request(payload) == expected
        assert keyservice.encode_request(expected) == payload
    else:
        error = json.loads(vector["error"])
        with pytest.raises(keyservice.KeyServiceError) as caught:
            keyservice.decode_request(payload)
        assert (caught.value.status, caught.value.op) == (error["status"], error["op"])


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "response"], ids=lambda v: v.name)
def test_responses(vector):
    payload = vector.bytes()
    if "expect" in vector:
        expected = value(json.loads(vector["expect"]))
        signed = expected.pop("signed", None)
        assert keyservice.decode_response(payload) == expected
        # A decoder that ignored part of the bytes (stats counters it does not know) encodes what it kept.
        assert keyservice.encode_response(expected) == (vector.bytes("encodesAs") if "encodesAs" in vector else payload)
        if signed is not None:
            Ed25519PublicKey.from_public_bytes(public_key()).verify(expected["signature"], signed)
    else:
        with pytest.raises(keyservice.KeyServiceError) as caught:
            keyservice.decode_response(payload)
        assert caught.value.status == "malformed"


def public_key():
    return Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_the_public_key_vector_is_the_test_seeds():
    response = keyservice.decode_response(next(v for v in VECTORS if v.name == "public-key-ok").bytes())
    assert response["public_key"] == public_key()


@pytest.mark.parametrize("cut", range(0, 80))
def test_every_truncation_of_a_verify_request_is_refused_precisely(cut):
    payload = next(v for v in VECTORS if v.name == "verify").bytes()[:cut]
    if cut < 2:
        expected = "malformed"
    elif cut < 2 + 64:
        expected = "malformed"
    else:
        assert keyservice.decode_request(payload)["op"] == "verify"
        return
    with pytest.raises(keyservice.KeyServiceError) as caught:
        keyservice.decode_request(payload)
    assert caught.value.status == expected
