"""The Python guest codec against the shared vectors in Protocols/vectors/guest/frames.vectors (pytest)."""

import json
import os
import socket
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
while not os.path.exists(os.path.join(ROOT, "Package.swift")):
    ROOT = os.path.dirname(ROOT)
sys.path.insert(0, os.path.join(ROOT, "Tools", "python"))

from handsethub import guest, vectors  # noqa: E402

FRAMES = vectors.load("guest/frames.vectors")
BY_NAME = {v.name: v for v in FRAMES}
# The valid vectors (an `expect` field) and the malformed ones (an `error` field), each as one dict with its
# name under "file".
MANIFEST = {
    "vectors": [dict(json.loads(v["expect"]), file=v.name) for v in FRAMES if "expect" in v],
    "malformed": [dict(json.loads(v["error"]), file=v.name) for v in FRAMES if "error" in v],
}


def load_hex(name):
    return BY_NAME[name].bytes()


def expected(value):
    """Vector JSON to Python values: {"hex": ...} is bytes."""
    if isinstance(value, dict):
        if set(value) == {"hex"}:
            return bytes.fromhex(value["hex"])
        return {key: expected(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expected(item) for item in value]
    return value


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=lambda v: v["file"])
def test_vector_decodes_and_reencodes(vector):
    raw = load_hex(vector["file"])
    decoder = guest.FrameDecoder()
    [frame] = decoder.feed(raw)
    assert isinstance(frame, guest.Frame), frame
    assert frame.type == vector["type"]
    assert frame.channel == vector["channel"]
    assert frame.request_id == vector["request_id"]
    assert frame.fields == expected(vector["fields"])
    assert frame.encode() == raw
    assert guest.Frame(vector["type"], expected(vector["fields"]), vector["channel"],
                       vector["request_id"]).encode() == raw


def test_every_type_has_a_vector():
    assert {v["type"] for v in MANIFEST["vectors"]} == set(guest.TYPES)


@pytest.mark.parametrize("vector", MANIFEST["malformed"], ids=lambda v: v["file"])
def test_malformed_vector(vector):
    raw = load_hex(vector["file"])
    decoder = guest.FrameDecoder()
    if "fatal" in vector:
        with pytest.raises(guest.GuestStreamError):
            decoder.feed(raw)
        return
    [error] = decoder.feed(raw)
    assert isinstance(error, guest.GuestDecodeError), error
    assert error.kind == vector["error"]
    assert error.code == vector["code"]
    assert error.request_id == vector["request_id"]


def test_chunking_never_changes_the_result():
    stream = b"".join(load_hex(v["file"]) for v in MANIFEST["vectors"])
    stream += b"".join(load_hex(v["file"]) for v in MANIFEST["malformed"] if "fatal" not in v)

    def summary(items):
        return [(i.type, i.request_id, i.fields) if isinstance(i, guest.Frame) else (i.kind, i.request_id)
                for i in items]

    whole = summary(guest.FrameDecoder().feed(stream))
    assert len(whole) == len(MANIFEST["vectors"]) + len(MANIFEST["malformed"]) - 1
    for split in range(0, len(stream) + 1, 7):
        decoder = guest.FrameDecoder()
        assert summary(decoder.feed(stream[:split]) + decoder.feed(stream[split:])) == whole
    decoder = guest.FrameDecoder()
    got = []
    for index in range(len(stream)):
        got += decoder.feed(stream[index:index + 1])
    assert summary(got) == whole


def test_client_against_a_scripted_hub():
    client_sock, hub_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    secret = b"s3cret"
    welcome = expected(MANIFEST["vectors"][[v["file"] for v in MANIFEST["vectors"]].index("welcome")]["fields"])
    failures = []

    def hub():
        decoder = guest.FrameDecoder()
        pending = []

        def read():
            while not pending:
                pending.extend(decoder.feed_bodies(hub_sock.recv(65536)))
            body = pending.pop(0)
            return guest.decode_body(body), body

        try:
            hello, hello_body = read()
            challenge = guest.Frame("CHALLENGE", {"version": 1, "nonce": bytes(range(32)), "features": []},
                                    request_id=hello.request_id)
            hub_sock.sendall(challenge.encode())
            proof, _ = read()
            if proof.fields["mac"] != guest.proof(secret, hello_body, challenge.encode_body()):
                failures.append("bad proof")
                return
            hub_sock.sendall(guest.Frame("WELCOME", welcome, request_id=proof.request_id).encode())
            raise_frame, _ = read()
            hub_sock.sendall(guest.Frame("IRQ", {"line": 3, "priority": 0, "coalesced": 1}).encode())
            hub_sock.sendall(guest.Frame("RAISE_RESULT", {"outcome": 0}, request_id=raise_frame.request_id).encode())
            send, _ = read()
            hub_sock.sendall(guest.Frame("MSG_SENT", {"link": 1, "message_id": 5, "status": 0},
                                         request_id=send.request_id).encode())
        except Exception as error:  # pragma: no cover - reported below
            failures.append(repr(error))

    thread = threading.Thread(target=hub)
    thread.start()
    client = guest.GuestClient(client_sock, timeout=5)
    client.handshake("rtos", secret, None, [])
    assert client.welcome == welcome
    assert client.raise_irq("linux", 3) == "delivered"
    assert client.send(1, b"ping", correlation=9) == ("queued", 5)
    irq = client.receive(timeout=1)
    assert irq.type == "IRQ" and irq.fields["line"] == 3
    assert client.receive(timeout=0.05) is None
    client.close()
    thread.join(5)
    hub_sock.close()
    assert failures == []
