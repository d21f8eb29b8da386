"""Management commands (Protocols/management.md): build and sign envelopes with Ed25519 (the `cryptography`
package from PyPI), key pairs and key ids, and the relay over the `management` device channel.

    key = generate_key()                      # or key_from_seed(bytes(32))
    env = sign(Command("upgrade", "linux", "designer", counter=1, expires_at_ms=..., parameters={...}), [key])
    hub.call("mgmt.submit", {"envelope": base64.b64encode(env).decode()})
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAGIC = b"HHM1"
DOMAIN = b"handsethub-mgmt-v1\x00"
RELAY_DEVICE = "management"


def key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def seed_of(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_hex(key: Ed25519PrivateKey) -> str:
    """The form `management.authorities[].keys` takes: 64 lowercase hex digits."""
    return public_bytes(key).hex()


def key_id(public: bytes) -> bytes:
    """§2.4: the first 8 bytes of the SHA-256 of the 32-byte public key."""
    return hashlib.sha256(public).digest()[:8]


def _s8(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise ValueError(f"{text!r} is longer than 255 bytes")
    return bytes([len(raw)]) + raw


@dataclass
class Command:
    """The signed body (§2.2)."""
    operation: str
    target: str
    authority: str
    counter: int
    expires_at_ms: int
    software_sha256: Optional[bytes] = None
    parameters: Dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        out = bytes([1]) + _s8(self.operation) + _s8(self.target) + _s8(self.authority)
        out += struct.pack(">QQ", self.counter, self.expires_at_ms)
        out += (b"\x01" + self.software_sha256) if self.software_sha256 is not None else b"\x00"
        items = sorted(self.parameters.items(), key=lambda item: item[0].encode())
        out += struct.pack(">H", len(items))
        for name, value in items:
            raw = value.encode()
            out += _s8(name) + struct.pack(">H", len(raw)) + raw
        return out


def provision(target: str, authority: str, counter: int, memory_bytes: int, *, scheduling_class: str | None = None,
              priority: int | None = None, may_interrupt: List[str] = (), may_message: List[str] = (),
              may_open_links: bool = False, devices: List[str] = (), expires_at_ms: int | None = None) -> Command:
    """A `provision` command (Protocols/management.md §9): the hub creates `target` inside the authority's budget
    and answers its secret once (`output["secret"]`)."""
    parameters = {"memoryBytes": str(memory_bytes)}
    if scheduling_class is not None:
        parameters["class"] = scheduling_class
    if priority is not None:
        parameters["priority"] = str(priority)
    for key, names in (("mayInterrupt", may_interrupt), ("mayMessage", may_message), ("devices", devices)):
        if names:
            parameters[key] = ",".join(names)
    if may_open_links:
        parameters["mayOpenLinks"] = "true"
    return Command("provision", target, authority, counter,
                   expires_at_ms if expires_at_ms is not None else expires_in(60), parameters=parameters)


def deprovision(target: str, authority: str, counter: int, expires_at_ms: int | None = None) -> Command:
    """A `deprovision` command (Protocols/management.md §9)."""
    return Command("deprovision", target, authority, counter,
                   expires_at_ms if expires_at_ms is not None else expires_in(60))


def expires_in(seconds: float) -> int:
    """An expiry `seconds` from now, Unix milliseconds."""
    return int((time.time() + seconds) * 1000)


def envelope(body: bytes, keys: List[Ed25519PrivateKey]) -> bytes:
    """The envelope (§2.1) of `body` signed by each of `keys` over the signing input (§2.4)."""
    out = MAGIC + struct.pack(">I", len(body)) + body + bytes([len(keys)])
    for key in keys:
        out += bytes([8]) + key_id(public_bytes(key)) + key.sign(DOMAIN + body)
    return out


def sign(command: Command, keys: List[Ed25519PrivateKey]) -> bytes:
    return envelope(command.body(), keys)


def decode_relay_result(data: bytes) -> dict:
    """One relay answer (§2.3): {"code", "detail", "output"}."""
    status, code_length = data[0], data[1]
    code = data[2:2 + code_length].decode()
    (detail_length,) = struct.unpack(">H", data[2 + code_length:4 + code_length])
    detail = data[4 + code_length:4 + code_length + detail_length].decode()
    if len(detail.encode()) != detail_length or (status == 0) != (code == "accepted"):
        raise ValueError("malformed relay result")
    return {"code": code, "detail": detail, "output": data[4 + code_length + detail_length:].decode()}


# Protocols/management.md §2.6: a local request on the management channel starts with this instead of HHM1.
LOCAL_MAGIC = b"HHL1"


class ManagementRelay:
    """The `mgmt` partition's side of the relay: opens the `management` device channel on a GuestClient and
    submits envelopes, one answer per envelope."""

    def __init__(self, guest, channel: int = 9):
        from handsethub.guest import GuestError
        self.guest = guest
        self.channel = channel
        opened = guest.request("CHANNEL_OPEN", {"device": RELAY_DEVICE, "options": b""}, channel=channel)
        if opened.type != "CHANNEL_OPENED":
            raise GuestError(18, f"expected CHANNEL_OPENED, got {opened.type}")

    def local(self, operation: str, timeout: float = 5.0, **params) -> dict:
        """A local request (Protocols/management.md §2.6): `errors.read`, `errors.reset` or `errors.status` with
        their parameters; returns the result ({"code", "detail", "output"}, output parsed as JSON when accepted)."""
        request = json.dumps({"operation": operation, **params}, separators=(",", ":")).encode()
        result = self.submit(LOCAL_MAGIC + request, timeout=timeout)
        if result["code"] == "accepted" and result["output"]:
            result["output"] = json.loads(result["output"])
        return result

    def submit(self, envelope_bytes: bytes, timeout: float = 5.0) -> dict:
        self.guest.post("CHANNEL_DATA", {"data": envelope_bytes}, channel=self.channel)
        deadline = time.monotonic() + timeout
        # Frames that are not the answer (messages, interrupts) go back to the client's queue, in order, for
        # the caller's own receive loop: an agent must not lose them while it waits.
        others = []
        try:
            while time.monotonic() < deadline:
                frame = self.guest.receive(timeout=max(0.0, deadline - time.monotonic()))
                if frame is not None and frame.type == "CHANNEL_DATA" and frame.channel == self.channel:
                    return decode_relay_result(bytes(frame.fields["data"]))
                if frame is not None:
                    others.append(frame)
        finally:
            self.guest.queue[0:0] = others
        raise TimeoutError("no relay answer")
