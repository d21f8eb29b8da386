"""The RTOS partition of the living reference handset: the telephony stack.

It owns the modem (AT over its `modem0` channel), registers on the network, keeps the status bar at the top
of the screen up to date (operator, signal, time), and handles calls: an incoming call makes it take the
whole screen (preemption) and the keypad, and raise an interrupt on Linux (line 2) with a message naming the
caller; CALL answers, END hangs up; when the call ends the screen and the keys go back to Linux. Linux can
ask it to dial (`dial:NUMBER` on the rtos-linux link). While a call is up it tells the management partition
(`call:active` / `call:idle` on the mgmt-rtos link), which suspends Linux's work for the call's duration
(suspend for priority, Protocols/power.md §5). The status bar also shows the battery level and the platform's
power state (`POWER_QUERY`)."""

from __future__ import annotations

import time

from common import Heartbeat, SerialChannel, attach, link_ids, log, report_error, text_pixels
from handsethub.guest import ERROR_LOG, POWER, FramebufferChannel

STATUS_BG, STATUS_FG = 0x102040, 0xFFFFFF
CALL_BG, CALL_FG, ACTIVE_BG = 0x0030A0, 0xFFFFFF, 0x007020
INIT = ["ATE0", "AT+CMEE=1", "AT+CLIP=1", "AT+CREG=2", "AT+COPS=3,0", "AT+COPS?", "AT+CSQ"]


