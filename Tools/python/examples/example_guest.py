#!/usr/bin/env python3
"""A short example guest: attach as a partition, raise a line on a peer, send a message, print what arrives.

    python3 Tools/python/examples/example_guest.py unix:/tmp/hubd-guest.sock rtos rtos-secret linux 1
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from handsethub.guest import GuestClient  # noqa: E402


def main() -> None:
    endpoint, partition, secret = sys.argv[1:4]
    peer = sys.argv[4] if len(sys.argv) > 4 else "linux"
    line = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    with GuestClient.connect(endpoint, partition, secret) as guest:
        print(f"attached as {partition}: session {guest.welcome['session_id']}, peers {guest.welcome['peers']}")
        print(f"raise {peer} line {line}: {guest.raise_irq(peer, line)}")
        for link in guest.welcome["links"]:
            status, message_id = guest.send(link["id"], b"hello from " + partition.encode(), correlation=1)
            print(f"send on {link['name']} to {link['peer']}: {status} (message {message_id})")
        while (frame := guest.receive(timeout=5)) is not None:
            print(f"{frame.type} {frame.fields}")
            if frame.type == "IRQ":
                guest.eoi(frame.fields["line"])
            elif frame.type == "MSG_DELIVER":
                guest.ack(frame.fields["link"], frame.fields["message_id"])
        guest.detach("example done")


if __name__ == "__main__":
    main()
