"""The management partition of the living reference handset: it collects the log lines the other partitions
send it over their links and keeps them (its own output is the collected log, readable with
`hubctl logs mgmt`). It is also the local management agent: while the RTOS has a call up (`call:active` /
`call:idle` on the mgmt-rtos link) it suspends Linux, as its policy allows (`maySuspend: [linux]`), so the
RTOS's work is not slowed by Linux's, and resumes it when the call ends (suspend for priority,
Protocols/power.md §5)."""

from __future__ import annotations

from common import Heartbeat, attach, log
from handsethub.guest import POWER


def main() -> None:
    guest = attach(features=(POWER,))
    beat = Heartbeat(guest)
    log(f"mgmt attached as session {guest.welcome['session_id']}; collecting logs")
    while True:
        beat.tick()
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
