"""The key service's own logic, without a hub (Protocols/keyservice.md §3-§5): rules (first match, default deny,
identity patterns), sealed storage per requester, bounds, and hostile requests answered precisely and counted."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "Tools" / "python" / "examples" / "handset"))
sys.path.insert(0, str(ROOT / "Tools" / "python"))

import secure_guest  # noqa: E402
from handsethub import keyservice  # noqa: E402


def service(rules=None):
    return secure_guest.KeyService(secure_guest.Rules(rules or secure_guest.DEFAULT_RULES), bytes(range(32)))


def ask(svc, partition, identity, request):
    payload = request if isinstance(request, bytes) else keyservice.encode_request(request)
    return keyservice.decode_response(svc.answer(partition, identity, payload))


@pytest.mark.parametrize("partition,identity,op,allowed", [
    ("rtos", None, "sign", True),
    ("rtos", "anyone", "put", True),
    ("linux", None, "sign", True),
    ("linux", "app.mail", "sign", True),
    ("linux", "app.untrusted", "sign", False),       # the earlier, narrower rule decides
    ("linux", "app.untrusted.2", "verify", True),    # prefix match, and verify is allowed to it
    ("mgmt", None, "sign", False),
    ("mgmt", None, "verify", True),
    ("secure", None, "public_key", False),           # no rule: default deny
    ("injector:x", None, "stats", False),
])
def test_default_rules(partition, identity, op, allowed):
    assert secure_guest.Rules(secure_guest.DEFAULT_RULES).allows(partition, identity, op) is allowed


def test_identity_patterns():
    rules = secure_guest.Rules(["linux/-=sign", "linux/user:alice=get", "linux/user:*=stats"])
    assert rules.allows("linux", None, "sign")
    assert not rules.allows("linux", "user:alice", "sign")   # "-" is only "no identity"
    assert rules.allows("linux", "user:alice", "get")
    assert rules.allows("linux", "user:bob", "stats")
    assert not rules.allows("linux", "user:bob", "get")
    assert not rules.allows("linux", "app", "stats")


def test_refusals_are_counted_and_answer_nothing_but_the_refusal():
    svc = service()
    answer = ask(svc, "mgmt", None, {"op": "sign", "data": b"x"})
    assert answer == {"op": "sign", "status": "not_permitted", "reason": "mgmt may not sign"}
    assert svc.counts["refused"] == 1 and svc.counts["signatures"] == 0


def test_signatures_verify_and_are_the_services():
    svc = service()
    signature = ask(svc, "rtos", None, {"op": "sign", "data": b"hello"})["signature"]
    assert ask(svc, "linux", "app.mail", {"op": "verify", "signature": signature, "data": b"hello"})["valid"]
    assert not ask(svc, "linux", None, {"op": "verify", "signature": signature, "data": b"hellO"})["valid"]
    assert not ask(svc, "linux", None, {"op": "verify", "signature": bytes(64), "data": b"hello"})["valid"]


def test_sealed_values_belong_to_their_requester_and_do_not_open_elsewhere():
    svc = service()
    assert ask(svc, "linux", "app.mail", {"op": "put", "name": "token", "value": b"v1"})["status"] == "ok"
    assert ask(svc, "linux", "app.mail", {"op": "get", "name": "token"})["value"] == b"v1"
    for partition, identity in (("linux", None), ("linux", "app.mail2"), ("rtos", "app.mail")):
        assert ask(svc, partition, identity, {"op": "get", "name": "token"})["status"] == "not_found"
    # The store holds no plaintext, and a sealed value moved to another requester's slot does not open.
    assert all(b"v1" not in sealed for _, sealed in svc.store.values())
    svc.store[("rtos", "", "token")] = svc.store[("linux", "app.mail", "token")]
    assert ask(svc, "rtos", None, {"op": "get", "name": "token"})["status"] == "not_found"


def test_storage_is_bounded_per_requester():
    svc = service()
    for index in range(secure_guest.MAX_NAMES_PER_REQUESTER):
        assert ask(svc, "rtos", None, {"op": "put", "name": f"n{index}", "value": b""})["status"] == "ok"
    assert ask(svc, "rtos", None, {"op": "put", "name": "one-more", "value": b""})["status"] == "storage_full"
    # Replacing an existing name is not a new one; another requester has its own room.
    assert ask(svc, "rtos", None, {"op": "put", "name": "n0", "value": b"again"})["status"] == "ok"
    assert ask(svc, "rtos", "other", {"op": "put", "name": "x", "value": b""})["status"] == "ok"


@pytest.mark.parametrize("payload,status", [
    (b"", "malformed"), (b"\x01", "malformed"), (b"\x07\x02", "bad_version"), (b"\x01\x63", "unknown_op"),
    (b"\x01\x03" + bytes(10), "malformed"), (b"\x01\x02" + bytes(16385), "too_large"),
    (b"\x01\x05\x05../", "malformed"), (b"\x01\x04\x01k" + bytes(1025), "too_large"),
])
def test_hostile_requests_are_answered_precisely_and_counted(payload, status):
    svc = service()
    answer = ask(svc, "rtos", None, payload)
    assert answer["status"] == status
    assert svc.counts["malformed"] == 1 and svc.counts["requests"] == 1


def test_random_garbage_never_breaks_the_service():
    svc = service()
    rng = __import__("random").Random(7)
    for _ in range(3000):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 90)))
        if len(payload) >= 2 and rng.random() < 0.5:
            payload = b"\x01" + payload[1:]
        answer = ask(svc, rng.choice(["rtos", "linux", "mgmt"]), rng.choice([None, "app.x"]), payload)
        assert answer["status"] in keyservice.STATUS_NUMBERS
    assert svc.counts["requests"] == 3000


def test_one_partition_cannot_take_every_name_through_many_identities():
    svc = service(["linux/*=put", "rtos=put"])
    stored = 0
    for index in range(20):
        for slot in range(secure_guest.MAX_NAMES_PER_REQUESTER):
            answer = ask(svc, "linux", f"id{index}", {"op": "put", "name": f"n{slot}", "value": b"v"})
            stored += answer["status"] == "ok"
    assert stored == secure_guest.MAX_NAMES_PER_PARTITION
    assert ask(svc, "rtos", None, {"op": "put", "name": "mine", "value": b"v"})["status"] == "ok"
