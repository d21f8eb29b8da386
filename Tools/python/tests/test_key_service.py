"""The key service end to end (Protocols/keyservice.md, Protocols/guest.md §7.12): a real hubd launches the `secure`
sample guest (secure_guest.py); rtos, linux and mgmt are guests driven from here.

- rtos and linux (with and without an identity) get Ed25519 signatures that verify with the service's public key;
- a requester the rules refuse (mgmt; linux acting as app.untrusted) is answered not_permitted and counted by the
  service; sealed values are readable only by the requester that stored them;
- rtos beyond its link's rate budget is refused rate_limited by the hub, and the hub's counters equal the refusals
  it answered; every request the hub answered `queued` gets its answer (nothing accepted is lost);
- the private key appears nowhere: not in any message any partition received, not in the hub's log, the
  service's log or the event stream, in raw, hex or base64 form (positive controls show each source is captured).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from handsethub import keyservice
from handsethub.guest import IDENTITY, RATE_LIMIT, GuestClient
from handsethub.pytest_plugin import default_config_text

ROOT = Path(__file__).resolve().parents[3]
SERVICE = ROOT / "Tools" / "python" / "examples" / "handset" / "secure_guest.py"
SEED = bytes(range(0x40, 0x60))  # a TEST key, known here only to search for it
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
RATE = 5
TIME_LIMIT = 60.0


class RecordingClient(keyservice.KeyServiceClient):
    """A key service client that keeps every answer payload it received, for the key search."""

    received: list[bytes] = []

    def _await(self, correlation: int) -> bytes:
        payload = super()._await(correlation)
        RecordingClient.received.append(payload)
        return payload


def config(tmp_path: Path, rate_limited: bool = True) -> str:
    document = yaml.safe_load(default_config_text())
    seed_file = tmp_path / "seed.bin"
    seed_file.write_bytes(SEED)
    seed_file.chmod(0o600)
    secure = next(p for p in document["partitions"] if p["name"] == "secure")
    # The reference handset's secure answers rtos and linux only; here it may also answer mgmt, so that mgmt
    # hears its refusal (Protocols/keyservice.md §4).
    secure["mayMessage"] = ["rtos", "linux", "mgmt"]
    secure["launch"] = {"command": [sys.executable, str(SERVICE), "--test-key-seed-file", str(seed_file)],
                        "logFile": str(tmp_path / "secure.log"), "attachTimeoutMs": 20000}
    link = next(link for link in document["links"] if link["name"] == "rtos-secure")
    if rate_limited:
        link["rateLimit"] = {"messagesPerSecond": RATE, "burstMessages": RATE}
    return yaml.safe_dump(document, sort_keys=False)


def attach(hub, partition: str, features: list[str]) -> tuple[GuestClient, dict[str, int]]:
    endpoint = next(address for address in hub.hub.guest if address.startswith("unix:"))
    guest = GuestClient.connect(endpoint, partition, f"{partition}-dev-secret", features=features)
    return guest, {link["name"]: link["id"] for link in guest.welcome["links"]}


def wait_attached(hub, name: str, deadline: float) -> None:
    while hub.call("partition.get", {"name": name})["session"] is None:
        assert time.monotonic() < deadline, f"{name} did not attach:\n{hub.hub.log()[-3000:]}"
        time.sleep(0.05)


def verify(signature: bytes, data: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(PUBLIC).verify(signature, data)  # raises InvalidSignature


def forms(secret: bytes) -> list[bytes]:
    """The private key as it could leak: raw, hex (both cases), base64 (standard, URL-safe, unpadded)."""
    out = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for encoded in (base64.b64encode(secret), base64.urlsafe_b64encode(secret)):
        out += [encoded, encoded.rstrip(b"=")]
    return out


def test_key_service_signs_refuses_limits_and_never_leaks_its_key(hubd, tmp_path):
    deadline = time.monotonic() + TIME_LIMIT
    hub = hubd(config(tmp_path))
    wait_attached(hub, "secure", deadline)
    rtos, rtos_links = attach(hub, "rtos", [IDENTITY, RATE_LIMIT])
    linux, linux_links = attach(hub, "linux", [IDENTITY, RATE_LIMIT])
    mgmt, mgmt_links = attach(hub, "mgmt", [IDENTITY])
    RecordingClient.received = []
    try:
        # rtos's link has a budget of RATE requests per second: this client waits and sends again when refused.
        as_rtos = RecordingClient(rtos, rtos_links["rtos-secure"], retry_rate_limited=1.0 / RATE)
        as_mail = RecordingClient(linux, linux_links["linux-secure"], identity="app.mail")
        as_linux = RecordingClient(linux, linux_links["linux-secure"])
        as_untrusted = RecordingClient(linux, linux_links["linux-secure"], identity="app.untrusted")
        as_mgmt = RecordingClient(mgmt, mgmt_links["mgmt-secure"])

        # Signatures for rtos and linux verify with the public key the service announces.
        assert as_rtos.public_key() == PUBLIC
        for client, data in ((as_rtos, b"rtos: call log"), (as_mail, b"linux app.mail: draft"),
                             (as_linux, b"linux: boot ok")):
            signature = client.sign(data)
            verify(signature, data)
            assert client.verify(signature, data) is True
            assert client.verify(signature, data + b"!") is False

        # The rules refuse mgmt's and app.untrusted's signing (default deny past their rules), and count it.
        refusals = 0
        for client in (as_mgmt, as_untrusted):
            response = client.call({"op": "sign", "data": b"let me in"})
            assert response["status"] == "not_permitted", response
            refusals += 1
        # mgmt may still verify.
        assert as_mgmt.verify(as_rtos.sign(b"x"), b"x") is True

        # Sealed storage: only the requester that stored a value reads it, as (partition, identity).
        as_mail.put("mail.token", b"s3cret-token")
        assert as_mail.get("mail.token") == b"s3cret-token"
        for other, expected in ((as_linux, "not_found"), (as_untrusted, "not_permitted"), (as_rtos, "not_found")):
            response = other.call({"op": "get", "name": "mail.token"})
            assert response["status"] == expected, response
            refusals += expected == "not_permitted"

        # Beyond rtos's rate budget the hub refuses before the service sees anything; every queued request is
        # answered. Sends are pipelined (only MSG_SENT awaited) so they outrun the 5/s budget.
        time.sleep(1.2)  # a full bucket again
        # The patient client above may have been refused already: count from here.
        before = hub.call("link.get", {"name": "rtos-secure"})["counters"]["rateLimited"]
        partition_before = hub.call("partition.get", {"name": "rtos"})["counters"]["msgRateLimited"]
        assert partition_before == before
        link = rtos_links["rtos-secure"]
        queued, limited = [], 0
        for index in range(200):
            correlation = 0x7000_0000 + index
            status, _ = rtos.send(link, keyservice.encode_request({"op": "sign", "data": b"burst %d" % index}),
                                  correlation=correlation)
            if status == "queued":
                queued.append(correlation)
            else:
                assert status == "rate_limited", status
                limited += 1
                if limited >= 10:
                    break
        assert limited == 10 and len(queued) >= RATE
        for correlation in queued:
            answer = keyservice.decode_response(as_rtos._await(correlation))
            assert answer["status"] == "ok" and len(answer["signature"]) == 64
        link_info = hub.call("link.get", {"name": "rtos-secure"})
        from_rtos = next(queue for queue in link_info["queues"] if queue["from"] == "rtos")
        assert from_rtos["rateLimited"] == before + limited
        assert link_info["counters"]["rateLimited"] == before + limited
        assert from_rtos["rateLimit"]["messagesPerSecond"] == RATE
        assert hub.call("partition.get", {"name": "rtos"})["counters"]["msgRateLimited"] == before + limited
        linux_info = hub.call("link.get", {"name": "linux-secure"})
        assert linux_info["counters"]["identitySends"] >= 4

        # The service counted the rule refusals; its log names the refused requesters.
        time.sleep(1.2)
        stats = as_rtos.stats()
        assert stats["refused"] == refusals
        assert stats["signatures"] >= 4 + len(queued)
        service_log = (tmp_path / "secure.log").read_bytes()
        assert b"refused sign for mgmt" in service_log and b"refused sign for linux/app.untrusted" in service_log

        # No trace of the private key anywhere; the same search finds the public key where it belongs.
        events = json.dumps(hub.call("events.recent", {"limit": 4096})).encode()
        logs = {"hub log": hub.hub.log().encode(), "service log": service_log,
                "partition.logs": hub.call("partition.logs", {"name": "secure"})["text"].encode(), "events": events}
        messages = b"".join(RecordingClient.received)
        assert PUBLIC in messages and PUBLIC.hex().encode() in service_log, "the captures are not what they seem"
        assert b"rate_limited" in events, "the first rate refusal is published as msg.refused"
        for form in forms(SEED):
            assert form not in messages, f"private key ({form[:8]!r}...) in a message"
            for name, text in logs.items():
                assert form not in text, f"private key ({form[:8]!r}...) in the {name}"
    finally:
        for guest in (rtos, linux, mgmt):
            guest.close()


def test_a_requester_that_never_takes_its_answers_does_not_hold_up_the_others(hubd, tmp_path):
    """rtos sends more requests than the secure->rtos queue holds and acknowledges none of the answers: the service
    keeps rtos's answers waiting for rtos alone, and linux is still answered at once (Protocols/keyservice.md §1)."""
    deadline = time.monotonic() + TIME_LIMIT
    hub = hubd(config(tmp_path, rate_limited=False))
    wait_attached(hub, "secure", deadline)
    rtos, rtos_links = attach(hub, "rtos", [IDENTITY])
    linux, linux_links = attach(hub, "linux", [IDENTITY])
    try:
        request = keyservice.encode_request({"op": "public_key"})
        queued = 0
        while queued < 400 and time.monotonic() < deadline:
            status, _ = rtos.send(rtos_links["rtos-secure"], request, correlation=queued + 1)
            if status == "queued":
                queued += 1
            else:
                time.sleep(0.01)  # the service takes them as fast as it can
        assert queued == 400
        as_linux = keyservice.KeyServiceClient(linux, linux_links["linux-secure"], timeout=10.0)
        assert as_linux.public_key() == PUBLIC
        signature = as_linux.sign(b"still served")
        verify(signature, b"still served")
    finally:
        rtos.close()
        linux.close()


