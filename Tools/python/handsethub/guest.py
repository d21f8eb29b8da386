"""HandsetHub guest protocol, version 1 (Protocols/guest.md), standard library only.

Written from the spec alone, independently of the Swift codec, so the two keep each other honest.

A frame is ``Frame(type, channel, request_id, fields)`` where ``type`` is the spec name ("RAISE"),
and ``fields`` uses the spec's snake_case field names. Byte runs are ``bytes``; booleans are
``bool``; enumerations are ints (see the constants below).
"""

from __future__ import annotations

import hashlib
import hmac
import mmap
import os
import math
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
MIN_VERSION = 1
DEFAULT_MAX_FRAME = 1024 * 1024 + 64
NO_LINE = 0xFFFF
HEADER = struct.Struct(">HHI")

TYPES = {
    "HELLO": 0x0001, "CHALLENGE": 0x0002, "PROOF": 0x0003, "WELCOME": 0x0004, "ERROR": 0x0005, "OK": 0x0006,
    "RAISE": 0x0101, "RAISE_RESULT": 0x0102, "IRQ": 0x0103, "EOI": 0x0104, "MASK": 0x0105, "UNMASK": 0x0106,
    "SET_PRIORITY": 0x0107, "TIMER_SET": 0x0108, "TIMER_CANCEL": 0x0109,
    "MSG_SEND": 0x0201, "MSG_SENT": 0x0202, "MSG_DELIVER": 0x0203, "MSG_ACK": 0x0204, "CREDIT": 0x0205,
    "LINK_OPEN": 0x0206, "LINK_OPENED": 0x0207, "LINK_CLOSE": 0x0208, "LINK_CLOSED": 0x0209,
    "MSG_SEND_SEQ": 0x020A, "SEND_SEQUENCES": 0x020B, "MSG_SEND_AS": 0x020C, "MSG_DELIVER_AS": 0x020D,
    "REGION_READ": 0x0301, "REGION_DATA": 0x0302, "REGION_WRITE": 0x0303, "REGION_RESULT": 0x0304,
    "REGION_FD": 0x0305,
    "HEARTBEAT": 0x0401, "HEARTBEAT_ACK": 0x0402, "SUSPEND": 0x0403, "RESUME": 0x0404, "DETACH": 0x0405,
    "MARK_GOOD": 0x0406, "ERROR_REPORT": 0x0407, "POLICY_ACTIVATE": 0x0410, "POLICY_CHANGED": 0x0411,
    "POWER_STATE": 0x0601, "WAKE_LOCK": 0x0602, "WAKE": 0x0603, "PARTITION_CONTROL": 0x0604,
    "PARTITION_CONTROL_RESULT": 0x0605, "POWER_QUERY": 0x0606, "POWER_INFO": 0x0607,
    "CHANNEL_OPEN": 0x0501, "CHANNEL_OPENED": 0x0502, "CHANNEL_DATA": 0x0503, "CHANNEL_CLOSE": 0x0504,
}
TYPE_NAMES = {number: name for name, number in TYPES.items()}
CHANNEL_TYPES = {"CHANNEL_OPEN", "CHANNEL_OPENED", "CHANNEL_DATA", "CHANNEL_CLOSE"}
ANY_CHANNEL_TYPES = {"ERROR", "OK"}

# §5.5 error codes
ERROR_CODES = {
    1: "bad_version", 2: "unknown_partition", 3: "auth_failed", 4: "already_attached", 5: "not_permitted",
    6: "no_such_partition", 7: "no_such_line", 8: "malformed_frame", 9: "unknown_frame_type", 10: "too_large",
    11: "queue_full", 12: "no_such_link", 13: "out_of_grant", 14: "timeout", 15: "out_of_bounds",
    16: "no_such_region", 17: "handshake_required", 18: "unexpected_frame", 19: "no_such_device",
    20: "channel_in_use", 21: "no_such_channel", 22: "bad_resume_token", 23: "rate_limited",
    24: "shutting_down", 25: "internal_error",
    # feature runtime-links (§7.6)
    26: "name_in_use", 27: "limit_reached", 28: "invalid_argument",
}
# §11: the feature that enables LINK_OPEN/LINK_OPENED/LINK_CLOSE/LINK_CLOSED (§7.6-§7.9)
RUNTIME_LINKS = "runtime-links"
LINK_STATES = {0: "closing", 1: "closed"}
# §11: the feature that enables MSG_SEND_SEQ and SEND_SEQUENCES, idempotent sends (§7.10-§7.11)
SEND_SEQUENCE = "send-sequence"
# §7.12: MSG_SEND_AS / MSG_DELIVER_AS carry the identity a partition acts for; rate-limit makes a send over a
# link's rate budget come back "rate_limited" (status 8) instead of "queue_full"
IDENTITY = "identity"
RATE_LIMIT = "rate-limit"
IDENTITY_ALPHABET = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@:+")


def valid_identity(identity: str | bytes) -> bool:
    """§7.12: 1-64 bytes of ASCII letters, digits and . _ - @ : +"""
    raw = identity.encode("utf-8") if isinstance(identity, str) else bytes(identity)
    return 1 <= len(raw) <= 64 and all(byte in IDENTITY_ALPHABET for byte in raw)

# Feature enabling POLICY_ACTIVATE and the hub's POLICY_CHANGED (guest.md §9.6–§9.7, Protocols/policy.md).
POLICY_PROFILES = "policy-profiles"
RAISE_OUTCOMES = {0: "delivered", 1: "latched", 2: "not_permitted", 3: "no_such_partition", 4: "no_such_line"}
SEND_STATUSES = {0: "queued", 1: "queue_full", 2: "too_large", 3: "no_such_link", 4: "not_permitted",
                 5: "link_closing", 6: "duplicate", 7: "sequence_gap", 8: "rate_limited"}
