#!/usr/bin/env python3
"""Writes the guest-protocol test vectors (Protocols/guest.md) to frames.vectors (format:
Protocols/vectors/README.md).

The bytes are spelled out field by field from the spec, independently of both codecs (Swift
GuestWire and Tools/python/handsethub/guest.py); each vector's hex annotates every field so a reader
can check it against the spec by eye. Re-run after changing the spec: python3 generate.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

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


def u8(v, c): return (struct.pack(">B", v), c)
def u16(v, c): return (struct.pack(">H", v), c)
def u32(v, c): return (struct.pack(">I", v), c)
def u64(v, c): return (struct.pack(">Q", v), c)
def raw(b, c): return (bytes(b), c)


def name(text, c):
    b = text.encode() if isinstance(text, str) else text
    return [u8(len(b), c + " length"), raw(b, c + " " + repr(text))]


def reason(text, c):
    b = text.encode()
    return [u16(len(b), c + " length"), raw(b, c + " " + repr(text))]


def flatten(parts):
    out = []
    for p in parts:
        if isinstance(p, list):
            out.extend(flatten(p))
        else:
            out.append(p)
    return out


def hx(b): return {"hex": bytes(b).hex()}


def write(file, title, type_num, channel, request_id, parts, length=None, type_comment=None):
    parts = flatten(parts)
    body_len = 8 + sum(len(b) for b, _ in parts)
    lines = [f"# {title}"]
    lines.append(f"{struct.pack('>I', body_len if length is None else length).hex()}  # length prefix")
    lines.append(f"{struct.pack('>H', type_num).hex()}  # type {type_comment or hex(type_num)}")
    lines.append(f"{struct.pack('>H', channel).hex()}  # channel {channel}")
    lines.append(f"{struct.pack('>I', request_id).hex()}  # request id {request_id}")
    for b, c in parts:
        if b:
            lines.append(f"{b.hex()}  # {c}")
        else:
            lines.append(f"# (empty) {c}")
    texts[file] = lines


# The annotated hex of each vector by its file-style name, in the order written.
texts = {}


def vector_text(file, lines, outcome_key, outcome):
    """One vector of frames.vectors: its name, title comment, hex lines (indented), expected outcome."""
    out = [f"name: {file[:-4]}", lines[0], "hex:"]
    for line in lines[1:]:
        out.append(line if line.startswith("#") else "  " + line)
    out.append(f"{outcome_key}: " + json.dumps(outcome, ensure_ascii=False))
    return "\n".join(out)


vectors = []
malformed = []


def vec(file, t, fields, parts, channel=0, request_id=0):
    write(file, f"{t}: valid", TYPES[t], channel, request_id, parts, type_comment=t)
    vectors.append({"file": file, "type": t, "channel": channel, "request_id": request_id, "fields": fields})


token = bytes(range(0xa0, 0xb0))
nonce = bytes(range(0x00, 0x20))
mac = bytes(range(0xe0, 0x100))

vec("hello.hex", "HELLO",
    {"min_version": 1, "max_version": 3, "partition": "rtos", "features": ["irq", "msg"], "resume_token": None},
    [u16(1, "min version"), u16(3, "max version"), name("rtos", "partition"), u8(2, "feature count"),
     name("irq", "feature"), name("msg", "feature"), u8(0, "resume token length (none)")], request_id=1)
vec("hello-resume.hex", "HELLO",
    {"min_version": 1, "max_version": 1, "partition": "linux", "features": [], "resume_token": hx(token)},
    [u16(1, "min version"), u16(1, "max version"), name("linux", "partition"), u8(0, "feature count"),
     u8(16, "resume token length"), raw(token, "resume token")], request_id=1)
vec("challenge.hex", "CHALLENGE",
    {"version": 1, "nonce": hx(nonce), "features": ["irq", "msg", "region"]},
    [u16(1, "chosen version"), raw(nonce, "nonce (32 bytes)"), u8(3, "hub feature count"),
     name("irq", "feature"), name("msg", "feature"), name("region", "feature")], request_id=1)
vec("proof.hex", "PROOF", {"mac": hx(mac)}, [raw(mac, "HMAC-SHA256 (32 bytes)")], request_id=2)
vec("welcome.hex", "WELCOME", {
    "session_id": 0x0102030405060708, "resume_token": hx(token), "resumed": False, "max_frame": 1048640,
    "heartbeat_ms": 5000,
    "lines": [{"line": 0, "priority": 0}, {"line": 1, "priority": 4}, {"line": 7, "priority": 15}],
    "links": [{"id": 1, "name": "rtos-linux", "peer": "linux", "max_message": 4096, "depth": 256,
               "initial_credit": 64}],
    "regions": [{"id": 2, "name": "shm0", "size": 65536, "access": 2, "doorbell_line": 3},
                {"id": 3, "name": "rom", "size": 4096, "access": 1, "doorbell_line": 0xffff}],
    "peers": ["linux", "secure"]},
    [u64(0x0102030405060708, "session id"), raw(token, "resume token"), u8(0, "resumed: no"),
     u32(1048640, "max frame length"), u32(5000, "heartbeat ms"),
     u16(3, "line count"), u16(0, "line 0"), u8(0, "priority 0"), u16(1, "line 1"), u8(4, "priority 4"),
     u16(7, "line 7"), u8(15, "priority 15"),
     u16(1, "link count"), u32(1, "link id"), name("rtos-linux", "link name"), name("linux", "peer"),
     u32(4096, "max message"), u32(256, "depth"), u32(64, "initial credit"),
     u16(2, "region count"), u32(2, "region id"), name("shm0", "region name"), u64(65536, "size"),
     u8(2, "access rw"), u16(3, "doorbell line 3"),
     u32(3, "region id"), name("rom", "region name"), u64(4096, "size"), u8(1, "access ro"),
     u16(0xffff, "no doorbell"),
     u16(2, "peer count"), name("linux", "peer"), name("secure", "peer")], request_id=2)
vec("welcome-resumed.hex", "WELCOME", {
    "session_id": 9, "resume_token": hx(token), "resumed": True, "max_frame": 1048640, "heartbeat_ms": 0,
    "lines": [], "links": [], "regions": [], "peers": []},
    [u64(9, "session id"), raw(token, "resume token"), u8(1, "resumed: yes"), u32(1048640, "max frame length"),
     u32(0, "heartbeat off"), u16(0, "line count"), u16(0, "link count"), u16(0, "region count"),
     u16(0, "peer count")], request_id=2)
vec("error.hex", "ERROR", {"code": 3, "reason": "proof does not match"},
    [u16(3, "code auth failed"), reason("proof does not match", "reason")], request_id=2)
vec("error-channel.hex", "ERROR", {"code": 19, "reason": "no device eth9"},
    [u16(19, "code no such device"), reason("no device eth9", "reason")], channel=4, request_id=11)
vec("ok.hex", "OK", {}, [], request_id=12)
vec("raise.hex", "RAISE", {"partition": "linux", "line": 3},
    [name("linux", "target partition"), u16(3, "line")], request_id=5)
vec("raise-result.hex", "RAISE_RESULT", {"outcome": 1}, [u8(1, "outcome latched")], request_id=5)
vec("irq.hex", "IRQ", {"line": 3, "priority": 2, "coalesced": 4},
    [u16(3, "line"), u8(2, "priority"), u32(4, "raises coalesced")])
vec("irq-single.hex", "IRQ", {"line": 3, "priority": 7, "coalesced": 1},
    [u16(3, "line"), u8(7, "priority"), u32(1, "one raise: coalesced counts the first raise too")])
vec("eoi.hex", "EOI", {"line": 3}, [u16(3, "line")])
vec("mask.hex", "MASK", {"line": 5}, [u16(5, "line")], request_id=6)
vec("unmask.hex", "UNMASK", {"line": 5}, [u16(5, "line")], request_id=7)
vec("set-priority.hex", "SET_PRIORITY", {"line": 5, "priority": 9}, [u16(5, "line"), u8(9, "priority")])
vec("timer-set.hex", "TIMER_SET", {"line": 8, "first_delay_us": 1000, "period_us": 20000},
    [u16(8, "line"), u64(1000, "first delay us"), u64(20000, "period us")], request_id=8)
vec("timer-cancel.hex", "TIMER_CANCEL", {"line": 8}, [u16(8, "line")])
vec("msg-send.hex", "MSG_SEND", {"link": 1, "correlation": 42, "payload": hx(b"ping")},
    [u32(1, "link id"), u64(42, "correlation id"), raw(b"ping", "payload 'ping'")], request_id=9)
vec("msg-sent.hex", "MSG_SENT", {"link": 1, "message_id": 1001, "status": 0},
    [u32(1, "link id"), u64(1001, "message id"), u8(0, "status queued")], request_id=9)
vec("msg-send-seq.hex", "MSG_SEND_SEQ", {"link": 1, "sequence": 5001, "correlation": 0, "payload": hx(b"m5001")},
    [u32(1, "link id"), u64(5001, "sender sequence"), u64(0, "no correlation"), raw(b"m5001", "payload 'm5001'")])
vec("msg-send-seq-answered.hex", "MSG_SEND_SEQ",
    {"link": 3, "sequence": 0x0100000000, "correlation": 42, "payload": hx(b"")},
    [u32(3, "link id"), u64(0x0100000000, "sender sequence 2^32 (wider than u32)"), u64(42, "correlation id"),
     raw(b"", "empty payload")], request_id=14)
vec("msg-sent-duplicate.hex", "MSG_SENT", {"link": 3, "message_id": 0x0100000003, "status": 6},
    [u32(3, "link id"), u64(0x0100000003, "last accepted sequence (not a message id)"), u8(6, "status duplicate")], request_id=14)
vec("msg-sent-gap.hex", "MSG_SENT", {"link": 1, "message_id": 5000, "status": 7},
    [u32(1, "link id"), u64(5000, "last accepted sequence 5000"), u8(7, "status sequence_gap")])
vec("msg-send-as.hex", "MSG_SEND_AS",
    {"link": 2, "correlation": 7, "identity": "user:alice", "payload": hx(b"sign")},
    [u32(2, "link id"), u64(7, "correlation id"), name("user:alice", "identity the partition acts for"),
     raw(b"sign", "payload 'sign'")], request_id=40)
vec("msg-send-as-longest.hex", "MSG_SEND_AS",
    {"link": 2, "correlation": 0, "identity": "A" * 60 + "._-@", "payload": hx(b"")},
    [u32(2, "link id"), u64(0, "no correlation"), name("A" * 60 + "._-@", "identity of 64 bytes (the most)"),
     raw(b"", "empty payload")])
vec("msg-deliver-as.hex", "MSG_DELIVER_AS",
    {"link": 2, "message_id": 12, "sender": "linux", "identity": "app.mail+1", "correlation": 7,
     "payload": hx(b"sign")},
    [u32(2, "link id"), u64(12, "message id"), name("linux", "sender (stamped by the hub)"),
     name("app.mail+1", "identity (stamped beside the sender)"), u64(7, "correlation id"),
     raw(b"sign", "payload 'sign'")])
vec("msg-sent-rate-limited.hex", "MSG_SENT", {"link": 2, "message_id": 0, "status": 8},
    [u32(2, "link id"), u64(0, "no message id"), u8(8, "status rate_limited")], request_id=40)
vec("send-sequences.hex", "SEND_SEQUENCES",
    {"links": [{"link": 0, "last_accepted": 0}, {"link": 1, "last_accepted": 5000}]},
    [u16(2, "link count"), u32(0, "link id 0"), u64(0, "last accepted: none yet"), u32(1, "link id 1"),
     u64(5000, "last accepted 5000")])
vec("send-sequences-empty.hex", "SEND_SEQUENCES", {"links": []}, [u16(0, "link count")])
vec("msg-deliver.hex", "MSG_DELIVER",
    {"link": 1, "message_id": 1001, "sender": "rtos", "correlation": 42, "payload": hx(b"ping")},
    [u32(1, "link id"), u64(1001, "message id"), name("rtos", "sender"), u64(42, "correlation id"),
     raw(b"ping", "payload")])
vec("msg-deliver-empty.hex", "MSG_DELIVER",
    {"link": 2, "message_id": 7, "sender": "secure", "correlation": 0, "payload": hx(b"")},
    [u32(2, "link id"), u64(7, "message id"), name("secure", "sender"), u64(0, "no correlation"),
     raw(b"", "empty payload")])
vec("msg-ack.hex", "MSG_ACK", {"link": 1, "up_to": 1001}, [u32(1, "link id"), u64(1001, "up to message id")])
vec("credit.hex", "CREDIT", {"link": 1, "credit": 32}, [u32(1, "link id"), u32(32, "credit granted")])
vec("link-open.hex", "LINK_OPEN", {"name": "keys", "peer": "secure", "max_message": 512, "depth": 16},
    [name("keys", "link name"), name("secure", "peer"), u32(512, "max message"), u32(16, "depth")],
    request_id=31)
vec("link-opened.hex", "LINK_OPENED", {
    "id": 6, "name": "keys", "peer": "secure", "max_message": 512, "depth": 16, "initial_credit": 16,
    "existing": False, "opened_by": "linux"},
    [u32(6, "link id (after the 6 configured links)"), name("keys", "link name"), name("secure", "peer"),
     u32(512, "max message"), u32(16, "depth"), u32(16, "initial credit"), u8(0, "existing: no (created)"),
     name("linux", "opened by")], request_id=31)
vec("link-opened-peer.hex", "LINK_OPENED", {
    "id": 6, "name": "keys", "peer": "linux", "max_message": 512, "depth": 16, "initial_credit": 0,
    "existing": False, "opened_by": "linux"},
    [u32(6, "link id"), name("keys", "link name"), name("linux", "peer (the opener)"),
     u32(512, "max message"), u32(16, "depth"), u32(0, "initial credit: this end may not send"),
     u8(0, "existing: no"), name("linux", "opened by")])
vec("link-close.hex", "LINK_CLOSE", {"link": 6}, [u32(6, "link id")], request_id=32)
vec("link-closed.hex", "LINK_CLOSED", {"link": 6, "state": 0, "held": 3},
    [u32(6, "link id"), u8(0, "state closing"), u32(3, "messages still held")], request_id=32)
vec("link-closed-gone.hex", "LINK_CLOSED", {"link": 6, "state": 1, "held": 0},
    [u32(6, "link id"), u8(1, "state closed"), u32(0, "nothing held")])
vec("region-read.hex", "REGION_READ", {"region": 2, "offset": 128, "length": 16},
    [u32(2, "region id"), u64(128, "offset"), u32(16, "length")], request_id=10)
vec("region-data.hex", "REGION_DATA", {"region": 2, "offset": 128, "data": hx(b"\x01\x02\x03")},
    [u32(2, "region id"), u64(128, "offset"), raw(b"\x01\x02\x03", "bytes")], request_id=10)
vec("region-write.hex", "REGION_WRITE", {"region": 2, "offset": 0, "data": hx(b"\xde\xad")},
    [u32(2, "region id"), u64(0, "offset"), raw(b"\xde\xad", "bytes")], request_id=13)
vec("region-result.hex", "REGION_RESULT", {"region": 3, "status": 1},
    [u32(3, "region id"), u8(1, "status out of grant")], request_id=13)
vec("region-fd.hex", "REGION_FD", {"region": 2, "access": 1, "size": 65536},
    [u32(2, "region id"), u8(1, "access ro"), u64(65536, "size")])
vec("heartbeat.hex", "HEARTBEAT", {"stamp": 0x1122334455667788}, [u64(0x1122334455667788, "stamp")], request_id=14)
vec("heartbeat-ack.hex", "HEARTBEAT_ACK", {"stamp": 0x1122334455667788},
    [u64(0x1122334455667788, "stamp echoed")], request_id=14)
vec("suspend.hex", "SUSPEND", {"reason": "favour rtos"}, [reason("favour rtos", "reason")])
vec("resume.hex", "RESUME", {}, [])
vec("detach.hex", "DETACH", {"reason": "bye"}, [reason("bye", "reason")], request_id=15)
vec("mark-good.hex", "MARK_GOOD", {}, [], request_id=15)
# Protocols/power.md (feature `power`)
vec("power-state.hex", "POWER_STATE", {"state": 1}, [u8(1, "state idle")], request_id=40)
vec("wake-lock.hex", "WAKE_LOCK", {"held": 1, "name": "call"},
    [u8(1, "held: take"), name("call", "lock name")], request_id=41)
vec("wake-lock-release.hex", "WAKE_LOCK", {"held": 0, "name": "call"},
    [u8(0, "held: release"), name("call", "lock name")], request_id=42)
vec("wake.hex", "WAKE", {"source": "irq", "line": 3, "from": 1},
    [name("irq", "source"), u16(3, "line"), u8(1, "from idle")])
vec("partition-control.hex", "PARTITION_CONTROL", {"action": 0, "partition": "linux", "reason": "call"},
    [u8(0, "action suspend"), name("linux", "partition"), reason("call", "reason")], request_id=43)
vec("partition-control-result.hex", "PARTITION_CONTROL_RESULT",
    {"partition": "secure", "action": 0, "status": 2},
    [name("secure", "partition"), u8(0, "action suspend"), u8(2, "status not_permitted")], request_id=43)
vec("partition-control-result-not-reading.hex", "PARTITION_CONTROL_RESULT",
    {"partition": "linux", "action": 1, "status": 5},
    [name("linux", "partition"), u8(1, "action resume"), u8(5, "status not_reading")], request_id=44)
vec("power-query.hex", "POWER_QUERY", {}, [], request_id=44)
vec("power-info.hex", "POWER_INFO",
    {"platform": 0, "partition": 0, "battery": 8050, "charging": 1, "draw_mw": 1240, "locks": 2},
    [u8(0, "platform on"), u8(0, "partition active"), u16(8050, "battery 80.50 %"), u8(1, "charging"),
     u32(1240, "draw mW"), u16(2, "locks")], request_id=44)
vec("error-report.hex", "ERROR_REPORT", {"severity": 3, "code": "modem-timeout", "text": "no answer to AT+CREG"},
    [u8(3, "severity 3 error"), name("modem-timeout", "code"), reason("no answer to AT+CREG", "text")],
    request_id=16)
vec("policy-activate.hex", "POLICY_ACTIVATE", {"profile": "enterprise"}, [name("enterprise", "profile")],
    request_id=17)
vec("policy-activate-base.hex", "POLICY_ACTIVATE", {"profile": ""}, [name("", "profile (empty: the base policy)")],
    request_id=18)
vec("policy-changed.hex", "POLICY_CHANGED",
    {"generation": 2, "profile": "enterprise", "summary": "may not message secure; lost lan0"},
    [u64(2, "generation"), name("enterprise", "profile"),
     reason("may not message secure; lost lan0", "summary")])
vec("channel-open.hex", "CHANNEL_OPEN", {"device": "eth0", "options": hx(b"")},
    [name("eth0", "device"), raw(b"", "no options")], channel=1, request_id=16)
vec("channel-opened.hex", "CHANNEL_OPENED", {"max_data": 1518, "options": hx(b"\x00\x01")},
    [u32(1518, "max data"), raw(b"\x00\x01", "device options")], channel=1, request_id=16)
vec("channel-data.hex", "CHANNEL_DATA", {"data": hx(bytes(range(14)))},
    [raw(bytes(range(14)), "device bytes (opaque)")], channel=1)
vec("channel-close.hex", "CHANNEL_CLOSE", {"code": 0, "reason": ""},
    [u16(0, "code 0 normal"), reason("", "reason")], channel=1)
vec("channel-close-code.hex", "CHANNEL_CLOSE", {"code": 23, "reason": "flooded"},
    [u16(23, "code 23 rate_limited"), reason("flooded", "reason")], channel=1)


def bad(file, title, kind, code, parts, type_name="RAISE", channel=0, request_id=0, length=None, header=True,
        type_num=None):
    tn = TYPES.get(type_name, 0) if type_num is None else type_num
    if header:
        write(file, title, tn, channel, request_id, parts, length=length, type_comment=type_name)
    else:
        texts[file] = [f"# {title}"] + [f"{b.hex()}  # {c}" for b, c in flatten(parts)]
    entry = {"file": file, "error": kind}
    if kind == "oversized":
        entry = {"file": file, "fatal": "oversized"}
    else:
        entry["code"] = code
        entry["request_id"] = request_id if header else None
    malformed.append(entry)


bad("bad-truncated-body.hex", "RAISE whose name says 4 bytes but has 2", "truncated", 8,
    [u8(4, "partition length 4"), raw(b"li", "only 2 bytes")], request_id=21)
bad("bad-oversized-length.hex", "length prefix 0xffffffff: stream-fatal", "oversized", None,
    [u32(0xffffffff, "length prefix")], header=False)
bad("bad-unknown-type.hex", "type 0x7f01 from a newer client", "unknown_frame_type", 9,
    [raw(b"\x01\x02", "body the hub cannot read")], type_name="0x7f01", type_num=0x7F01, request_id=22)
bad("bad-utf8.hex", "RAISE partition is not UTF-8", "invalid_utf8", 8,
    [u8(2, "partition length"), raw(b"\xc3\x28", "invalid UTF-8"), u16(1, "line")], request_id=23)
bad("bad-name-too-long.hex", "RAISE partition of 65 bytes", "name_too_long", 8,
    [u8(65, "partition length 65 > 64"), raw(b"a" * 65, "name"), u16(1, "line")], request_id=24)
bad("bad-short-header.hex", "a 3-byte body cannot hold the header", "truncated", 8,
    [u32(3, "length prefix 3"), raw(b"\x01\x01\x00", "partial header")], header=False)
bad("bad-wrong-channel.hex", "RAISE on device channel 5", "wrong_channel", 8,
    [name("linux", "partition"), u16(1, "line")], channel=5, request_id=25)
bad("bad-trailing.hex", "EOI with a stray byte", "trailing_bytes", 8,
    [u16(1, "line"), u8(0, "stray byte")], type_name="EOI", request_id=26)
bad("bad-mark-good-trailing.hex", "MARK_GOOD with a stray byte", "trailing_bytes", 8,
    [u8(0, "stray byte")], type_name="MARK_GOOD", request_id=27)
bad("bad-power-state-undefined.hex", "POWER_STATE with state 4", "invalid_value", 8,
    [u8(4, "undefined state")], type_name="POWER_STATE", request_id=45)
bad("bad-wake-lock-empty-name.hex", "WAKE_LOCK with an empty name", "invalid_value", 8,
    [u8(1, "held"), u8(0, "name length 0")], type_name="WAKE_LOCK", request_id=46)
bad("bad-wake-lock-held-2.hex", "WAKE_LOCK with held = 2", "invalid_value", 8,
    [u8(2, "held not 0/1"), name("x", "name")], type_name="WAKE_LOCK", request_id=47)
bad("bad-partition-control-action.hex", "PARTITION_CONTROL with action 2", "invalid_value", 8,
    [u8(2, "undefined action"), name("linux", "partition"), reason("", "reason")], type_name="PARTITION_CONTROL",
    request_id=48)
bad("bad-partition-control-truncated.hex", "PARTITION_CONTROL cut inside the reason", "truncated", 8,
    [u8(0, "action"), name("linux", "partition"), u16(10, "reason length 10"), raw(b"abc", "3 bytes")],
    type_name="PARTITION_CONTROL", request_id=49)
bad("bad-power-info-battery.hex", "POWER_INFO with battery 10001", "invalid_value", 8,
    [u8(0, "platform"), u8(0, "partition"), u16(10001, "battery over 10000"), u8(0, "charging"), u32(0, "draw"),
     u16(0, "locks")], type_name="POWER_INFO", request_id=50)
bad("bad-error-report-severity.hex", "ERROR_REPORT with severity 0", "invalid_value", 8,
    [u8(0, "severity 0 undefined"), name("x", "code"), reason("", "text")], type_name="ERROR_REPORT",
    request_id=36)
bad("bad-error-report-text-too-long.hex", "ERROR_REPORT whose text says 1025 bytes", "name_too_long", 8,
    [u8(2, "severity 2 warning"), name("x", "code"), u16(1025, "text length 1025 > 1024"),
     raw(b"a" * 1025, "text")], type_name="ERROR_REPORT", request_id=37)
bad("bad-error-report-truncated.hex", "ERROR_REPORT cut inside its code", "truncated", 8,
    [u8(1, "severity 1 info"), u8(5, "code length 5"), raw(b"ab", "2 of its 5 bytes")], type_name="ERROR_REPORT",
    request_id=38)
bad("bad-policy-activate-truncated.hex", "POLICY_ACTIVATE whose name says 10 bytes but has 4", "truncated", 8,
    [u8(10, "profile length 10"), raw(b"home", "only 4 bytes")], type_name="POLICY_ACTIVATE", request_id=29)
bad("bad-policy-activate-trailing.hex", "POLICY_ACTIVATE with a stray byte", "trailing_bytes", 8,
    [name("home", "profile"), u8(0, "stray byte")], type_name="POLICY_ACTIVATE", request_id=30)
bad("bad-policy-changed-name-too-long.hex", "POLICY_CHANGED profile of 65 bytes", "name_too_long", 8,
    [u64(1, "generation"), u8(65, "profile length 65 > 64"), raw(b"p" * 65, "profile"), u16(0, "summary length")],
    type_name="POLICY_CHANGED", request_id=0)
bad("bad-region-read-too-large.hex", "REGION_READ of 2 MiB", "too_large", 10,
    [u32(2, "region"), u64(0, "offset"), u32(2 * 1024 * 1024, "length over 1 MiB")], type_name="REGION_READ",
    request_id=27)
bad("bad-region-read-one-over.hex", "REGION_READ of 1 MiB + 1", "too_large", 10,
    [u32(2, "region"), u64(0, "offset"), u32(1024 * 1024 + 1, "length one over 1 MiB")], type_name="REGION_READ",
    request_id=31)
bad("bad-irq-coalesced-zero.hex", "IRQ folding 0 raises", "invalid_value", 8,
    [u16(3, "line"), u8(7, "priority"), u32(0, "coalesced 0 < 1")], type_name="IRQ", request_id=0)
bad("bad-priority.hex", "SET_PRIORITY 16", "invalid_value", 8,
    [u16(1, "line"), u8(16, "priority 16 > 15")], type_name="SET_PRIORITY", request_id=28)
bad("bad-too-many-lines.hex", "WELCOME announcing 65535 lines", "too_many", 8,
    [u64(1, "session id"), raw(token, "token"), u8(0, "resumed"), u32(1048640, "max frame"), u32(0, "heartbeat"),
     u16(0xffff, "line count 65535 > 1024")], type_name="WELCOME", request_id=29)
bad("bad-resume-token-length.hex", "HELLO with a 5-byte resume token", "invalid_value", 8,
    [u16(1, "min"), u16(1, "max"), name("rtos", "partition"), u8(0, "features"), u8(5, "token length 5"),
     raw(b"\x00" * 5, "token")], type_name="HELLO", request_id=30)

bad("bad-link-open-depth.hex", "LINK_OPEN with depth 0", "invalid_value", 8,
    [name("keys", "link name"), name("secure", "peer"), u32(512, "max message"), u32(0, "depth 0")],
    type_name="LINK_OPEN", request_id=33)
bad("bad-link-closed-state.hex", "LINK_CLOSED with state 2", "invalid_value", 8,
    [u32(6, "link id"), u8(2, "state 2 undefined"), u32(0, "held")], type_name="LINK_CLOSED")

bad("bad-msg-send-seq-zero.hex", "MSG_SEND_SEQ with sequence 0", "invalid_value", 8,
    [u32(1, "link id"), u64(0, "sequence 0 (sequences start at 1)"), u64(0, "correlation"), raw(b"x", "payload")],
    type_name="MSG_SEND_SEQ", request_id=34)
bad("bad-msg-send-seq-truncated.hex", "MSG_SEND_SEQ cut inside the correlation", "truncated", 8,
    [u32(1, "link id"), u64(7, "sequence"), raw(b"\x00" * 7, "7 of the correlation's 8 bytes")],
    type_name="MSG_SEND_SEQ", request_id=35)
bad("bad-send-sequences-count.hex", "SEND_SEQUENCES announcing 1025 links", "too_many", 8,
    [u16(1025, "link count 1025 > 1024")], type_name="SEND_SEQUENCES")
bad("bad-send-sequences-short.hex", "SEND_SEQUENCES announcing 2 links, carrying 1", "truncated", 8,
    [u16(2, "link count 2"), u32(1, "link id"), u64(9, "last accepted")], type_name="SEND_SEQUENCES")

bad("bad-msg-send-as-empty-identity.hex", "MSG_SEND_AS with an empty identity", "invalid_value", 8,
    [u32(2, "link id"), u64(0, "correlation"), u8(0, "identity length 0"), raw(b"x", "payload")],
    type_name="MSG_SEND_AS", request_id=41)
bad("bad-msg-send-as-identity-space.hex", "MSG_SEND_AS with a space in the identity", "invalid_value", 8,
    [u32(2, "link id"), u64(0, "correlation"), name("bob smith", "identity with a space (not allowed)")],
    type_name="MSG_SEND_AS", request_id=42)
bad("bad-msg-send-as-identity-utf8.hex", "MSG_SEND_AS with a non-ASCII identity", "invalid_value", 8,
    [u32(2, "link id"), u64(0, "correlation"), u8(2, "identity length"), raw(b"\xc3\xa9", "'é' (outside the alphabet)")],
    type_name="MSG_SEND_AS", request_id=43)
bad("bad-msg-send-as-identity-long.hex", "MSG_SEND_AS with a 65-byte identity", "name_too_long", 8,
    [u32(2, "link id"), u64(0, "correlation"), u8(65, "identity length 65 > 64"), raw(b"a" * 65, "identity")],
    type_name="MSG_SEND_AS", request_id=44)
bad("bad-msg-send-as-truncated.hex", "MSG_SEND_AS cut inside the identity", "truncated", 8,
    [u32(2, "link id"), u64(0, "correlation"), u8(5, "identity length 5"), raw(b"ali", "3 of 5 bytes")],
    type_name="MSG_SEND_AS", request_id=45)
bad("bad-msg-deliver-as-identity.hex", "MSG_DELIVER_AS with a slash in the identity", "invalid_value", 8,
    [u32(2, "link id"), u64(1, "message id"), name("linux", "sender"), name("a/b", "identity with '/'"),
     u64(0, "correlation")], type_name="MSG_DELIVER_AS")
bad("bad-channel-close-code.hex", "CHANNEL_CLOSE with code 99 (neither 0 nor a §5.5 code)", "invalid_value", 8,
    [u16(99, "undefined code"), reason("", "reason")], type_name="CHANNEL_CLOSE", channel=1, request_id=49)
bad("bad-channel-close-code-ffff.hex", "CHANNEL_CLOSE with code 0xffff", "invalid_value", 8,
    [u16(0xFFFF, "undefined code"), reason("", "reason")], type_name="CHANNEL_CLOSE", channel=1, request_id=50)

HEADER = """# Guest protocol frames (Protocols/guest.md), generated by generate.py: do not edit by hand.
# Format: Protocols/vectors/README.md. Each vector: name, hex (the whole frame with its length prefix), and
# either expect (a frame that decodes: {"type", "channel", "request_id", "fields"} with the spec's field
# names, bytes as {"hex": ...}) or error (a frame refused: {"error": kind, "code": ERROR code,
# "request_id": from the header or null}, or {"fatal": "oversized"} when the stream cannot continue).
# The valid vectors come first, then the malformed ones.
"""
parts_out = []
for entry in vectors:
    parts_out.append(vector_text(entry["file"], texts[entry["file"]], "expect",
                                 {k: v for k, v in entry.items() if k != "file"}))
for entry in malformed:
    parts_out.append(vector_text(entry["file"], texts[entry["file"]], "error",
                                 {k: v for k, v in entry.items() if k != "file"}))
with open(os.path.join(HERE, "frames.vectors"), "w") as f:
    f.write(HEADER + "\n" + "\n\n".join(parts_out) + "\n")
