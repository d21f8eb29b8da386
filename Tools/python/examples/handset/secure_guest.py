"""The secure partition of the living reference handset: a small key service (Protocols/keyservice.md).

It generates an Ed25519 signing key and an AES-256-GCM sealing key when it starts and never sends either out:
requests carry data in, answers carry the public key, signatures, verdicts and the requester's own sealed values
out. The requester of each message is the partition the hub stamped on it and the identity it carries
(MSG_DELIVER_AS, Protocols/guest.md §7.12), so a partition cannot pretend to be another; per-requester rules
(--rule, Protocols/keyservice.md §4) say which operations each may use, default deny. The links' rate budgets
(rateLimit) are the hub's: a partition over its budget is refused before its request reaches this service.

    secure_guest.py [--rule PARTITION[/IDENTITY]=OP,OP ...] [--test-key-seed-file PATH]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from common import Heartbeat, attach, log

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from handsethub import keyservice  # noqa: E402
from handsethub.guest import IDENTITY  # noqa: E402

DEFAULT_RULES = ["rtos=all", "linux/app.untrusted*=public-key,verify,stats", "linux=all",
                 "mgmt=public-key,verify,stats"]
OP_NAMES = {"public-key": "public_key", "sign": "sign", "verify": "verify", "put": "put", "get": "get",
            "stats": "stats"}
MAX_NAMES_PER_REQUESTER = 32
MAX_NAMES = 1024
MAX_PENDING_ANSWERS = keyservice.MAX_WAITING_ANSWERS  # per link
MAX_NAMES_PER_PARTITION = 256  # all of a partition's identities together


class Rules:
    """Protocols/keyservice.md §4: ordered PARTITION[/IDENTITY]=OPS rules, first match decides, default deny."""

    def __init__(self, texts: list[str]):
        self.rules: list[tuple[str, str, frozenset[str]]] = []
        for text in texts:
            who, _, ops = text.partition("=")
            partition, _, identity = who.partition("/")
            names = {op.strip() for op in ops.split(",") if op.strip()}
            allowed = set(OP_NAMES.values()) if "all" in names else {OP_NAMES[name] for name in names}
            self.rules.append((partition, identity or "*", frozenset(allowed)))

    @staticmethod
    def _matches(pattern: str, identity: str | None) -> bool:
        if pattern == "*":
            return True
        if pattern == "-":
            return identity is None
        if identity is None:
            return False
        if pattern.endswith("*"):
            return identity.startswith(pattern[:-1])
        return identity == pattern

    def allows(self, partition: str, identity: str | None, op: str) -> bool:
        for rule_partition, pattern, allowed in self.rules:
            if rule_partition == partition and self._matches(pattern, identity):
                return op in allowed
        return False


class KeyService:
    """The service's state: keys, sealed store, counters. It answers one decoded request at a time."""

    def __init__(self, rules: Rules, seed: bytes | None):
        # The keys are made here and stay in this process (Protocols/keyservice.md §6).
        self.signing = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
        self.public = self.signing.public_key()
        self.sealing = AESGCM(AESGCM.generate_key(bit_length=256))
        self.rules = rules
        self.store: dict[tuple[str, str, str], tuple[bytes, bytes]] = {}
        # `dropped`: answers dropped because MAX_PENDING_ANSWERS were already waiting on their link (§1, §3.2).
        self.counts = {"requests": 0, "signatures": 0, "refused": 0, "malformed": 0, "dropped": 0}

    def public_bytes(self) -> bytes:
        return self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def answer(self, partition: str, identity: str | None, payload: bytes) -> bytes:
        self.counts["requests"] += 1
        try:
            request = keyservice.decode_request(payload)
        except keyservice.KeyServiceError as error:
            self.counts["malformed"] += 1
            return keyservice.encode_response({"op": error.op, "status": error.status, "reason": error.reason})
        op = request["op"]
        requester = partition if identity is None else f"{partition}/{identity}"
        if not self.rules.allows(partition, identity, op):
            self.counts["refused"] += 1
            log(f"refused {op} for {requester}")
            return keyservice.encode_response(
                {"op": op, "status": "not_permitted", "reason": f"{requester} may not {op}"})
        return keyservice.encode_response(self.perform(request, (partition, identity or "")))

    def perform(self, request: dict, requester: tuple[str, str]) -> dict:
        op = request["op"]
        if op == "public_key":
            return {"op": op, "status": "ok", "public_key": self.public_bytes()}
        if op == "sign":
            self.counts["signatures"] += 1
            return {"op": op, "status": "ok", "signature": self.signing.sign(request["data"])}
        if op == "verify":
            try:
                self.public.verify(request["signature"], request["data"])
                valid = True
            except InvalidSignature:
                valid = False
            return {"op": op, "status": "ok", "valid": valid}
        if op == "stats":
            return {"op": op, "status": "ok", **self.counts}
        key = (requester[0], requester[1], request["name"])
        # The requester and name are the associated data: a sealed value moved to another slot does not open.
        associated = "\0".join(key).encode()
        if op == "put":
            # Identities are the partition's own claim: without a bound per partition, one partition could take
            # every name through many identities and leave none for the others.
            if key not in self.store and (len(self.store) >= MAX_NAMES or sum(
                    1 for k in self.store if k[:2] == key[:2]) >= MAX_NAMES_PER_REQUESTER or sum(
                    1 for k in self.store if k[0] == key[0]) >= MAX_NAMES_PER_PARTITION):
                return {"op": op, "status": "storage_full", "reason": "no room for another name"}
            nonce = os.urandom(12)
            self.store[key] = (nonce, self.sealing.encrypt(nonce, request["value"], associated))
            return {"op": op, "status": "ok"}
        # get: another requester's name is not_found, exactly like a name never stored (§5)
        if key not in self.store:
            return {"op": op, "status": "not_found", "reason": "no such name for this requester"}
        nonce, sealed = self.store[key]
        try:
            return {"op": op, "status": "ok", "value": self.sealing.decrypt(nonce, sealed, associated)}
        except InvalidTag:
            return {"op": op, "status": "not_found", "reason": "sealed value does not open"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", action="append", help="PARTITION[/IDENTITY]=OP,OP (first match wins)")
    parser.add_argument("--test-key-seed-file", help="TESTS ONLY: read the 32-byte Ed25519 seed from this file")
    args = parser.parse_args()
    seed = Path(args.test_key_seed_file).read_bytes()[:32] if args.test_key_seed_file else None
    service = KeyService(Rules(args.rule or DEFAULT_RULES), seed)
    guest = attach(features=[IDENTITY])
    beat = Heartbeat(guest)
    log(f"secure attached as session {guest.welcome['session_id']}; key service public key "
        f"{service.public_bytes().hex()}")
    # Answers the hub could not queue yet, per link (the requester's queue towards it is full): sent again in
    # order. One queue per link, so a requester that does not take its answers holds up only its own.
    pending: dict[int, collections.deque[tuple[bytes, int]]] = {}
    dropped: dict[int, int] = {}
    refused: dict[int, int] = {}
    # A link whose queue was full is tried again after a back-off (10 ms, doubling to 320 ms while it stays full),
    # so links that stay stuck cost a try each now and then, not one per request served.
    retry_at: dict[int, float] = {}
    backoff: dict[int, float] = {}
    while True:
        beat.tick()
        now = time.monotonic()
        for link in list(pending):
            if retry_at.get(link, 0.0) > now:
                continue
            waiting = pending[link]
            while waiting:
                answer, correlation = waiting[0]
                status, _ = guest.send(link, answer, correlation=correlation)
                if status in ("queue_full", "rate_limited"):
                    backoff[link] = min(backoff.get(link, 0.005) * 2, 0.32)
                    retry_at[link] = now + backoff[link]
                    break
                waiting.popleft()  # queued, or refused for good: nobody to answer
                if status != "queued":
                    # The hub refused the answer (a requester this partition may not message, keyservice.md §2):
                    # dropped, and logged at the 1st, 2nd, 4th, ... refusal on the link.
                    refused[link] = refused.get(link, 0) + 1
                    if refused[link] & (refused[link] - 1) == 0:
                        log(f"answer on link {link} refused by the hub ({status}): {refused[link]} so far")
            if not waiting:
                del pending[link]
                retry_at.pop(link, None)
                backoff.pop(link, None)
                dropped.pop(link, None)
        wait = 0.1
        if pending:
            wait = max(0.0, min(wait, min(retry_at.get(link, now) for link in pending) - time.monotonic()))
        frame = guest.receive(timeout=wait)
        if frame is None:
            continue
        if frame.type in ("MSG_DELIVER", "MSG_DELIVER_AS"):
            fields = frame.fields
            link = fields["link"]
            answer = service.answer(fields["sender"], fields.get("identity"), bytes(fields["payload"]))
            waiting = pending.setdefault(link, collections.deque())
            if len(waiting) < MAX_PENDING_ANSWERS:
                waiting.append((answer, fields["correlation"]))
            else:
                # The requester has left this many answers untaken: this one is dropped (keyservice.md §1).
                dropped[link] = dropped.get(link, 0) + 1
                service.counts["dropped"] += 1
                if dropped[link] & (dropped[link] - 1) == 0:  # logged at 1, 2, 4, 8, ... drops
                    log(f"{fields['sender']} takes no answers on link {link}: {dropped[link]} dropped")
            guest.ack(link, fields["message_id"])
        elif frame.type == "IRQ":
            guest.eoi(frame.fields["line"])
        elif frame.type == "DETACH":
            return


if __name__ == "__main__":
    main()