REGION_STATUSES = {0: "ok", 1: "out_of_grant", 2: "out_of_bounds", 3: "no_such_region"}
ACCESS = {1: "ro", 2: "rw"}
# Protocols/power.md (feature "power")
POWER = "power"
POWER_STATES = {0: "active", 1: "idle", 2: "suspended", 3: "off"}
PLATFORM_STATES = {0: "on", 1: "idle", 2: "suspend"}
PARTITION_ACTIONS = {0: "suspend", 1: "resume"}
PARTITION_CONTROL_STATUSES = {0: "done", 1: "unchanged", 2: "not_permitted", 3: "no_such_partition", 4: "self",
                              5: "not_reading"}
# §9.5: ERROR_REPORT severities; the feature that enables the frame
SEVERITIES = {1: "info", 2: "warning", 3: "error", 4: "critical"}
ERROR_LOG = "error-log"

LIMITS = {"name": 64, "text": 1024, "features": 32, "lines": 1024, "links": 1024, "regions": 256, "peers": 256,
          "region_read": 1024 * 1024}

# Field layouts (§5–§10): (field name, kind). Kinds are handled by _Reader/_write_field.
LAYOUT: dict[str, list[tuple[str, str]]] = {
    "HELLO": [("min_version", "u16"), ("max_version", "u16"), ("partition", "name"), ("features", "features"),
              ("resume_token", "token_opt")],
    "CHALLENGE": [("version", "u16"), ("nonce", "b32"), ("features", "features")],
    "PROOF": [("mac", "b32")],
    "WELCOME": [("session_id", "u64"), ("resume_token", "b16"), ("resumed", "bool"), ("max_frame", "u32"),
                ("heartbeat_ms", "u32"), ("lines", "lines"), ("links", "links"), ("regions", "regions"),
                ("peers", "peers")],
    "ERROR": [("code", "errcode"), ("reason", "text")],
    "OK": [],
    "RAISE": [("partition", "name"), ("line", "u16")],
    "RAISE_RESULT": [("outcome", "outcome")],
    "IRQ": [("line", "u16"), ("priority", "priority"), ("coalesced", "coalesced")],
    "EOI": [("line", "u16")],
    "MASK": [("line", "u16")],
    "UNMASK": [("line", "u16")],
    "SET_PRIORITY": [("line", "u16"), ("priority", "priority")],
    "TIMER_SET": [("line", "u16"), ("first_delay_us", "u64"), ("period_us", "u64")],
    "TIMER_CANCEL": [("line", "u16")],
    "MSG_SEND": [("link", "u32"), ("correlation", "u64"), ("payload", "rest")],
    "MSG_SENT": [("link", "u32"), ("message_id", "u64"), ("status", "send_status")],
    "MSG_DELIVER": [("link", "u32"), ("message_id", "u64"), ("sender", "name"), ("correlation", "u64"),
                    ("payload", "rest")],
    "MSG_ACK": [("link", "u32"), ("up_to", "u64")],
    "CREDIT": [("link", "u32"), ("credit", "u32")],
    "LINK_OPEN": [("name", "name"), ("peer", "name"), ("max_message", "nonzero_u32"), ("depth", "nonzero_u32")],
    "LINK_OPENED": [("id", "u32"), ("name", "name"), ("peer", "name"), ("max_message", "u32"), ("depth", "u32"),
                    ("initial_credit", "u32"), ("existing", "bool"), ("opened_by", "name")],
    "LINK_CLOSE": [("link", "u32")],
    "LINK_CLOSED": [("link", "u32"), ("state", "link_state"), ("held", "u32")],
    "MSG_SEND_SEQ": [("link", "u32"), ("sequence", "nonzero_u64"), ("correlation", "u64"), ("payload", "rest")],
    "SEND_SEQUENCES": [("links", "seq_infos")],
    "MSG_SEND_AS": [("link", "u32"), ("correlation", "u64"), ("identity", "identity"), ("payload", "rest")],
    "MSG_DELIVER_AS": [("link", "u32"), ("message_id", "u64"), ("sender", "name"), ("identity", "identity"),
                       ("correlation", "u64"), ("payload", "rest")],
    "REGION_READ": [("region", "u32"), ("offset", "u64"), ("length", "read_length")],
    "REGION_DATA": [("region", "u32"), ("offset", "u64"), ("data", "rest")],
    "REGION_WRITE": [("region", "u32"), ("offset", "u64"), ("data", "rest")],
    "REGION_RESULT": [("region", "u32"), ("status", "region_status")],
    "REGION_FD": [("region", "u32"), ("access", "access"), ("size", "u64")],
    "HEARTBEAT": [("stamp", "u64")],
    "HEARTBEAT_ACK": [("stamp", "u64")],
    "SUSPEND": [("reason", "text")],
    "RESUME": [],
    "DETACH": [("reason", "text")],
    "MARK_GOOD": [],
    "POWER_STATE": [("state", "power_state")],
    "WAKE_LOCK": [("held", "bool"), ("name", "lock_name")],
    "WAKE": [("source", "name"), ("line", "u16"), ("from", "power_state")],
    "PARTITION_CONTROL": [("action", "pc_action"), ("partition", "name"), ("reason", "text")],
    "PARTITION_CONTROL_RESULT": [("partition", "name"), ("action", "pc_action"), ("status", "pc_status")],
    "POWER_QUERY": [],
    "POWER_INFO": [("platform", "platform_state"), ("partition", "power_state"), ("battery", "battery"),
                   ("charging", "bool"), ("draw_mw", "u32"), ("locks", "u16")],
    "ERROR_REPORT": [("severity", "severity"), ("code", "name"), ("text", "text")],
    "POLICY_ACTIVATE": [("profile", "name")],
    "POLICY_CHANGED": [("generation", "u64"), ("profile", "name"), ("summary", "text")],
    "CHANNEL_OPEN": [("device", "name"), ("options", "rest")],
    "CHANNEL_OPENED": [("max_data", "u32"), ("options", "rest")],
    "CHANNEL_DATA": [("data", "rest")],
    "CHANNEL_CLOSE": [("code", "closecode"), ("reason", "text")],
}
# CHANNEL_CLOSE: 0 (normal) or an ERROR code (guest.md §10.4).
ENUMS = {"severity": (1, SEVERITIES), "errcode": (2, ERROR_CODES), "closecode": (2, {0: "normal", **ERROR_CODES}), "outcome": (1, RAISE_OUTCOMES), "send_status": (1, SEND_STATUSES),
         "region_status": (1, REGION_STATUSES), "access": (1, ACCESS), "link_state": (1, LINK_STATES),
         "power_state": (1, POWER_STATES), "platform_state": (1, PLATFORM_STATES), "pc_action": (1, PARTITION_ACTIONS),
         "pc_status": (1, PARTITION_CONTROL_STATUSES)}