def test_answers_dropped_past_the_waiting_bound_are_counted_in_stats(hubd, tmp_path):
    """rtos floods its link with requests and takes none of the answers: the secure->rtos queue (depth 16) fills,
    then 1024 answers wait in the service (keyservice.md §1), and every answer after those is dropped and counted
    in stats' fifth counter, `dropped` (§3.2), which linux reads on its own link. Drops were only logged before."""
    deadline = time.monotonic() + TIME_LIMIT
    document = yaml.safe_load(config(tmp_path, rate_limited=False))
    depth = 16
    next(link for link in document["links"] if link["name"] == "rtos-secure")["depth"] = depth
    hub = hubd(yaml.safe_dump(document, sort_keys=False))
    wait_attached(hub, "secure", deadline)
    rtos, rtos_links = attach(hub, "rtos", [IDENTITY])
    linux, linux_links = attach(hub, "linux", [IDENTITY])
    try:
        as_linux = keyservice.KeyServiceClient(linux, linux_links["linux-secure"], timeout=10.0)
        assert as_linux.stats()["dropped"] == 0
        request = keyservice.encode_request({"op": "public_key"})
        extra = 300
        sent = 0
        while sent < depth + keyservice.MAX_WAITING_ANSWERS + extra and time.monotonic() < deadline:
            status, _ = rtos.send(rtos_links["rtos-secure"], request, correlation=sent + 1)
            if status == "queued":
                sent += 1
            else:
                time.sleep(0.01)  # the service takes them as fast as it can
        assert sent == depth + keyservice.MAX_WAITING_ANSWERS + extra
        # linux's own requests count too: wait until the service has answered all of rtos's.
        stats = as_linux.stats()
        while stats["requests"] < sent + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
            stats = as_linux.stats()
        assert stats["requests"] >= sent + 1, stats
        assert stats["dropped"] == extra, stats
        log = (tmp_path / "secure.log").read_text()
        assert f"takes no answers on link {rtos_links['rtos-secure']}: 256 dropped" in log
    finally:
        rtos.close()
        linux.close()


