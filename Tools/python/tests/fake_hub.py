"""A tiny scripted control server for testing clients without hubd (not a hub: canned answers only)."""

import json
import os
import socket
import threading

HELLO = {"jsonrpc": "2.0", "method": "hub.hello",
         "params": {"server": "hubd", "version": "0.0.0-fake", "protocol": 1, "capabilities": ["events"],
                    "auth": "none"}}


class FakeHub:
    def __init__(self, path):
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        self.requests = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "unix:" + self.path

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        def send(message):
            conn.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")

        send(HELLO)
        buffer = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                self.requests.append(request)
                method, rid = request["method"], request.get("id")
                if method == "hub.info":
                    send({"jsonrpc": "2.0", "id": rid, "result": {"server": "hubd", "version": "0.0.0-fake"}})
                elif method == "partition.list":
                    send({"jsonrpc": "2.0", "id": rid, "result": {"partitions": [
                        {"name": "rtos", "class": "real-time", "priority": 0, "state": "waiting",
                         "attached": False}]}})
                elif method == "irq.raise":
                    # The event goes out before the response, as a real hub may do.
                    send({"jsonrpc": "2.0", "method": "event", "params": {
                        "seq": 7, "time": {"unixNs": 1, "monoNs": 2}, "kind": "irq.raised",
                        "partition": request["params"]["partition"], "device": None,
                        "data": {"line": request["params"]["line"], "from": request["params"]["as"]}}})
                    send({"jsonrpc": "2.0", "method": "events.missed",
                          "params": {"count": 2, "firstSeq": 8, "lastSeq": 9, "reason": "outbox_full"}})
                    send({"jsonrpc": "2.0", "id": rid, "result": {"seq": 7, "pending": True}})
                elif method == "events.wait":
                    send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32005, "message": "Timed out after 5 ms",
                                                                 "data": {"reason": "timeout", "timeoutMs": 5}}})
                else:
                    send({"jsonrpc": "2.0", "id": rid, "error": {
                        "code": -32601, "message": f"Method not found: {method}",
                        "data": {"reason": "method_not_found", "method": method}}})

    def close(self):
        self.server.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


if __name__ == "__main__":  # python3 fake_hub.py /tmp/fake.sock — for trying hubctl by hand
    import sys
    import time

    hub = FakeHub(sys.argv[1])
    while True:
        time.sleep(3600)
