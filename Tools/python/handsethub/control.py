"""Synchronous client for the HandsetHub control and test API (Protocols/control.md, protocol 1).

Standard library only. One ``HubClient`` per thread::

    from handsethub import HubClient

    with HubClient("unix:/tmp/hub/control.sock") as hub:
        print(hub.info()["version"])
        hub.subscribe(kinds=["irq.*"], partitions=["linux"])
        seq = hub.raise_irq("linux", 3, as_="tester")["seq"]
        event = hub.wait_event(kinds=["irq.raised"], since=seq - 1, timeout_ms=1000)
"""

from __future__ import annotations

import base64
import json
import math
import select
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

PROTOCOL_VERSION = 1
DEFAULT_ADDRESS = "tcp:127.0.0.1:7400"
MAX_LINE_BYTES = 1 << 24


class HubError(Exception):
    """An error answered by the hub (JSON-RPC error object) or a transport failure.

    ``code`` is the JSON-RPC code (None for transport errors), ``reason`` the machine-readable
    ``data.reason`` (e.g. ``no_such_partition``, ``timeout``, ``closed``), ``data`` the whole data object.
    """

    def __init__(self, message: str, code: Optional[int] = None, reason: Optional[str] = None,
                 data: Optional[dict] = None):
        super().__init__(f"{message} [{reason}]" if reason else message)
        self.message = message
        self.code = code
        self.reason = reason
        self.data = data or {}


@dataclass(frozen=True)
class Event:
    """One hub event (§5.2)."""

    seq: int
    kind: str
    partition: Optional[str]
    device: Optional[str]
    data: Any
    unix_ns: int
    mono_ns: int

    @classmethod
    def from_json(cls, params: dict) -> "Event":
        time_ = params.get("time") or {}
        return cls(seq=params["seq"], kind=params["kind"], partition=params.get("partition"),
                   device=params.get("device"), data=params.get("data"),
                   unix_ns=time_.get("unixNs", 0), mono_ns=time_.get("monoNs", 0))


@dataclass(frozen=True)
class Missed:
    """The marker for events a subscriber did not receive (§5.4)."""

    count: int
    first_seq: int
    last_seq: int
    reason: str

    @classmethod
    def from_json(cls, params: dict) -> "Missed":
        return cls(count=params["count"], first_seq=params["firstSeq"], last_seq=params["lastSeq"],
                   reason=params.get("reason", ""))


def parse_address(address: str) -> Tuple[str, Union[str, Tuple[str, int]]]:
    """``tcp:HOST:PORT`` / ``unix:/PATH`` / ``/PATH`` → ("tcp", (host, port)) or ("unix", path)."""
    if address.startswith("unix:"):
        return "unix", address[5:]
    if address.startswith("/"):
        return "unix", address
    rest = address[4:] if address.startswith("tcp:") else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"invalid hub address {address!r} (expected tcp:HOST:PORT or unix:/PATH)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return "tcp", (host, int(port))


def _filter(filter: Optional[dict], kinds, partitions, devices) -> dict:
    result = dict(filter or {})

    def as_list(value):
        return [value] if isinstance(value, str) else list(value)

    if kinds is not None:
        result["kinds"] = as_list(kinds)
    if partitions is not None:
        result["partitions"] = as_list(partitions)
    if devices is not None:
        result["devices"] = as_list(devices)
    return result


