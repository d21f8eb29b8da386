"""A guest for hubd to launch and supervise (`Deploy/config-reference.md`, partitions[].launch): it attaches with what
the hub put in its environment, heartbeats, acknowledges and records every message and notification, and can be told to
misbehave so tests can watch the supervisor react.

    HANDSETHUB_GUEST_ENDPOINT, HANDSETHUB_PARTITION, HANDSETHUB_SECRET   set by hubd
    --record FILE        append one line per event: "attached <session>", "msg <link> <id> <payload>",
                         "irq <line>", "suspend", "resume"
    --heartbeat-ms N     send HEARTBEAT every N ms (0: never, so a hub expecting heartbeats declares it hung)
    --exit-after S       exit with status 3 after S seconds (a crash on start when S is 0)
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from handsethub.guest import GuestClient  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record")
    parser.add_argument("--heartbeat-ms", type=int, default=200)
    parser.add_argument("--exit-after", type=float)
    # Protocols/guest.md §9.4: `send` enables `mark-good` and marks the image good once attached; `withhold`
    # enables it and never does (an unhealthy image, for the probation tests).
    parser.add_argument("--mark-good", choices=["send", "withhold"])
    args = parser.parse_args()
    started = time.monotonic()
    if args.exit_after == 0:
        print("crashing on start", flush=True)
        return 3
    endpoint = os.environ["HANDSETHUB_GUEST_ENDPOINT"]
    partition = os.environ["HANDSETHUB_PARTITION"]
    features = ["mark-good"] if args.mark_good else []
    guest = GuestClient.connect(endpoint, partition, os.environ["HANDSETHUB_SECRET"], features=features)
    if args.mark_good == "send":
        guest.post("MARK_GOOD", {})
    record = open(args.record, "a", buffering=1) if args.record else None

    def note(line: str) -> None:
        if record:
            record.write(line + "\n")

    note(f"attached {guest.welcome['session_id']}")
    print(f"{partition} attached as session {guest.welcome['session_id']}", flush=True)
    last_beat = time.monotonic()
    while True:
        if args.exit_after is not None and time.monotonic() - started > args.exit_after:
            print("exiting with status 3", flush=True)
            return 3
        if args.heartbeat_ms and (time.monotonic() - last_beat) * 1000 >= args.heartbeat_ms:
            guest.post("HEARTBEAT", {"stamp": int(time.monotonic() * 1000)})
            last_beat = time.monotonic()
        frame = guest.receive(timeout=0.05)
        if frame is None:
            continue
        if frame.type == "MSG_DELIVER":
            fields = frame.fields
            note(f"msg {fields['link']} {fields['message_id']} {bytes(fields['payload']).decode(errors='replace')}")
            guest.ack(fields["link"], fields["message_id"])
        elif frame.type == "IRQ":
            note(f"irq {frame.fields['line']}")
            guest.eoi(frame.fields["line"])
        elif frame.type in ("SUSPEND", "RESUME"):
            note(frame.type.lower())
        elif frame.type == "DETACH":
            print(f"detached by the hub: {frame.fields.get('reason')}", flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main())
