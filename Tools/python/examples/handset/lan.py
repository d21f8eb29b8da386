"""A tiny IPv4 host for a sample guest's Ethernet channel (Protocols/ethernet.md, guest ports): it answers ARP
for its address and ICMP echo requests, and pings others (ARP, then echo requests, timing the replies). Enough
for two handsets' linux partitions to ping each other across hubs (Tools/fleet); no routing, no fragments."""

from __future__ import annotations

import struct
import time
from typing import Callable, Dict, List, Optional

BROADCAST = b"\xff" * 6
ARP, IPV4 = 0x0806, 0x0800


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_bytes(text: str) -> bytes:
    parts = [int(p) for p in text.split(".")]
    if len(parts) != 4 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"not an IPv4 address: {text!r}")
    return bytes(parts)


def ip_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


class LanHost:
    """One address on one Ethernet channel. ``send`` puts a frame on the wire; ``feed`` takes one from it."""

    def __init__(self, address: str, send: Callable[[bytes], None], log: Callable[[str], None]):
        self.ip = ip_bytes(address)
        self.mac = b"\x02\x00" + self.ip  # locally administered, unique per address
        self.send = send
        self.log = log
        self.neighbours: Dict[bytes, bytes] = {}
        self.ping: Optional[dict] = None
        self.echoes_answered = 0

    # -- wire -------------------------------------------------------------------------------------

    def ethernet(self, destination: bytes, kind: int, payload: bytes) -> None:
        self.send(destination + self.mac + struct.pack("!H", kind) + payload)

    def arp(self, operation: int, target_mac: bytes, target_ip: bytes, destination: bytes) -> None:
        body = struct.pack("!HHBBH", 1, IPV4, 6, 4, operation) + self.mac + self.ip + target_mac + target_ip
        self.ethernet(destination, ARP, body)

    def ipv4(self, destination_mac: bytes, destination_ip: bytes, protocol: int, payload: bytes) -> None:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, protocol, 0, self.ip,
                             destination_ip)
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        self.ethernet(destination_mac, IPV4, header + payload)

    def icmp(self, kind: int, identifier: int, sequence: int, data: bytes) -> bytes:
        message = struct.pack("!BBHHH", kind, 0, 0, identifier, sequence) + data
        return message[:2] + struct.pack("!H", checksum(message)) + message[4:]

    # -- receive ----------------------------------------------------------------------------------

    def feed(self, frame: bytes) -> None:
        if len(frame) < 14:
            return
        kind = struct.unpack("!H", frame[12:14])[0]
        if kind == ARP and len(frame) >= 42:
            self.on_arp(frame[14:42])
        elif kind == IPV4 and len(frame) >= 34:
            self.on_ipv4(frame[14:])

    def on_arp(self, body: bytes) -> None:
        operation = struct.unpack("!H", body[6:8])[0]
        sender_mac, sender_ip, target_ip = body[8:14], body[14:18], body[24:28]
        self.neighbours[sender_ip] = sender_mac
        if operation == 1 and target_ip == self.ip:
            self.arp(2, sender_mac, sender_ip, sender_mac)
        if self.ping and self.ping["ip"] == sender_ip and self.ping["mac"] is None:
            self.ping["mac"] = sender_mac

    def on_ipv4(self, packet: bytes) -> None:
        header_length = (packet[0] & 0x0F) * 4
        if packet[0] >> 4 != 4 or packet[9] != 1 or packet[16:20] != self.ip or len(packet) < header_length + 8:
            return
        source = packet[12:16]
        message = packet[header_length:struct.unpack("!H", packet[2:4])[0]]
        kind, _, _, identifier, sequence = struct.unpack("!BBHHH", message[:8])
        if kind == 8 and source in self.neighbours:
            self.ipv4(self.neighbours[source], source, 1, self.icmp(0, identifier, sequence, message[8:]))
            self.echoes_answered += 1
        elif kind == 0 and self.ping and source == self.ping["ip"] and sequence in self.ping["sent"]:
            rtt = (time.monotonic() - self.ping["sent"].pop(sequence)) * 1000
            self.ping["rtts"].append(rtt)
            self.log(f"ping {ip_text(source)}: reply seq={sequence} time={rtt:.2f} ms")

    # -- ping -------------------------------------------------------------------------------------

    def start_ping(self, address: str, count: int = 3) -> None:
        self.ping = {"ip": ip_bytes(address), "mac": self.neighbours.get(ip_bytes(address)), "count": count,
                     "next": 1, "sent": {}, "rtts": [], "due": 0.0, "deadline": time.monotonic() + 5 + count}
        self.log(f"ping {address}: {count} echo requests")

    def tick(self) -> None:
        """Sends what a running ping owes (ARP until answered, then one echo request per 0.2 s)."""
        ping = self.ping
        if not ping:
            return
        now = time.monotonic()
        done = ping["next"] > ping["count"] and not ping["sent"]
        if done or now > ping["deadline"]:
            rtts: List[float] = ping["rtts"]
            summary = f"min/avg/max {min(rtts):.2f}/{sum(rtts) / len(rtts):.2f}/{max(rtts):.2f} ms" if rtts else ""
            self.log(f"ping {ip_text(ping['ip'])}: {len(rtts)}/{ping['count']} replies {summary}".rstrip())
            self.ping = None
            return
        if now < ping["due"]:
            return
        ping["due"] = now + 0.2
        if ping["mac"] is None:
            self.arp(1, b"\0" * 6, ping["ip"], BROADCAST)
        elif ping["next"] <= ping["count"]:
            sequence = ping["next"]
            ping["next"] += 1
            ping["sent"][sequence] = now
            self.ipv4(ping["mac"], ping["ip"], 1, self.icmp(8, 0x4848, sequence, b"handsethub-ping!" * 2))