class HubClient:
    """A connection to a hub's control endpoint. Reads the greeting on connect; authenticates if given a token."""

    def __init__(self, address: str = DEFAULT_ADDRESS, token: Optional[str] = None, timeout: float = 5.0):
        self.address = address
        self.timeout = timeout
        family, target = parse_address(address)
        if family == "unix":
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            infos = socket.getaddrinfo(target[0], target[1], type=socket.SOCK_STREAM)
            self._sock = socket.socket(infos[0][0], socket.SOCK_STREAM)
            target = infos[0][4]
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(target)
            if family == "tcp":
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self._sock.close()
            raise
        self._buffer = bytearray()
        self._lines: Deque[bytes] = deque()
        self._notifications: Deque[dict] = deque()
        self._responses: Dict[Any, dict] = {}
        self._next_id = 1
        greeting = self.read_message(timeout)
        if greeting is None or greeting.get("method") != "hub.hello":
            self.close()
            raise HubError(f"expected a hub.hello greeting, got {greeting!r}", reason="protocol_violation")
        self.hello: dict = greeting.get("params") or {}
        if token is not None:
            self.authenticate(token)

    # -- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        """Writes raw bytes (e.g. a deliberately malformed line)."""
        self._sock.sendall(data)

    def send_line(self, message: Union[dict, str]) -> None:
        """Writes one message (a dict, or JSON text sent verbatim) followed by LF."""
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        self.send_raw(text.encode("utf-8") + b"\n")

    def read_message(self, timeout: Optional[float] = None) -> Optional[dict]:
        """The next message of any kind as a dict; None on timeout. Raises HubError(reason='closed') on EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # poll, not select: select() cannot watch a descriptor numbered 1024 or above.
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            if not poller.poll(max(0, math.ceil(remaining * 1000))):
                return None
            try:
                chunk = self._sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise HubError("the hub closed the connection", reason="closed")
            self._buffer += chunk
            while True:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    break
                line = bytes(self._buffer[:newline]).rstrip(b"\r")
                del self._buffer[:newline + 1]
                if line:
                    self._lines.append(line)
            if len(self._buffer) > MAX_LINE_BYTES:
                raise HubError("line from the hub too long", reason="protocol_violation")
        return json.loads(self._lines.popleft())

    # -- requests ---------------------------------------------------------------------------------

    def call(self, method: str, params: Optional[dict] = None, timeout: Optional[float] = None) -> Any:
        """Sends a request and returns its result; raises HubError for an error response or a timeout."""
        request_id = self._next_id
        self._next_id += 1
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send_line(message)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while request_id not in self._responses:
            incoming = self.read_message(max(0.0, deadline - time.monotonic()))
            if incoming is None:
                raise HubError(f"no answer to {method} within {limit} s", reason="client_timeout")
            if "id" in incoming and ("result" in incoming or "error" in incoming):
                self._responses[incoming["id"]] = incoming
            else:
                self._notifications.append(incoming)
        response = self._responses.pop(request_id)
        if "error" in response:
            error = response["error"]
            data = error.get("data") or {}
            raise HubError(error.get("message", ""), code=error.get("code"), reason=data.get("reason"), data=data)
        return response.get("result")

    def notify(self, method: str, params: Optional[dict] = None) -> None:
        """Sends a JSON-RPC notification (no id, no answer)."""
        message: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send_line(message)

    # -- hub --------------------------------------------------------------------------------------

    def authenticate(self, token: str) -> dict:
        return self.call("hub.authenticate", {"token": token})

    def info(self) -> dict:
        return self.call("hub.info")

    def config(self) -> dict:
        return self.call("hub.config")["config"]

    def limits(self) -> dict:
        return self.call("hub.limits")

    def shutdown(self) -> dict:
        return self.call("hub.shutdown")

    # -- partitions -------------------------------------------------------------------------------

    def partitions(self) -> List[dict]:
        return self.call("partition.list")["partitions"]

    def partition(self, name: str) -> dict:
        return self.call("partition.get", {"name": name})

    def partition_counters(self, name: Optional[str] = None) -> Dict[str, dict]:
        return self.call("partition.counters", {"name": name} if name else {})["partitions"]

    # -- interrupts and messages ------------------------------------------------------------------

    def raise_irq(self, partition: str, line: int, as_: str) -> dict:
        """Raises ``line`` on ``partition`` as test peer ``as_``; returns ``{"seq", "pending"}``."""
        return self.call("irq.raise", {"partition": partition, "line": line, "as": as_})

    def send_message(self, link: str, to: str, text: Optional[str] = None, payload: Optional[bytes] = None, *,
                     as_: str, correlation: Optional[int] = None) -> dict:
        """Queues one message on ``link`` for partition ``to`` from test peer ``as_`` (msg.send)."""
        params: Dict[str, Any] = {"link": link, "to": to, "as": as_}
        if (text is None) == (payload is None):
            raise ValueError("give exactly one of text and payload")
        if text is not None:
            params["text"] = text
        else:
            params["payload"] = base64.b64encode(payload).decode("ascii")
        if correlation is not None:
            params["correlation"] = correlation
        return self.call("msg.send", params)

    # -- partition management (launched guests) ---------------------------------------------------

    def start_partition(self, name: str) -> dict:
        return self.call("partition.start", {"name": name})

    def stop_partition(self, name: str) -> dict:
        return self.call("partition.stop", {"name": name})

    def restart_partition(self, name: str) -> dict:
        return self.call("partition.restart", {"name": name})

    def suspend_partition(self, name: str) -> dict:
        return self.call("partition.suspend", {"name": name})

    def resume_partition(self, name: str) -> dict:
        return self.call("partition.resume", {"name": name})

    def logs(self, name: str, clear: bool = False) -> dict:
        return self.call("partition.logs", {"name": name, "clear": clear})

    def errors_read(self, partition: str, since: Optional[int] = None, limit: Optional[int] = None) -> dict:
        """A page of a partition's persistent error log (Protocols/errorlog.md, control.md errors.read)."""
        params: Dict[str, Any] = {"partition": partition}
        if since is not None:
            params["since"] = since
        if limit is not None:
            params["limit"] = limit
        return self.call("errors.read", params)

    def errors_reset(self, partition: str) -> dict:
        """Empties a partition's error log; the answer says how many entries it held."""
        return self.call("errors.reset", {"partition": partition})

    def errors_status(self) -> dict:
        return self.call("errors.status")
    def activate_policy(self, profile: Optional[str]) -> dict:
        """policy.activate (Protocols/policy.md): switch to `profile`, or to the base policy with None. Returns the
        activation: from, profile, generation, by, changes, effects."""
        return self.call("policy.activate", {"profile": profile})

    def policy_status(self) -> dict:
        """policy.status: the active profile, the profiles, counters, the last activation, the effective policy."""
        return self.call("policy.status")

    def links(self) -> List[dict]:
        return self.call("link.list")["links"]

    def link(self, name: str) -> dict:
        return self.call("link.get", {"name": name})

    # -- events -----------------------------------------------------------------------------------

    def subscribe(self, filter: Optional[dict] = None, since: Optional[int] = None, *, kinds=None,
                  partitions=None, devices=None) -> dict:
        """Starts (or replaces) this connection's event stream; read it with ``events()``."""
        params: Dict[str, Any] = {"filter": _filter(filter, kinds, partitions, devices)}
        if since is not None:
            params["since"] = since
        return self.call("events.subscribe", params)

    def unsubscribe(self) -> dict:
        return self.call("events.unsubscribe")

    def next_event(self, timeout: Optional[float] = None) -> Union[Event, Missed, None]:
        """The next event or missed-marker notification; None on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self._notifications:
                message = self._notifications.popleft()
            else:
                message = self.read_message(max(0.0, deadline - time.monotonic()))
                if message is None:
                    return None
            method = message.get("method")
            if method == "event":
                return Event.from_json(message["params"])
            if method == "events.missed":
                return Missed.from_json(message["params"])
            if "id" in message and ("result" in message or "error" in message):
                self._responses[message["id"]] = message

    def events(self, timeout: Optional[float] = None) -> Iterator[Union[Event, Missed]]:
        """Iterates over events (and missed markers) until ``timeout`` seconds pass without one
        (forever when ``timeout`` is None)."""
        while True:
            item = self.next_event(timeout if timeout is not None else 3600.0)
            if item is None:
                if timeout is not None:
                    return
                continue
            yield item

    def wait_event(self, filter: Optional[dict] = None, *, kinds=None, partitions=None, devices=None,
                   timeout_ms: int = 5000, since: Optional[int] = None) -> Event:
        """Waits on the hub for the first matching event (``events.wait``); raises HubError(reason='timeout')."""
        params: Dict[str, Any] = {"filter": _filter(filter, kinds, partitions, devices), "timeoutMs": timeout_ms}
        if since is not None:
            params["since"] = since
        result = self.call("events.wait", params, timeout=timeout_ms / 1000.0 + self.timeout)
        return Event.from_json(result["event"])

    def recent_events(self, filter: Optional[dict] = None, *, kinds=None, partitions=None, devices=None,
                      limit: int = 100, since: Optional[int] = None) -> List[Event]:
        params: Dict[str, Any] = {"filter": _filter(filter, kinds, partitions, devices), "limit": limit}
        if since is not None:
            params["since"] = since
        return [Event.from_json(e) for e in self.call("events.recent", params)["events"]]
