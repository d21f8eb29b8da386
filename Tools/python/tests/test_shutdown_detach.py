"""SIGTERM tells every attached guest (Protocols/guest.md §9.3): four guests attached to a real hubd, over Unix
and TCP, each receive DETACH "shutdown" before their connection closes, and hubd exits within its grace period."""

from __future__ import annotations

import signal
import time

from handsethub.guest import GuestClient


def test_sigterm_sends_detach_to_every_attached_guest(hubd):
    hub = hubd()
    endpoints = [address for address in hub.hub.guest if address.startswith(("unix:", "tcp:"))]
    guests = []
    try:
        for index, partition in enumerate(["rtos", "linux", "secure", "mgmt"]):
            endpoint = endpoints[index % len(endpoints)]
            guests.append(GuestClient.connect(endpoint, partition, f"{partition}-dev-secret", timeout=5))
        hub.hub.process.send_signal(signal.SIGTERM)
        reasons = []
        for guest in guests:
            reason = None
            deadline = time.monotonic() + 5
            while reason is None and time.monotonic() < deadline:
                try:
                    frame = guest.receive(timeout=deadline - time.monotonic())
                except ConnectionError:
                    break  # closed without DETACH
                if frame is not None and frame.type == "DETACH":
                    reason = frame.fields["reason"]
            reasons.append(reason)
        assert reasons == ["shutdown"] * 4
        assert hub.hub.process.wait(timeout=10) == 0
    finally:
        for guest in guests:
            guest.close()
