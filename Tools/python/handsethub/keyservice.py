"""The key service protocol (Protocols/keyservice.md): request and response codecs, written from the spec, and a
client that asks the `secure` partition over a guest link.

Values are plain dicts with the spec's field names: a request {"op": "sign", "data": b"..."}; a response
{"op": "sign", "status": "ok", "signature": b"..."} or {"op": ..., "status": "not_permitted", "reason": "..."}.
"""

from __future__ import annotations

import itertools
import os
import struct
import time
from typing import Any

VERSION = 1
OPS = {1: "public_key", 2: "sign", 3: "verify", 4: "put", 5: "get", 6: "stats"}
OP_NUMBERS = {name: number for number, name in OPS.items()}
STATUSES = {0: "ok", 1: "malformed", 2: "bad_version", 3: "unknown_op", 4: "not_permitted", 5: "not_found",
            6: "too_large", 7: "storage_full"}
STATUS_NUMBERS = {name: number for number, name in STATUSES.items()}
MAX_DATA = 16384
MAX_VALUE = 1024
MAX_NAME = 64
MAX_REASON = 256
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
STATS_FIELDS = ("requests", "signatures", "refused", "malformed")
# The fifth counter (keyservice.md §3.2): absent from a four-counter answer. Counters after it are ignored.
STATS_OPTIONAL = ("dropped",)
STATS_COUNTERS = range(4, 17)
MAX_WAITING_ANSWERS = 1024  # per link, in the service (§1)
NAME_ALPHABET = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class KeyServiceError(ValueError):
    """A request or response that breaks §3.3: `status` is the response status a service answers with."""

    def __init__(self, status: str, reason: str, op: int = 0):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason
        self.op = op


def _name_bytes(name: str | bytes) -> bytes:
    raw = name.encode("ascii", errors="replace") if isinstance(name, str) else bytes(name)
    if not 1 <= len(raw) <= MAX_NAME or not all(byte in NAME_ALPHABET for byte in raw):
        raise KeyServiceError("malformed", f"storage name {name!r}: 1-64 bytes of letters, digits, . _ -")
    return raw


# --- requests (§3.1) ------------------------------------------------------------------------------------------

def encode_request(request: dict[str, Any]) -> bytes:
    op = request["op"]
    out = bytearray((VERSION, OP_NUMBERS[op]))
    if op in ("sign", "verify"):
        if op == "verify":
            signature = bytes(request["signature"])
            if len(signature) != SIGNATURE_BYTES:
                raise KeyServiceError("malformed", "a signature is 64 bytes", OP_NUMBERS[op])
            out += signature
        out += bytes(request["data"])
    elif op in ("put", "get"):
        name = _name_bytes(request["name"])
        out += bytes((len(name),)) + name
        if op == "put":
            out += bytes(request["value"])
    return bytes(out)


def decode_request(payload: bytes) -> dict[str, Any]:
    """§3.3, in its order; raises KeyServiceError naming the status the service answers with."""
    payload = bytes(payload)
    if len(payload) < 2:
        raise KeyServiceError("malformed", f"{len(payload)} bytes: no version and op")
    version, number = payload[0], payload[1]
    if version != VERSION:
        raise KeyServiceError("bad_version", f"version {version}", number)
    if number not in OPS:
        raise KeyServiceError("unknown_op", f"op {number}", number)
    op, body = OPS[number], payload[2:]
    if op in ("public_key", "stats"):
        if body:
            raise KeyServiceError("malformed", f"{len(body)} bytes after {op}", number)
        return {"op": op}
    if op in ("sign", "verify"):
        signature = b""
        if op == "verify":
            if len(body) < SIGNATURE_BYTES:
                raise KeyServiceError("malformed", "signature cut short", number)
            signature, body = body[:SIGNATURE_BYTES], body[SIGNATURE_BYTES:]
        if len(body) > MAX_DATA:
            raise KeyServiceError("too_large", f"data of {len(body)} bytes > {MAX_DATA}", number)
        return {"op": "sign", "data": body} if op == "sign" else {"op": "verify", "signature": signature, "data": body}
    # put, get: a storage name first
    if not body or body[0] == 0 or body[0] > MAX_NAME or len(body) < 1 + body[0]:
        raise KeyServiceError("malformed", "storage name length 0, over 64 or past the end", number)
    raw = body[1:1 + body[0]]
    if not all(byte in NAME_ALPHABET for byte in raw):
        raise KeyServiceError("malformed", "storage name byte outside letters, digits, . _ -", number)
    rest = body[1 + body[0]:]
    if op == "get":
        if rest:
            raise KeyServiceError("malformed", f"{len(rest)} bytes after the name", number)
        return {"op": "get", "name": raw.decode("ascii")}
    if len(rest) > MAX_VALUE:
        raise KeyServiceError("too_large", f"value of {len(rest)} bytes > {MAX_VALUE}", number)
    return {"op": "put", "name": raw.decode("ascii"), "value": rest}


