"""The Python management helpers against the shared vectors in Protocols/vectors/management/
(Protocols/management.md §2): the envelopes they build and sign are the vectors' bytes, byte for byte (Ed25519
is deterministic), and the relay results they decode are the vectors' values. No hub."""

import json
import struct
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(os.path.join(ROOT, "Package.swift")):
    ROOT = os.path.dirname(ROOT)
sys.path.insert(0, os.path.join(ROOT, "Tools", "python"))

pytest.importorskip("cryptography")

from handsethub import vectors  # noqa: E402
from handsethub.management import Command, decode_relay_result, key_from_seed, key_id, public_bytes, sign  # noqa: E402

ENVELOPES = vectors.by_name("management/envelopes.vectors")
RELAY = vectors.by_name("management/relay.vectors")
KEYS = [key_from_seed(bytes(range(i * 32, i * 32 + 32))) for i in range(3)]
BY_ID = {key_id(public_bytes(key)).hex(): key for key in KEYS}


@pytest.mark.parametrize("name", ["upgrade-one-signature", "upgrade-wrong-key", "operator-two-of-two",
                                  "operator-one-of-two", "designer-not-granted", "expired", "unknown-authority",
                                  "counter-zero", "rotate-designer-keys"])
def test_signed_envelopes_match_the_vectors(name):
    vector = ENVELOPES[name]
    expect = json.loads(vector["expect"])
    command = Command(expect["operation"], expect["target"], expect["authority"], expect["counter"],
                      expect["expiresAtMs"],
                      bytes.fromhex(expect["softwareSHA256"]) if expect["softwareSHA256"] else None,
                      dict(expect["parameters"]))
    assert sign(command, [BY_ID[k] for k in expect["keyIds"]]) == vector.bytes()


def test_relay_results_match_the_vectors():
    for name, vector in RELAY.items():
        if "expect" in vector:
            assert decode_relay_result(vector.bytes()) == json.loads(vector["expect"]), name
        else:
            with pytest.raises((ValueError, IndexError, UnicodeDecodeError, struct.error)):
                decode_relay_result(vector.bytes())


def test_provisioning_commands_built_by_the_helpers_match_the_vectors():
    """The `provision`/`deprovision` helpers build the bodies of provisioning.vectors (Protocols/management.md §9)."""
    from handsethub.management import deprovision, provision

    built = {
        "provision-store-app": provision("store-app", "store", 1, 32 << 20, priority=12, may_interrupt=["linux"],
                                         may_message=["linux"], may_open_links=True, expires_at_ms=1800000000000),
        "provision-second": provision("store-two", "store", 9, 4096, devices=["fb0"], expires_at_ms=1800000000000),
        "deprovision-store-app": deprovision("store-app", "store", 13, expires_at_ms=1800000000000),
    }
    provisioning = vectors.by_name("management/provisioning.vectors")
    for name, command in built.items():
        assert sign(command, [KEYS[0]]) == provisioning[name].bytes(), name
