"""The Linux partition of the living reference handset: the open OS with the applications.

It draws a home screen in the apps region, answers the keypad (digits build a number, CALL asks the RTOS to
dial it, CLEAR deletes), learns about incoming calls from the RTOS's interrupt and message, asks the secure
partition to sign a message (the key never leaves the secure partition), and sends its log lines to the
management partition. With `HANDSET_LAN_IP` in its environment (the launch section's `environment`) it is also an
IPv4 host on `lan0` (lan.py): it answers ARP and ping, and `ping:ADDRESS[:COUNT]` on its management link pings.
While another partition has taken the screen (preemption: the RTOS's call screen) it declares itself `idle`
(`POWER_STATE`, Protocols/power.md), and `active` again when the screen comes back."""

from __future__ import annotations

import os

from common import Heartbeat, attach, link_ids, log, text_pixels
from handsethub import keyservice
from handsethub.guest import POWER, FramebufferChannel
from lan import LanHost

LAN_CHANNEL = 5

HOME_BG, HOME_FG, TILE = 0x203040, 0xFFFFFF, 0x4060A0
APPS_TOP = 40


class Linux:
    def __init__(self) -> None:
        self.guest = attach(features=(POWER,))
        self.beat = Heartbeat(self.guest)
        self.links = link_ids(self.guest)
        self.fb = FramebufferChannel(self.guest, "fb0", channel=7)
        self.number = ""
        self.frame = 0
        self.messages = 0
        self.lan = self.open_lan(os.environ.get("HANDSET_LAN_IP"))
        log(f"linux attached as session {self.guest.welcome['session_id']}")
        self.draw_home()
        self.request_signature(b"boot ok")

    def open_lan(self, address: str | None) -> LanHost | None:
        if not address:
            return None
        opened = self.guest.request("CHANNEL_OPEN", {"device": "lan0", "options": b""}, channel=LAN_CHANNEL)
        if opened.type != "CHANNEL_OPENED":
            log(f"lan0: cannot open: {opened.type} {opened.fields}")
            return None
        log(f"lan0: {address}")
        return LanHost(address, lambda frame: self.guest.post("CHANNEL_DATA", {"data": frame}, channel=LAN_CHANNEL),
                       self.tell_mgmt)

    def tell_mgmt(self, line: str) -> None:
        log(line)
        if "mgmt-linux" in self.links:
            self.guest.send(self.links["mgmt-linux"], f"linux: {line}".encode())

    def request_signature(self, data: bytes) -> None:
        if "linux-secure" in self.links:
            # A key service request (Protocols/keyservice.md); the answer comes back as a message from secure.
            request = keyservice.encode_request({"op": "sign", "data": data})
            status, message_id = self.guest.send(self.links["linux-secure"], request, correlation=1)
            log(f"asked secure to sign {data!r}: {status} #{message_id}")

    def text(self, x: int, y: int, text: str, fg: int, bg: int, scale: int) -> None:
        width, height, pixels = text_pixels(text, fg, bg, scale)
        self.fb.put(x, y, width, height, pixels)

    def draw_home(self) -> None:
        self.fb.fill(0, APPS_TOP, self.fb.width, self.fb.height - APPS_TOP, HOME_BG)
        self.text(40, APPS_TOP + 40, "HANDSETHUB", HOME_FG, HOME_BG, 5)
        for index in range(9):
            x, y = 40 + (index % 3) * 140, APPS_TOP + 200 + (index // 3) * 140
            self.fb.fill(x, y, 120, 120, TILE)
        self.draw_number()

    def draw_number(self) -> None:
        self.fb.fill(0, APPS_TOP + 640, self.fb.width, 60, HOME_BG)
        self.text(40, APPS_TOP + 650, self.number[-16:] or "DIAL:", HOME_FG, HOME_BG, 3)
        self.frame += 1
        self.fb.frame(self.frame)

    def on_key(self, key: str) -> None:
        if len(key) == 1 and key in "0123456789*#+":
            self.number += key
        elif key == "clear":
            self.number = self.number[:-1]
        elif key == "call" and self.number and "rtos-linux" in self.links:
            self.guest.send(self.links["rtos-linux"], f"dial:{self.number}".encode())
            self.tell_mgmt(f"asked rtos to dial {self.number}")
            self.number = ""
        self.draw_number()

    def run(self) -> None:
        while True:
            self.beat.tick()
            if self.lan:
                self.lan.tick()
            frame = self.guest.receive(timeout=0.05 if self.lan and self.lan.ping else 0.1)
            if frame is None:
                continue
            if frame.type == "CHANNEL_DATA" and frame.channel == LAN_CHANNEL and self.lan:
                self.lan.feed(bytes(frame.fields["data"]))
            elif frame.type == "CHANNEL_DATA" and frame.channel == self.fb.channel:
                event = FramebufferChannel.decode_event(bytes(frame.fields["data"]))
                if event.get("event") == "key" and event.get("down"):
                    self.on_key(str(event.get("key")))
                elif event.get("event") == "preemption":
                    # Our screen is hidden while another partition holds it: nothing to draw, so idle.
                    self.guest.declare_power("idle" if event.get("by") else "active")
                    log(f"screen {'hidden by ' + str(event.get('by')) if event.get('by') else 'back'}")
            elif frame.type == "MSG_DELIVER":
                fields = frame.fields
                payload = bytes(fields["payload"]).decode(errors="replace")
                self.messages += 1
                if fields["sender"] == "secure":
                    try:
                        answer = keyservice.decode_response(bytes(fields["payload"]))
                    except keyservice.KeyServiceError as error:
                        answer = {"status": f"undecodable ({error})"}
                    log(f"msg secure #{fields['message_id']}: key service {answer.get('status')}")
                    if answer.get("signature"):
                        self.tell_mgmt(f"secure signed our message: {answer['signature'].hex()[:16]}...")
                else:
                    log(f"msg {fields['sender']} #{fields['message_id']}: {payload}")
                if payload.startswith("ping:") and self.lan:
                    target, _, count = payload[5:].partition(":")
                    try:
                        self.lan.start_ping(target, int(count) if count.isdigit() and 0 < int(count) <= 100 else 3)
                    except ValueError as error:
                        self.tell_mgmt(f"ping: {error}")
                self.guest.ack(fields["link"], fields["message_id"])
            elif frame.type == "IRQ":
                log(f"irq {frame.fields['line']}" + (" (rtos: incoming call)" if frame.fields["line"] == 2 else ""))
                self.guest.eoi(frame.fields["line"])
            elif frame.type == "DETACH":
                return


if __name__ == "__main__":
    Linux().run()
