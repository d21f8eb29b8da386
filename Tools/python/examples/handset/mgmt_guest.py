"""The management partition of the living reference handset: the device's management agent.

- It collects the log lines the other partitions send it over their links (its own output is the collected
  log, readable with `hubctl logs mgmt`).
- When its partition has `mayManage`, it opens the `management` device channel and
  - relays signed management commands from its management server to the hub (Protocols/management.md §2.3):
    here the "server" is a directory, `$MGMT_AGENT_INBOX`; each `*.envelope` file dropped there (the raw
    envelope, or its base64 as `hubctl mgmt sign` prints it) is relayed once, the hub's answer is written
    beside it as `NAME.result.json` and the envelope renamed `NAME.done`;
  - collects the partitions' persistent error logs every `$MGMT_AGENT_COLLECT_MS` ms (default 5000) with
    local requests (Protocols/management.md §2.6) and forwards each new entry — here to its output, one
    `[errors PARTITION #SEQ SEVERITY CODE] TEXT` line each — keeping a cursor per partition so nothing is
    shipped twice. The agent carries commands and logs; it holds no key and authorises nothing.
- It is also the local management agent: while the RTOS has a call up (`call:active` / `call:idle` on the
  mgmt-rtos link) it suspends Linux, as its policy allows (`maySuspend: [linux]`), so the RTOS's work is not
  slowed by Linux's, and resumes it when the call ends (suspend for priority, Protocols/power.md §5)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from pathlib import Path

from common import Heartbeat, attach, log
from handsethub.guest import POWER
from handsethub.guest import GuestError
from handsethub.management import ManagementRelay


class Agent:
    def __init__(self, guest) -> None:
        self.guest = guest
        self.relay: ManagementRelay | None = None
        try:
            self.relay = ManagementRelay(guest)
        except GuestError as error:
            log(f"no management channel ({error}); collecting link logs only")
        inbox = os.environ.get("MGMT_AGENT_INBOX")
        self.inbox = Path(inbox) if inbox else None
        self.collect_every = int(os.environ.get("MGMT_AGENT_COLLECT_MS", "5000")) / 1000
        self.next_collect = time.monotonic() + min(1.0, self.collect_every)
        self.cursors: dict[str, int] = {}

    def tick(self) -> None:
        if self.relay is None:
            return
        if self.inbox is not None:
            self.relay_inbox()
        if time.monotonic() >= self.next_collect:
            self.next_collect = time.monotonic() + self.collect_every
            self.collect_errors()

    def relay_inbox(self) -> None:
        for path in sorted(self.inbox.glob("*.envelope")) if self.inbox.is_dir() else []:
            raw = path.read_bytes()
            try:
                envelope = base64.b64decode(raw.strip(), validate=True) if not raw.startswith(b"HHM1") else raw
            except binascii.Error:
                envelope = raw
            result = self.relay.submit(envelope)
            log(f"relayed {path.name}: {result['code']} {result['detail']}".rstrip())
            path.with_suffix(".result.json").write_text(json.dumps(result))
            path.rename(path.with_suffix(".done"))

    def collect_errors(self) -> None:
        status = self.relay.local("errors.status")
        if status["code"] != "accepted":
            log(f"error logs unavailable: {status['code']} {status['detail']}")
            return
        for partition in sorted(status["output"]["partitions"]):
            since = self.cursors.get(partition, 0)
            page = self.relay.local("errors.read", partition=partition, since=since, limit=100)
            if page["code"] != "accepted":
                log(f"errors.read {partition}: {page['code']} {page['detail']}")
                continue
            for entry in page["output"]["entries"]:
                log(f"[errors {partition} #{entry['sequence']} {entry['severity']} {entry['code']}] {entry['text']}")
            self.cursors[partition] = page["output"]["next"]


def main() -> None:
    guest = attach(features=(POWER,))
    beat = Heartbeat(guest)
    log(f"mgmt attached as session {guest.welcome['session_id']}; collecting logs")
    agent = Agent(guest)
    while True:
        beat.tick()
        agent.tick()
        frame = guest.receive(timeout=0.1)
        if frame is None:
            continue
        if frame.type == "MSG_DELIVER":
            fields = frame.fields
            text = bytes(fields["payload"]).decode(errors="replace")
            guest.ack(fields["link"], fields["message_id"])
            if fields["sender"] == "rtos" and text in ("call:active", "call:idle"):
                action = "suspend" if text == "call:active" else "resume"
                reason = "call in progress" if action == "suspend" else "call ended"
                status = guest.partition_control(action, "linux", reason)
                log(f"{action} linux for priority ({reason}): {status}")
            else:
                log(f"[{fields['sender']}] {text}")
        elif frame.type == "IRQ":
            guest.eoi(frame.fields["line"])
        elif frame.type == "DETACH":
            return


if __name__ == "__main__":
    main()
