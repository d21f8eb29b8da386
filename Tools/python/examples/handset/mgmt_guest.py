"""The management partition of the living reference handset: it collects the log lines the other partitions
send it over their links and keeps them (its own output is the collected log, readable with
`hubctl logs mgmt`)."""

from __future__ import annotations

from common import Heartbeat, attach, log


def main() -> None:
    guest = attach()
    beat = Heartbeat(guest)
    log(f"mgmt attached as session {guest.welcome['session_id']}; collecting logs")
    while True:
        beat.tick()
        frame = guest.receive(timeout=0.1)
        if frame is None:
            continue
        if frame.type == "MSG_DELIVER":
            fields = frame.fields
            log(f"[{fields['sender']}] {bytes(fields['payload']).decode(errors='replace')}")
            guest.ack(fields["link"], fields["message_id"])
        elif frame.type == "IRQ":
            guest.eoi(frame.fields["line"])
        elif frame.type == "DETACH":
            return


if __name__ == "__main__":
    main()
