"""The secure partition of the living reference handset: it holds a signing key and signs on request, for
the partitions its policy names only (rtos and linux). The key is generated here and never leaves: requests
carry data in, answers carry only HMAC-SHA256 signatures out. The sender of each request is stamped by the
hub, so a partition cannot pretend to be another."""

from __future__ import annotations

import hashlib
import hmac
import os

from common import Heartbeat, attach, link_ids, log

PERMITTED = {"rtos", "linux"}


def main() -> None:
    guest = attach()
    beat = Heartbeat(guest)
    key = os.urandom(32)
    links = link_ids(guest)
    log(f"secure attached as session {guest.welcome['session_id']}; key fingerprint "
        f"{hashlib.sha256(key).hexdigest()[:12]}")
    while True:
        beat.tick()
        frame = guest.receive(timeout=0.1)
        if frame is None:
            continue
        if frame.type == "MSG_DELIVER":
            fields = frame.fields
            payload = bytes(fields["payload"])
            sender = fields["sender"]
            if payload.startswith(b"sign:"):
                if sender in PERMITTED:
                    answer = b"sig:" + hmac.new(key, payload[5:], hashlib.sha256).hexdigest().encode()
                    log(f"signed {len(payload) - 5} bytes for {sender}")
                else:
                    answer = b"denied:" + sender.encode()
                    log(f"refused to sign for {sender}")
                guest.send(fields["link"], answer, correlation=fields["correlation"])
            guest.ack(fields["link"], fields["message_id"])
        elif frame.type == "IRQ":
            guest.eoi(frame.fields["line"])
        elif frame.type == "DETACH":
            return
    _ = links


if __name__ == "__main__":
    main()