INTS = {"u8": ">B", "u16": ">H", "u32": ">I", "u64": ">Q"}


@dataclass
class Frame:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    channel: int = 0
    request_id: int = 0

    def encode_body(self) -> bytes:
        out = bytearray(HEADER.pack(TYPES[self.type], self.channel, self.request_id))
        for name, kind in LAYOUT[self.type]:
            _write_field(out, kind, self.fields[name])
        return bytes(out)

    def encode(self) -> bytes:
        body = self.encode_body()
        return struct.pack(">I", len(body)) + body


class GuestDecodeError(Exception):
    """One frame body could not be decoded; the stream is still in sync (§3.4)."""

    def __init__(self, kind: str, detail: str, request_id: int | None = None, channel: int | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.request_id = request_id
        self.channel = channel

    @property
    def code(self) -> int:
        return {"unknown_frame_type": 9, "too_large": 10}.get(self.kind, 8)


class GuestStreamError(Exception):
    """The length prefix is over the limit: the connection must close (§3.1)."""


class GuestError(Exception):
    """The hub answered ERROR (or the connection failed)."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"{ERROR_CODES.get(code, code)}: {reason}")
        self.code = code
        self.reason = reason


def _write_name(out: bytearray, text: str) -> None:
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("name longer than 255 bytes")
    out += struct.pack(">B", len(raw)) + raw


def _write_field(out: bytearray, kind: str, value: Any) -> None:
    if kind in INTS:
        out += struct.pack(INTS[kind], value)
    elif kind in ("priority",):
        out += struct.pack(">B", value)
    elif kind == "battery":
        out += struct.pack(">H", value)
    elif kind == "lock_name":
        _write_name(out, value)
    elif kind in ("coalesced", "read_length", "nonzero_u32"):
        out += struct.pack(">I", value)
    elif kind == "nonzero_u64":
        out += struct.pack(">Q", value)
    elif kind == "seq_infos":
        out += struct.pack(">H", len(value))
        for item in value:
            out += struct.pack(">IQ", item["link"], item["last_accepted"])
    elif kind == "bool":
        out += b"\x01" if value else b"\x00"
    elif kind in ENUMS:
        width, _ = ENUMS[kind]
        out += struct.pack(">B" if width == 1 else ">H", value)
    elif kind in ("name", "identity"):
        _write_name(out, value)
    elif kind == "text":
        raw = value.encode("utf-8")[:1024]
        while raw and len(raw) == 1024:  # cut on a character boundary
            try:
                raw.decode("utf-8")
                break
            except UnicodeDecodeError:
                raw = raw[:-1]
        out += struct.pack(">H", len(raw)) + raw
    elif kind in ("b32", "b16", "rest"):
        out += bytes(value)
    elif kind == "token_opt":
        token = b"" if value is None else bytes(value)
        out += struct.pack(">B", len(token)) + token
    elif kind == "features":
        out += struct.pack(">B", len(value))
        for item in value:
            _write_name(out, item)
    elif kind == "peers":
        out += struct.pack(">H", len(value))
        for item in value:
            _write_name(out, item)
    elif kind == "lines":
        out += struct.pack(">H", len(value))
        for item in value:
            out += struct.pack(">HB", item["line"], item["priority"])
    elif kind == "links":
        out += struct.pack(">H", len(value))
        for item in value:
            out += struct.pack(">I", item["id"])
            _write_name(out, item["name"])
            _write_name(out, item["peer"])
            out += struct.pack(">III", item["max_message"], item["depth"], item["initial_credit"])
    elif kind == "regions":
        out += struct.pack(">H", len(value))
        for item in value:
            out += struct.pack(">I", item["id"])
            _write_name(out, item["name"])
            out += struct.pack(">QBH", item["size"], item["access"], item["doorbell_line"])
    else:
        raise ValueError(f"unknown field kind {kind}")


class _Reader:
    def __init__(self, body: memoryview, pos: int, limits: dict[str, int]):
        self.body = body
        self.pos = pos
        self.limits = limits

    def take(self, count: int, field_name: str) -> bytes:
        if len(self.body) - self.pos < count:
            raise GuestDecodeError("truncated", field_name)
        raw = bytes(self.body[self.pos:self.pos + count])
        self.pos += count
        return raw

    def int(self, fmt: str, field_name: str) -> int:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size, field_name))[0]

    def utf8(self, count: int, field_name: str) -> str:
        raw = self.take(count, field_name)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GuestDecodeError("invalid_utf8", field_name) from None

    def name(self, field_name: str) -> str:
        count = self.int(">B", field_name)
        if count > self.limits["name"]:
            raise GuestDecodeError("name_too_long", f"{field_name} is {count} bytes")
        return self.utf8(count, field_name)

    def count(self, fmt: str, field_name: str, limit_key: str, min_element: int) -> int:
        count = self.int(fmt, field_name)
        if count > self.limits[limit_key]:
            raise GuestDecodeError("too_many", f"{count} {field_name}")
        if count * min_element > len(self.body) - self.pos:
            raise GuestDecodeError("truncated", field_name)
        return count

    def priority(self, field_name: str) -> int:
        value = self.int(">B", field_name)
        if value > 15:
            raise GuestDecodeError("invalid_value", f"{field_name} {value} > 15")
        return value

    def field(self, name: str, kind: str) -> Any:
        if kind in INTS:
            return self.int(INTS[kind], name)
        if kind == "priority":
            return self.priority(name)
        if kind == "coalesced":
            value = self.int(">I", name)
            if value == 0:
                raise GuestDecodeError("invalid_value", "coalesced 0")
            return value
        if kind == "battery":
            value = self.int(">H", name)
            if value > 10000:
                raise GuestDecodeError("invalid_value", f"{name} {value} is above 10000")
            return value
        if kind == "lock_name":
            value = self.name(name)
            if not value:
                raise GuestDecodeError("invalid_value", f"empty {name}")
            return value
        if kind == "nonzero_u32":
            value = self.int(">I", name)
            if value == 0:
                raise GuestDecodeError("invalid_value", f"{name} 0")
            return value
        if kind == "nonzero_u64":
            value = self.int(">Q", name)
            if value == 0:
                raise GuestDecodeError("invalid_value", f"{name} 0")
            return value
        if kind == "seq_infos":
            return [{"link": self.int(">I", "link"), "last_accepted": self.int(">Q", "last_accepted")}
                    for _ in range(self.count(">H", name, "links", 12))]
        if kind == "read_length":
            value = self.int(">I", name)
            if value > self.limits["region_read"]:
                raise GuestDecodeError("too_large", f"{name} {value}")
            return value
        if kind == "bool":
            value = self.int(">B", name)
            if value > 1:
                raise GuestDecodeError("invalid_value", f"{name} {value} is not 0 or 1")
            return value == 1
        if kind in ENUMS:
            width, table = ENUMS[kind]
            value = self.int(">B" if width == 1 else ">H", name)
            if value not in table:
                raise GuestDecodeError("invalid_value", f"{name} {value} undefined")
            return value
        if kind == "name":
            return self.name(name)
        if kind == "identity":
            count = self.int(">B", name)
            if count > 64:
                raise GuestDecodeError("name_too_long", f"{name} is {count} bytes")
            raw = self.take(count, name)
            if not valid_identity(raw):
                raise GuestDecodeError("invalid_value", f"{name} is empty or has a byte outside its alphabet")
            return raw.decode("ascii")
        if kind == "text":
            count = self.int(">H", name)
            if count > self.limits["text"]:
                raise GuestDecodeError("name_too_long", f"{name} is {count} bytes")
            return self.utf8(count, name)
        if kind == "b32":
            return self.take(32, name)
        if kind == "b16":
            return self.take(16, name)
        if kind == "rest":
            return self.take(len(self.body) - self.pos, name)
        if kind == "token_opt":
            count = self.int(">B", name)
            if count not in (0, 16):
                raise GuestDecodeError("invalid_value", f"{name} length {count}")
            return self.take(16, name) if count else None
        if kind == "features":
            return [self.name(name) for _ in range(self.count(">B", name, "features", 1))]
        if kind == "peers":
            return [self.name(name) for _ in range(self.count(">H", name, "peers", 1))]
        if kind == "lines":
            return [{"line": self.int(">H", "line"), "priority": self.priority("priority")}
                    for _ in range(self.count(">H", name, "lines", 3))]
        if kind == "links":
            return [{"id": self.int(">I", "link_id"), "name": self.name("link_name"), "peer": self.name("link_peer"),
                     "max_message": self.int(">I", "max_message"), "depth": self.int(">I", "depth"),
                     "initial_credit": self.int(">I", "initial_credit")}
                    for _ in range(self.count(">H", name, "links", 18))]
        if kind == "regions":
            return [{"id": self.int(">I", "region_id"), "name": self.name("region_name"),
                     "size": self.int(">Q", "size"), "access": self.field("access", "access"),
                     "doorbell_line": self.int(">H", "doorbell_line")}
                    for _ in range(self.count(">H", name, "regions", 16))]
        raise ValueError(f"unknown field kind {kind}")


def decode_body(body: bytes, limits: dict[str, int] | None = None) -> Frame:
    """Decodes one frame body (header + payload). Raises GuestDecodeError."""
    limits = limits or LIMITS
    if len(body) < HEADER.size:
        raise GuestDecodeError("truncated", "header")
    type_number, channel, request_id = HEADER.unpack_from(body, 0)
    type_name = TYPE_NAMES.get(type_number)
    try:
        if type_name is None:
            raise GuestDecodeError("unknown_frame_type", hex(type_number))
        if type_name in CHANNEL_TYPES and channel == 0 or (
                type_name not in CHANNEL_TYPES and type_name not in ANY_CHANNEL_TYPES and channel != 0):
            raise GuestDecodeError("wrong_channel", f"{type_name} on channel {channel}")
        reader = _Reader(memoryview(body), HEADER.size, limits)
        fields = {name: reader.field(name, kind) for name, kind in LAYOUT[type_name]}
        if reader.pos != len(body):
            raise GuestDecodeError("trailing_bytes", f"{len(body) - reader.pos} bytes")
    except GuestDecodeError as error:
        error.request_id = request_id
        error.channel = channel
        raise
    return Frame(type_name, fields, channel, request_id)


class FrameDecoder:
    """Splits a byte stream into frames; feed() returns Frame or GuestDecodeError items in order."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME, limits: dict[str, int] | None = None):
        self.max_frame = max_frame
        self.limits = limits or LIMITS
        self.buffer = bytearray()

    def feed_bodies(self, chunk: bytes) -> list[bytes]:
        self.buffer += chunk
        bodies = []
        pos = 0
        while len(self.buffer) - pos >= 4:
            (length,) = struct.unpack_from(">I", self.buffer, pos)
            if length > self.max_frame:
                raise GuestStreamError(f"length {length} exceeds {self.max_frame}")
            if len(self.buffer) - pos - 4 < length:
                break
            bodies.append(bytes(self.buffer[pos + 4:pos + 4 + length]))
            pos += 4 + length
        del self.buffer[:pos]
        return bodies

    def feed(self, chunk: bytes) -> list[Frame | GuestDecodeError]:
        out: list[Frame | GuestDecodeError] = []
        for body in self.feed_bodies(chunk):
            try:
                out.append(decode_body(body, self.limits))
            except GuestDecodeError as error:
                out.append(error)
        return out


def transcript(hello_body: bytes, challenge_body: bytes) -> bytes:
    """§5.3: the HELLO frame body followed by the CHALLENGE frame body, both without length prefix."""
    return bytes(hello_body) + bytes(challenge_body)


def proof(secret: bytes, hello_body: bytes, challenge_body: bytes) -> bytes:
    return hmac.new(secret, transcript(hello_body, challenge_body), hashlib.sha256).digest()


UNSOLICITED = {"IRQ", "MSG_DELIVER", "CREDIT", "SUSPEND", "RESUME", "REGION_FD", "DETACH", "CHANNEL_DATA",
               "CHANNEL_CLOSE", "HEARTBEAT", "LINK_OPENED", "LINK_CLOSED", "SEND_SEQUENCES",
               "MSG_DELIVER_AS", "WAKE", "POLICY_CHANGED"}


class GuestClient:
    """A blocking guest: attach as one partition, then raise, send, receive (Protocols/guest.md)."""

    def __init__(self, sock: socket.socket, timeout: float = 10.0):
        self.sock = sock
        self.timeout = timeout
        self.decoder = FrameDecoder()
        self.queue: list[Frame] = []
        self.fds: list[int] = []
        # channel -> predicate on CHANNEL_DATA bytes: which device frames carry a descriptor (SCM_RIGHTS).
        self.descriptor_claims: dict[int, Any] = {}
        self.next_request_id = 1
        self.welcome: dict[str, Any] = {}
        self.version = 0
        self.hub_features: list[str] = []
        # feature send-sequence (§7.11): link id -> last sequence the hub accepted from this partition
        self.send_sequences: dict[int, int] = {}

    @classmethod
    def connect(cls, endpoint: str, partition: str, secret: bytes | str, resume_token: bytes | None = None,
                features: list[str] | None = None, timeout: float = 10.0) -> "GuestClient":
        """endpoint: "unix:/path" or "tcp:host:port"."""
        if endpoint.startswith("unix:"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(endpoint[5:])
        elif endpoint.startswith("tcp:"):
            host, _, port = endpoint[4:].rpartition(":")
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            raise ValueError(f"bad endpoint {endpoint!r} (want unix:/path or tcp:host:port)")
        client = cls(sock, timeout)
        try:
            client.handshake(partition, secret.encode() if isinstance(secret, str) else secret, resume_token,
                             features or [])
        except BaseException:
            sock.close()
            raise
        return client

    def handshake(self, partition: str, secret: bytes, resume_token: bytes | None, features: list[str]) -> None:
        hello = Frame("HELLO", {"min_version": MIN_VERSION, "max_version": VERSION, "partition": partition,
                                "features": features, "resume_token": resume_token}, request_id=self._request_id())
        hello_body = hello.encode_body()
        self.sock.sendall(struct.pack(">I", len(hello_body)) + hello_body)
        challenge, challenge_body = self._handshake_answer(hello.request_id, "CHALLENGE")
        mac = proof(secret, hello_body, challenge_body)
        proof_frame = Frame("PROOF", {"mac": mac}, request_id=self._request_id())
        self.sock.sendall(proof_frame.encode())
        welcome, _ = self._handshake_answer(proof_frame.request_id, "WELCOME")
        self.version = challenge.fields["version"]
        self.hub_features = challenge.fields["features"]
        self.welcome = welcome.fields
        if SEND_SEQUENCE in features and SEND_SEQUENCE in self.hub_features:
            # §7.11: SEND_SEQUENCES comes right behind WELCOME, before any other frame.
            deadline = time.monotonic() + self.timeout
            while not self.queue:
                self._fill(deadline - time.monotonic())
            first = self.queue.pop(0)
            if first.type != "SEND_SEQUENCES":
                raise GuestError(18, f"expected SEND_SEQUENCES after WELCOME, got {first.type}")

    def _handshake_answer(self, request_id: int, expected: str) -> tuple[Frame, bytes]:
        deadline = time.monotonic() + self.timeout
        while True:
            bodies = self.decoder.feed_bodies(self._read(deadline - time.monotonic()))
            if bodies:
                frame = decode_body(bodies[0])
                if frame.type == "ERROR":
                    raise GuestError(frame.fields["code"], frame.fields["reason"])
                if frame.type != expected or frame.request_id != request_id:
                    raise GuestError(18, f"expected {expected}, got {frame.type}")
                # What the hub sent right behind WELCOME (latched IRQs, queued messages, REGION_FD) may
                # have come in the same read: keep it for receive().
                for body in bodies[1:]:
                    self._accept(decode_body(body))
                return frame, bodies[0]  # the exact bytes the hub sent, for the transcript

    def _request_id(self) -> int:
        value = self.next_request_id
        self.next_request_id = value + 1 if value < 0xFFFFFFFF else 1
        return value

    def _read(self, timeout: float | None) -> bytes:
        if timeout is not None and timeout <= 0:
            raise TimeoutError
        # poll, not select: select() cannot watch a descriptor numbered 1024 or above.
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        if not poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000))):
            raise TimeoutError
        if self.sock.family == socket.AF_UNIX:
            data, ancdata, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    usable = len(payload) - len(payload) % 4
                    self.fds.extend(struct.unpack(f"={usable // 4}i", payload[:usable]))
        else:
            data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("hub closed the connection")
        return data

    def _fill(self, timeout: float | None) -> None:
        for item in self.decoder.feed(self._read(timeout)):
            if isinstance(item, GuestDecodeError):
                raise item
            self._accept(item)

    def _accept(self, item: Frame) -> None:
        if item.type == "SEND_SEQUENCES":  # §7.11: also after LINK_OPENED of an existing link
            self.send_sequences.update({entry["link"]: entry["last_accepted"] for entry in item.fields["links"]})
        if item.type == "HEARTBEAT":
            self.sock.sendall(Frame("HEARTBEAT_ACK", dict(item.fields), request_id=item.request_id).encode())
        if item.type == "REGION_FD":
            item.fields["fd"] = self.fds.pop(0) if self.fds else None
        elif item.type == "CHANNEL_DATA" and item.channel in self.descriptor_claims:
            # A device frame that carries a descriptor (e.g. the framebuffer's SURFACE) takes the next one.
            if self.descriptor_claims[item.channel](item.fields["data"]):
                item.fields["fd"] = self.fds.pop(0) if self.fds else None
        self.queue.append(item)

    def request(self, frame_type: str, fields: dict[str, Any], channel: int = 0) -> Frame:
        """Sends a request and waits for its answer; other frames are queued for receive()."""
        frame = Frame(frame_type, fields, channel, self._request_id())
        self.sock.sendall(frame.encode())
        deadline = time.monotonic() + self.timeout
        while True:
            for index, queued in enumerate(self.queue):
                if queued.request_id == frame.request_id and queued.type != "HEARTBEAT":
                    del self.queue[index]
                    if queued.type == "ERROR":
                        raise GuestError(queued.fields["code"], queued.fields["reason"])
                    return queued
            self._fill(deadline - time.monotonic())

    def post(self, frame_type: str, fields: dict[str, Any], channel: int = 0) -> None:
        """Sends a frame with request id 0 (no answer wanted)."""
        self.sock.sendall(Frame(frame_type, fields, channel, 0).encode())

    # Protocols/power.md (feature "power")
    def declare_power(self, state: str) -> None:
        """POWER_STATE: "active", "idle", "suspended" or "off"."""
        code = {name: value for value, name in POWER_STATES.items()}[state]
        self.request("POWER_STATE", {"state": code})

    def wake_lock(self, name: str, held: bool = True) -> None:
        """WAKE_LOCK: take (held) or release a named wake lock; GuestError limit_reached past the limit."""
        self.request("WAKE_LOCK", {"held": held, "name": name})

    def partition_control(self, action: str, partition: str, reason: str = "") -> str:
        """PARTITION_CONTROL (suspend for priority); returns "done", "unchanged", "not_permitted",
        "no_such_partition" or "self"."""
        code = {name: value for value, name in PARTITION_ACTIONS.items()}[action]
        answer = self.request("PARTITION_CONTROL", {"action": code, "partition": partition, "reason": reason})
        return PARTITION_CONTROL_STATUSES[answer.fields["status"]]

    def power_query(self) -> dict[str, Any]:
        """POWER_QUERY: {"platform", "partition", "battery_percent", "charging", "draw_mw", "locks"}."""
        fields = self.request("POWER_QUERY", {}).fields
        return {"platform": PLATFORM_STATES[fields["platform"]], "partition": POWER_STATES[fields["partition"]],
                "battery_percent": fields["battery"] / 100, "charging": fields["charging"],
                "draw_mw": fields["draw_mw"], "locks": fields["locks"]}

    def raise_irq(self, partition: str, line: int) -> str:
        """RAISE (§6.1); returns "delivered", "latched", "not_permitted", "no_such_partition" or "no_such_line"."""
        answer = self.request("RAISE", {"partition": partition, "line": line})
        return RAISE_OUTCOMES[answer.fields["outcome"]]

    def send(self, link: int, payload: bytes, correlation: int = 0) -> tuple[str, int]:
        """MSG_SEND (§7.1); returns (status name, message id)."""
        answer = self.request("MSG_SEND", {"link": link, "correlation": correlation, "payload": bytes(payload)})
        return SEND_STATUSES[answer.fields["status"]], answer.fields["message_id"]

    def send_as(self, link: int, identity: str, payload: bytes, correlation: int = 0) -> tuple[str, int]:
        """MSG_SEND_AS (§7.12; attach with features=[IDENTITY]): MSG_SEND on behalf of `identity`; returns
        (status name, message id). An identity the protocol cannot carry is refused here, before it is sent."""
        if not valid_identity(identity):
            raise ValueError(f"identity {identity!r}: 1-64 bytes of letters, digits and . _ - @ : +")
        answer = self.request("MSG_SEND_AS", {"link": link, "correlation": correlation, "identity": identity,
                                              "payload": bytes(payload)})
        return SEND_STATUSES[answer.fields["status"]], answer.fields["message_id"]

    def send_seq(self, link: int, sequence: int, payload: bytes, correlation: int = 0) -> tuple[str, int]:
        """MSG_SEND_SEQ (§7.10; attach with features=[SEND_SEQUENCE]); returns (status name, message id):
        "queued", or "duplicate" when the hub accepted this sequence before, or a refusal."""
        answer = self.request("MSG_SEND_SEQ", {"link": link, "sequence": sequence, "correlation": correlation,
                                               "payload": bytes(payload)})
        status = SEND_STATUSES[answer.fields["status"]]
        if status == "queued":
            self.send_sequences[link] = max(self.send_sequences.get(link, 0), sequence)
        elif status in ("duplicate", "sequence_gap", "queue_full", "too_large", "rate_limited"):
            # §7.10: every other answer carries the hub's last accepted sequence in message_id
            self.send_sequences[link] = answer.fields["message_id"]
        return status, answer.fields["message_id"]

    @staticmethod
    def encode_send_seq(link: int, sequence: int, payload: bytes, correlation: int = 0) -> bytes:
        """A whole MSG_SEND_SEQ frame with request id 0 (no answer unless refused), for batching several sends
        into one write (see send_raw)."""
        body = HEADER.pack(TYPES["MSG_SEND_SEQ"], 0, 0) + struct.pack(">IQQ", link, sequence, correlation) + payload
        return struct.pack(">I", len(body)) + body

    def send_raw(self, data: bytes) -> None:
        """Writes already encoded frames (e.g. from encode_send_seq)."""
        self.sock.sendall(data)

    def ack(self, link: int, up_to: int) -> None:
        self.post("MSG_ACK", {"link": link, "up_to": up_to})

    def open_link(self, name: str, peer: str, max_message: int = 4096, depth: int = 64) -> dict[str, Any]:
        """LINK_OPEN (§7.6; attach with features=[RUNTIME_LINKS]). Returns the LINK_OPENED fields: the link_info
        (id, name, peer, max_message, depth, initial_credit), existing, opened_by. Refusals raise GuestError."""
        answer = self.request("LINK_OPEN", {"name": name, "peer": peer, "max_message": max_message, "depth": depth})
        if answer.type != "LINK_OPENED":
            raise GuestError(18, f"unexpected answer {answer.type}")
        return answer.fields

    def close_link(self, link: int) -> tuple[str, int]:
        """LINK_CLOSE (§7.8); returns (state, held): "closed", or "closing" with messages still held."""
        answer = self.request("LINK_CLOSE", {"link": link})
        if answer.type != "LINK_CLOSED":
            raise GuestError(18, f"unexpected answer {answer.type}")
        return LINK_STATES[answer.fields["state"]], answer.fields["held"]

    def activate_policy(self, profile: str | None) -> None:
        """POLICY_ACTIVATE (§9.6; attach with features=[POLICY_PROFILES] as a partition with mayActivatePolicy):
        switches to `profile` (None: the base policy). Returns once the switch is done; refusals raise GuestError
        (not_permitted, invalid_argument). The POLICY_CHANGED this guest is sent lands in `queue` first."""
        answer = self.request("POLICY_ACTIVATE", {"profile": profile or ""})
        if answer.type != "OK":
            raise GuestError(18, f"unexpected answer {answer.type}")

    def policy_changes(self) -> list[dict[str, Any]]:
        """Takes the POLICY_CHANGED frames (§9.7) already received out of `queue`, oldest first, as their fields
        (generation, profile — "" for the base policy —, summary)."""
        changes = [frame.fields for frame in self.queue if frame.type == "POLICY_CHANGED"]
        self.queue = [frame for frame in self.queue if frame.type != "POLICY_CHANGED"]
        return changes

    def eoi(self, line: int) -> None:
        self.post("EOI", {"line": line})

    def heartbeat(self, stamp: int = 0) -> None:
        self.request("HEARTBEAT", {"stamp": stamp})

    def report_error(self, severity: str, code: str, text: str) -> None:
        """ERROR_REPORT (§9.5; attach with features=[ERROR_LOG]): one entry for this partition's error log
        (Protocols/errorlog.md). `severity` is info, warning, error or critical; waits for the hub's OK and
        raises GuestError (e.g. 9 unknown_frame_type without the feature, 23 rate_limited) otherwise."""
        number = {name: value for value, name in SEVERITIES.items()}[severity]
        self.request("ERROR_REPORT", {"severity": number, "code": code, "text": text})

    def read_region(self, region: int, offset: int, length: int) -> bytes:
        answer = self.request("REGION_READ", {"region": region, "offset": offset, "length": length})
        if answer.type == "REGION_RESULT":
            status = answer.fields["status"]
            raise GuestError({1: 13, 2: 15, 3: 16}.get(status, 25), REGION_STATUSES.get(status, str(status)))
        return answer.fields["data"]

    def write_region(self, region: int, offset: int, data: bytes) -> str:
        answer = self.request("REGION_WRITE", {"region": region, "offset": offset, "data": bytes(data)})
        return REGION_STATUSES[answer.fields["status"]]

    def receive(self, timeout: float | None = None) -> Frame | None:
        """The next unsolicited frame (IRQ, MSG_DELIVER, CREDIT, ...), or None after timeout seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.queue:
            try:
                self._fill(None if deadline is None else deadline - time.monotonic())
            except TimeoutError:
                return None
        return self.queue.pop(0)

    def detach(self, reason: str = "") -> None:
        try:
            self.post("DETACH", {"reason": reason})
        finally:
            self.close()

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()
        self.sock.close()

    def __enter__(self) -> "GuestClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- Framebuffer channel (Protocols/framebuffer.md §3) -------------------------------------------------

KEY_NAMES = {0x30 + d: str(d) for d in range(10)}
KEY_NAMES.update({0x2A: "*", 0x23: "#", 0x100: "up", 0x101: "down", 0x102: "left", 0x103: "right",
                  0x104: "select", 0x105: "soft-left", 0x106: "soft-right", 0x107: "call", 0x108: "end",
                  0x109: "clear"})
TOUCH_ACTIONS = {0: "down", 1: "move", 2: "up"}


def bgrx(rgb: int) -> bytes:
    """One pixel as the channel carries it: blue, green, red, unused."""
    return bytes(((rgb & 0xFF), (rgb >> 8) & 0xFF, (rgb >> 16) & 0xFF, 0))


class FramebufferChannel:
    """Draws on a hub framebuffer and receives input over a device channel of a GuestClient."""

    def __init__(self, guest: GuestClient, device: str = "fb0", channel: int = 7):
        self.guest = guest
        self.channel = channel
        opened = guest.request("CHANNEL_OPEN", {"device": device, "options": b""}, channel=channel)
        if opened.type != "CHANNEL_OPENED":
            raise GuestError(18, f"expected CHANNEL_OPENED, got {opened.type}")
        self.max_data = opened.fields["max_data"]
        options = opened.fields["options"]
        self.width, self.height, focused, may_preempt, count = struct.unpack(">HHBBB", options[:7])
        self.focused = bool(focused)
        self.may_preempt = bool(may_preempt)
        self.regions = [struct.unpack(">HHHH", options[7 + 8 * i:15 + 8 * i]) for i in range(count)]
        self.events: list[dict[str, Any]] = []
        self.surface: mmap.mmap | None = None
        self.stride = 0
        guest.descriptor_claims[channel] = lambda data: data[:1] == b"\x86"

    def _post(self, data: bytes) -> None:
        self.guest.post("CHANNEL_DATA", {"data": data}, channel=self.channel)

    def put(self, x: int, y: int, w: int, h: int, pixels: bytes, compress: bool = False) -> None:
        """Raw pixels (4 bytes each, see bgrx); split into several commands when over max_data."""
        row = w * 4
        rows_per = max(1, (self.max_data - 64) // row)
        for top in range(0, h, rows_per):
            count = min(rows_per, h - top)
            chunk = pixels[top * row:(top + count) * row]
            if compress:
                import zlib
                chunk = zlib.compress(chunk, 1)
            self._post(struct.pack(">BHHHHB", 1, x, y + top, w, count, 1 if compress else 0) + chunk)

    def fill(self, x: int, y: int, w: int, h: int, rgb: int) -> None:
        self._post(struct.pack(">BHHHHI", 2, x, y, w, h, rgb))

    def copy(self, src_x: int, src_y: int, x: int, y: int, w: int, h: int) -> None:
        self._post(struct.pack(">BHHHHHH", 3, src_x, src_y, x, y, w, h))

    def frame(self, number: int) -> None:
        self._post(struct.pack(">BI", 4, number))

    def preempt(self) -> None:
        self._post(b"\x05")

    def release(self) -> None:
        self._post(b"\x06")

    def map_surface(self, timeout: float = 5.0) -> mmap.mmap:
        """Asks for the shared-memory surface (Unix sockets only) and maps it read-write.

        The mapping is the whole screen, ``self.stride`` bytes per row, 4 bytes per pixel (see bgrx);
        draw into it, then call flush() naming what changed."""
        if self.surface is not None:
            return self.surface
        self._post(b"\x07")
        event = self.next_event(timeout, kind="surface")
        if event is None:
            raise GuestError(14, "no SURFACE answer")
        if event.get("fd") is None:
            raise GuestError(18, "SURFACE came without a descriptor")
        try:
            self.surface = mmap.mmap(event["fd"], event["size"], mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(event["fd"])
        self.stride = event["stride"]
        return self.surface

    def draw(self, x: int, y: int, w: int, h: int, pixels: bytes) -> None:
        """Writes ``w*h`` pixels (4 bytes each) into the shared surface; nothing is shown until flush()."""
        surface = self.map_surface()
        row = w * 4
        for line in range(h):
            start = (y + line) * self.stride + x * 4
            surface[start:start + row] = pixels[line * row:(line + 1) * row]

    def flush(self, x: int, y: int, w: int, h: int, *more: tuple[int, int, int, int]) -> None:
        """FLUSH: the hub composes these rectangles of the shared surface (checked like put)."""
        rects = [(x, y, w, h), *more]
        self._post(struct.pack(">BB", 8, len(rects)) + b"".join(struct.pack(">HHHH", *r) for r in rects))

    @staticmethod
    def decode_event(data: bytes) -> dict[str, Any]:
        tag = data[0]
        if tag == 0x81:
            down, code, keysym = struct.unpack(">BHI", data[1:8])
            return {"event": "key", "down": bool(down), "key": KEY_NAMES.get(code, code), "keysym": keysym}
        if tag == 0x82:
            action, x, y = struct.unpack(">BHH", data[1:6])
            return {"event": "touch", "action": TOUCH_ACTIONS.get(action, action), "x": x, "y": y}
        if tag == 0x83:
            return {"event": "frame_done", "frame": struct.unpack(">I", data[1:5])[0]}
        if tag == 0x84:
            return {"event": "focus", "focused": bool(data[1])}
        if tag == 0x85:
            return {"event": "preemption", "by": data[2:2 + data[1]].decode()}
        if tag == 0x86:
            width, height, stride, size = struct.unpack(">HHIQ", data[1:17])
            return {"event": "surface", "width": width, "height": height, "stride": stride, "size": size}
        return {"event": "unknown", "data": data}

    def next_event(self, timeout: float = 5.0, kind: str | None = None) -> dict[str, Any] | None:
        """The next event on this channel (of ``kind`` if given); others of other kinds are kept."""
        for index, event in enumerate(self.events):
            if kind is None or event["event"] == kind:
                return self.events.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            frame = self.guest.receive(remaining)
            if frame is None:
                return None
            if frame.channel != self.channel:
                continue
            if frame.type == "ERROR":
                # A refused command: the guest-protocol ERROR frame on this channel (framebuffer.md §3.2).
                event = {"event": "error", "code": frame.fields["code"], "reason": frame.fields["reason"]}
            elif frame.type == "CHANNEL_DATA":
                event = self.decode_event(frame.fields["data"])
                if "fd" in frame.fields:
                    event["fd"] = frame.fields["fd"]
            else:
                continue
            if kind is None or event["event"] == kind:
                return event
            self.events.append(event)