class Rtos:
    def __init__(self) -> None:
        self.guest = attach(features=(POWER, ERROR_LOG))
        self.beat = Heartbeat(self.guest)
        self.links = link_ids(self.guest)
        self.power = ""
        self.power_checked = 0.0
        self.modem = SerialChannel(self.guest, "modem0", channel=3)
        self.fb = FramebufferChannel(self.guest, "fb0", channel=7)
        self.operator = "NO SERVICE"
        self.signal = 0
        self.call_state = "idle"  # idle, ringing, active, dialing
        self.caller = ""
        self.pending: list[str] = list(INIT)
        self.awaiting = False
        self.in_flight = ""
        self.frame = 0
        self.last_status = ""
        log(f"rtos attached as session {self.guest.welcome['session_id']}")

    # -- modem --------------------------------------------------------------------------------

    def command(self, line: str) -> None:
        self.pending.append(line)

    def pump_commands(self) -> None:
        if not self.awaiting and self.pending:
            line = self.pending.pop(0)
            self.in_flight = line
            self.modem.write(line + "\r")
            self.awaiting = True

    def on_line(self, line: str) -> None:
        if line in ("OK", "ERROR") or line.startswith("+CME ERROR") or line.startswith("+CMS ERROR"):
            self.awaiting = False
            if line != "OK":
                # A modem that refuses a command is worth a line in the persistent error log (mgmt collects it).
                report_error(self.guest, "warning", "modem-command-failed", f"{self.in_flight} answered {line}")
                if self.in_flight.startswith("ATD") and self.call_state == "dialing":
                    self.call_state = "idle"  # the dial was refused: no call to wait for
            return
        if line.startswith("+COPS:") and '"' in line:
            self.operator = line.split('"')[1]
        elif line.startswith("+CSQ:"):
            self.signal = int(line.split(":")[1].split(",")[0])
        elif line.startswith("+CREG:"):
            self.command("AT+COPS?")
        elif line.startswith("+CLIP:"):
            self.caller = line.split('"')[1] if '"' in line else "UNKNOWN"
            if self.call_state == "ringing":
                self.draw_call_screen()
        elif line in ("RING", "+CRING: VOICE") and self.call_state == "idle":
            self.incoming_call()
        elif line in ("NO CARRIER", "BUSY", "NO ANSWER"):
            self.awaiting = False
            self.call_ended(line)

    # -- calls ------------------------------------------------------------------------------------

    def incoming_call(self) -> None:
        self.call_state = "ringing"
        log("incoming call: taking the screen")
        self.fb.preempt()
        self.draw_call_screen()
        if "rtos-linux" in self.links:
            self.guest.send(self.links["rtos-linux"], f"call:{self.caller or 'unknown'}".encode())
        self.guest.raise_irq("linux", 2)

    def draw_call_screen(self) -> None:
        background = ACTIVE_BG if self.call_state == "active" else CALL_BG
        self.fb.fill(0, 0, self.fb.width, self.fb.height, background)
        title = "IN CALL" if self.call_state == "active" else "INCOMING CALL"
        self.text(40, 200, title, CALL_FG, background, 4)
        self.text(40, 300, self.caller or "UNKNOWN", CALL_FG, background, 3)
        hint = "END = HANG UP" if self.call_state == "active" else "CALL = ANSWER  END = REJECT"
        self.text(40, 700, hint, CALL_FG, background, 2)
        self.next_frame()

    def tell_mgmt(self, text: str) -> None:
        if "mgmt-rtos" in self.links:
            self.guest.send(self.links["mgmt-rtos"], text.encode())

    def call_ended(self, why: str) -> None:
        if self.call_state == "idle":
            return
        log(f"call ended ({why}): giving the screen back")
        if self.call_state in ("active", "dialing"):
            self.tell_mgmt("call:idle")
        self.call_state = "idle"
        self.caller = ""
        self.fb.release()
        self.last_status = ""  # redraw the status bar

    def on_key(self, key: str) -> None:
        if self.call_state == "ringing" and key == "call":
            self.command("ATA")
            self.call_state = "active"
            self.tell_mgmt("call:active")
            self.draw_call_screen()
        elif self.call_state in ("ringing", "active", "dialing") and key == "end":
            self.command("ATH")
            self.call_ended("hung up locally")

    def on_message(self, payload: bytes) -> None:
        text = payload.decode(errors="replace")
        if text.startswith("dial:") and self.call_state == "idle":
            number = text[5:]
            self.caller = number
            self.call_state = "dialing"
            self.tell_mgmt("call:active")
            self.command(f"ATD{number};")
            log(f"dialling {number} for linux")

    # -- status bar -------------------------------------------------------------------------------

    def text(self, x: int, y: int, text: str, fg: int, bg: int, scale: int) -> None:
        width, height, pixels = text_pixels(text, fg, bg, scale)
        width = min(width, self.fb.width - x)
        if width <= 0:
            return
        full = len(pixels) // height
        rows = b"".join(pixels[r * full:r * full + width * 4] for r in range(height))
        self.fb.put(x, y, width, height, rows)

    def check_power(self) -> None:
        """Battery level and platform state for the status bar, asked once a second."""
        now = time.monotonic()
        if now - self.power_checked < 1.0:
            return
        self.power_checked = now
        info = self.guest.power_query()
        self.power = f"B{int(info['battery_percent']):>3} {info['platform'].upper()[:3]}"

    def draw_status(self) -> None:
        bars = "#" * min(5, (self.signal + 5) // 6) if self.signal != 99 else ""
        status = f"{self.operator[:12]:<12} {bars:<5} {time.strftime('%H:%M:%S')} {self.power}"
        if status == self.last_status or self.call_state != "idle":
            return
        self.last_status = status
        self.fb.fill(0, 0, self.fb.width, 40, STATUS_BG)
        self.text(8, 12, status, STATUS_FG, STATUS_BG, 2)
        self.next_frame()

    def next_frame(self) -> None:
        self.frame += 1
        self.fb.frame(self.frame)

    # -- main loop --------------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            self.beat.tick()
            self.pump_commands()
            self.check_power()
            self.draw_status()
            frame = self.guest.receive(timeout=0.1)
            if frame is None:
                continue
            if frame.type == "CHANNEL_DATA" and frame.channel == self.modem.channel:
                for line in self.modem.feed(bytes(frame.fields["data"])):
                    self.on_line(line)
            elif frame.type == "CHANNEL_DATA" and frame.channel == self.fb.channel:
                event = FramebufferChannel.decode_event(bytes(frame.fields["data"]))
                if event.get("event") == "key" and event.get("down"):
                    self.on_key(str(event.get("key")))
            elif frame.type == "MSG_DELIVER":
                self.on_message(bytes(frame.fields["payload"]))
                self.guest.ack(frame.fields["link"], frame.fields["message_id"])
            elif frame.type == "IRQ":
                self.guest.eoi(frame.fields["line"])
            elif frame.type == "WAKE":
                log(f"woken by {frame.fields['source']} (line {frame.fields['line']})")
            elif frame.type == "DETACH":
                return


if __name__ == "__main__":
    Rtos().run()