# --- responses (§3.2) -----------------------------------------------------------------------------------------

def encode_response(response: dict[str, Any]) -> bytes:
    op = response["op"]
    number = OP_NUMBERS.get(op, op if isinstance(op, int) else 0)
    status = response["status"]
    out = bytearray((VERSION, number, STATUS_NUMBERS[status]))
    if status != "ok":
        reason = str(response.get("reason", "")).encode("utf-8")[:MAX_REASON]
        while reason:
            try:
                reason.decode("utf-8")
                break
            except UnicodeDecodeError:
                reason = reason[:-1]
        return bytes(out + struct.pack(">H", len(reason)) + reason)
    if op == "public_key":
        out += bytes(response["public_key"])
    elif op == "sign":
        out += bytes(response["signature"])
    elif op == "verify":
        out += b"\x01" if response["valid"] else b"\x00"
    elif op == "get":
        out += bytes(response["value"])
    elif op == "stats":
        names = STATS_FIELDS + tuple(name for name in STATS_OPTIONAL if name in response)
        out += struct.pack(f">{len(names)}Q", *(response[name] for name in names))
    return bytes(out)


def decode_response(payload: bytes) -> dict[str, Any]:
    """A client's decoder: raises KeyServiceError("malformed", ...) for anything §3.2 does not allow."""
    payload = bytes(payload)
    if len(payload) < 3:
        raise KeyServiceError("malformed", f"response of {len(payload)} bytes")
    version, number, status_number = payload[0], payload[1], payload[2]
    if version != VERSION:
        raise KeyServiceError("malformed", f"response version {version}")
    if status_number not in STATUSES:
        raise KeyServiceError("malformed", f"undefined status {status_number}")
    status, body = STATUSES[status_number], payload[3:]
    if status != "ok":
        if len(body) < 2 or len(body) != 2 + struct.unpack(">H", body[:2])[0]:
            raise KeyServiceError("malformed", "reason length does not match")
        if len(body) - 2 > MAX_REASON:
            raise KeyServiceError("malformed", "reason over 256 bytes")
        try:
            reason = body[2:].decode("utf-8")
        except UnicodeDecodeError as error:
            raise KeyServiceError("malformed", "reason is not UTF-8") from error
        return {"op": OPS.get(number, number), "status": status, "reason": reason}
    if number not in OPS:
        raise KeyServiceError("malformed", f"ok for undefined op {number}")
    op = OPS[number]
    sizes = {"public_key": PUBLIC_KEY_BYTES, "sign": SIGNATURE_BYTES, "verify": 1, "put": 0}
    if op in sizes and len(body) != sizes[op]:
        raise KeyServiceError("malformed", f"{op} result of {len(body)} bytes, not {sizes[op]}")
    if op == "stats" and (len(body) % 8 or len(body) // 8 not in STATS_COUNTERS):
        raise KeyServiceError("malformed", f"stats result of {len(body)} bytes, not 4...16 counters of 8")
    if op == "public_key":
        return {"op": op, "status": status, "public_key": body}
    if op == "sign":
        return {"op": op, "status": status, "signature": body}
    if op == "verify":
        if body[0] > 1:
            raise KeyServiceError("malformed", f"valid {body[0]} is not 0 or 1")
        return {"op": op, "status": status, "valid": body[0] == 1}
    if op == "get":
        if len(body) > MAX_VALUE:
            raise KeyServiceError("malformed", "value over 1024 bytes")
        return {"op": op, "status": status, "value": body}
    if op == "stats":
        names = STATS_FIELDS + STATS_OPTIONAL
        counters = struct.unpack(f">{len(body) // 8}Q", body)[:len(names)]
        return {"op": op, "status": status, **dict(zip(names, counters))}
    return {"op": op, "status": status}


# --- client ---------------------------------------------------------------------------------------------------

_CORRELATIONS = itertools.count((int.from_bytes(os.urandom(2), "big") << 32) + 1)


class KeyServiceClient:
    """Asks the key service over `link` (a link id of `guest`'s WELCOME whose peer is the service).

    With `identity`, requests go as MSG_SEND_AS (the guest must have negotiated the `identity` feature,
    Protocols/guest.md §7.12). Each call sends one request and waits for the answer with its correlation;
    other frames that arrive meanwhile stay queued in the guest for its own `receive`. The answer is acknowledged
    unless an earlier message on the link still waits in that queue (acknowledgements are cumulative).
    """

    def __init__(self, guest: Any, link: int, identity: str | None = None, timeout: float = 5.0,
                 retry_rate_limited: float = 0.0):
        self.guest = guest
        self.link = link
        self.identity = identity
        self.timeout = timeout
        # With a delay > 0, a send the hub refuses as over the link's rate budget (or queue_full, which a hub
        # says instead to guests without the rate-limit feature) is sent again after that delay, until `timeout`.
        self.retry_rate_limited = retry_rate_limited

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Sends `request`; returns the decoded response. A send the hub refused (for instance "rate_limited")
        raises KeyServiceError with that status, so a caller can tell the hub's refusal from the service's."""
        # One sequence for every client in the process: several clients may share one guest connection.
        correlation = next(_CORRELATIONS)
        payload = encode_request(request)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.identity is None:
                status, _ = self.guest.send(self.link, payload, correlation=correlation)
            else:
                status, _ = self.guest.send_as(self.link, self.identity, payload, correlation=correlation)
            if status not in ("rate_limited", "queue_full") or self.retry_rate_limited <= 0 \
                    or time.monotonic() + self.retry_rate_limited > deadline:
                break
            time.sleep(self.retry_rate_limited)
        if status != "queued":
            raise KeyServiceError(status, f"the hub answered {status}", OP_NUMBERS[request["op"]])
        return decode_response(self._await(correlation))

    def _await(self, correlation: int) -> bytes:
        deadline = time.monotonic() + self.timeout
        guest = self.guest
        while True:
            for index, frame in enumerate(guest.queue):
                fields = frame.fields
                if frame.type in ("MSG_DELIVER", "MSG_DELIVER_AS") and fields["link"] == self.link \
                        and fields["correlation"] == correlation:
                    del guest.queue[index]
                    # MSG_ACK is cumulative (Protocols/guest.md §7.4): acknowledge only when no earlier message on
                    # the link still waits for the caller, whose own acknowledgement then covers this one.
                    if not any(other.type in ("MSG_DELIVER", "MSG_DELIVER_AS") and other.fields["link"] == self.link
                               for other in guest.queue[:index]):
                        guest.ack(self.link, fields["message_id"])
                    return bytes(fields["payload"])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no key service answer for correlation {correlation}")
            try:
                guest._fill(remaining)
            except TimeoutError:
                pass

    def _ok(self, response: dict[str, Any]) -> dict[str, Any]:
        if response["status"] != "ok":
            raise KeyServiceError(response["status"], response.get("reason", ""))
        return response

    def public_key(self) -> bytes:
        return self._ok(self.call({"op": "public_key"}))["public_key"]

    def sign(self, data: bytes) -> bytes:
        return self._ok(self.call({"op": "sign", "data": bytes(data)}))["signature"]

    def verify(self, signature: bytes, data: bytes) -> bool:
        return self._ok(self.call({"op": "verify", "signature": bytes(signature), "data": bytes(data)}))["valid"]

    def put(self, name: str, value: bytes) -> None:
        self._ok(self.call({"op": "put", "name": name, "value": bytes(value)}))

    def get(self, name: str) -> bytes:
        return self._ok(self.call({"op": "get", "name": name}))["value"]

    def stats(self) -> dict[str, int]:
        response = self._ok(self.call({"op": "stats"}))
        return {name: response[name] for name in STATS_FIELDS + STATS_OPTIONAL if name in response}