def test_an_answer_the_hub_refuses_is_dropped_and_logged_by_the_service(hubd, tmp_path):
    """The reference handset's secure may not message mgmt: mgmt's request (one its rules allow) still reaches
    the service, which answers; the hub refuses that answer (not_permitted) and the service drops it and logs
    it (Protocols/keyservice.md §2), as it logs the requests its rules refuse."""
    deadline = time.monotonic() + TIME_LIMIT
    document = yaml.safe_load(config(tmp_path, rate_limited=False))
    next(p for p in document["partitions"] if p["name"] == "secure")["mayMessage"] = ["rtos", "linux"]
    hub = hubd(yaml.safe_dump(document, sort_keys=False))
    wait_attached(hub, "secure", deadline)
    mgmt, links = attach(hub, "mgmt", [IDENTITY])
    try:
        status, _ = mgmt.send(links["mgmt-secure"], keyservice.encode_request({"op": "public_key"}), correlation=1)
        assert status == "queued"
        expected = "refused by the hub (not_permitted): 1 so far"
        while expected not in hub.call("partition.logs", {"name": "secure"})["text"]:
            assert time.monotonic() < deadline, hub.call("partition.logs", {"name": "secure"})["text"][-2000:]
            time.sleep(0.05)
        # No answer reached mgmt (the hub may grant it credit on the link meanwhile).
        frames = iter(lambda: mgmt.receive(timeout=0.2), None)
        assert not [frame for frame in frames if frame.type.startswith("MSG_DELIVER")]
    finally:
        mgmt.close()
