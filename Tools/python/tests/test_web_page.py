"""The handset's web page (Tools/web, served by websockify, Deploy/web.md) in headless Chromium: the living handset
is rung, the call screen appears in the page's noVNC canvas exactly as fb.screenshot shows it, the page's CALL
button answers the call (the hub's keypad mapping, Protocols/framebuffer.md §4) and the control API sees the call
active. Every process (hubd, its guests, websockify, chromedriver, Chromium) is stopped at the end."""

from __future__ import annotations

import base64
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from handsethub import web
from test_living_handset import CALL_SCREEN, living_config, wait_running

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [what for what, present in (
    ("chromium (Debian package chromium)", CHROMIUM),
    ("chromedriver (Debian package chromium-driver)", CHROMEDRIVER),
    ("websockify (Debian package websockify)", shutil.which(web.WEBSOCKIFY)),
    ("noVNC's core/rfb.js (Debian package novnc)", (web.NOVNC / "core" / "rfb.js").exists()),
) if not present]
try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.chrome.service import Service
except ImportError:  # pragma: no cover - Tools/hub test installs it
    MISSING.append("selenium (PyPI)")
try:
    from PIL import Image
except ImportError:  # pragma: no cover - vncdotool depends on Pillow
    MISSING.append("Pillow (PyPI)")

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)} (Tools/hub test installs them)")

PAGE_TIMEOUT = 30.0


def browser(directory: Path):
    """Chromium driven by chromedriver, their temporary files (Chromium leaves an org.chromium.Chromium.* folder
    behind) in ``directory``, which the caller removes. It must be short: Chromium binds a Unix socket
    (SingletonSocket) in a folder it makes there, and a socket path is at most 107 bytes; pytest's tmp_path under
    xdist (…/popen-gw1/test_page_shows_…0/) made it longer, and Chromium exited at start."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1100", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    service = Service(CHROMEDRIVER, env={**os.environ, "TMPDIR": str(directory)})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    return driver


def until(condition, timeout=PAGE_TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


CANVAS_RGB = """
const canvas = document.querySelector('#screen canvas');
if (!canvas || canvas.width !== arguments[0] || canvas.height !== arguments[1]) return null;
const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
const rgb = new Uint8Array(canvas.width * canvas.height * 3);
for (let i = 0, j = 0; i < rgba.length; i += 4) { rgb[j++] = rgba[i]; rgb[j++] = rgba[i + 1]; rgb[j++] = rgba[i + 2]; }
let text = '';
for (let i = 0; i < rgb.length; i += 0x8000) text += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
return btoa(text);
"""


def canvas_rgb(driver, width, height):
    encoded = driver.execute_script(CANVAS_RGB, width, height)
    return base64.b64decode(encoded) if encoded else None


def screenshot_rgb(hub):
    shot = hub.call("fb.screenshot")
    image = Image.open(io.BytesIO(base64.b64decode(shot["png"]))).convert("RGB")
    return shot["width"], shot["height"], image.tobytes()


@pytest.fixture
def browser_scratch():
    """A short folder of this test's for Chromium's temporary files, removed when the test ends."""
    directory = Path(tempfile.mkdtemp(prefix="hh-chromium-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_page_shows_the_call_screen_and_its_call_button_answers(hubd, browser_scratch):
    hub = hubd(config=living_config())
    wait_running(hub)
    hub.call("modem.wait", {"at": {"pattern": r"^AT\+CSQ", "since": 0}, "timeoutMs": 10000}, timeout=15)
    with web.bridge_hub(hub, listen="127.0.0.1:0") as bridge:
        driver = browser(browser_scratch)
        try:
            driver.get(bridge.url)
            until(lambda: driver.execute_script("return !!(window.handset && window.handset.ready "
                                                "&& window.handset.screenConnected)"), what="the page to connect")
            rows = driver.find_elements(By.CSS_SELECTOR, "#partitions tbody tr")
            assert [row.get_attribute("data-partition") for row in rows] == ["rtos", "linux", "secure", "mgmt"]

            hub.call("modem.call.incoming", {"number": "+15551234567"})
            hub.call("fb.wait", {"x": 0, "y": 0, "width": 480, "height": 40, "colour": CALL_SCREEN,
                                 "timeoutMs": 10000}, timeout=15)
            # The RTOS draws the call screen in steps (the caller's number comes with +CLIP after RING), so the
            # screenshot is taken again on each try: once the screen settles, the canvas must equal it exactly.
            seen = {}

            def canvas_matches():
                width, height, seen["expected"] = screenshot_rgb(hub)
                seen["rgb"] = canvas_rgb(driver, width, height)
                return seen["rgb"] == seen["expected"]

            try:
                until(canvas_matches, what="the canvas to show the call screen")
            except AssertionError:
                got = seen.get("rgb")
                expected = seen["expected"]
                differing = None if got is None else sum(1 for a, b in zip(got, expected) if a != b)
                raise AssertionError(f"canvas differs from fb.screenshot: {differing} bytes of {len(expected)}")
            until(lambda: driver.find_elements(By.CSS_SELECTOR, '#calls li[data-state="incoming"]'),
                  what="the page's call list to show the incoming call")
            until(lambda: driver.find_elements(By.CSS_SELECTOR, '#events li[data-kind="modem.call"]'),
                  what="the page's event list to show the modem.call event")

            driver.find_element(By.CSS_SELECTOR, '#keypad button[data-key="call"]').click()
            answered = hub.call("modem.wait", {"call": {"state": "active"}, "timeoutMs": 10000}, timeout=15)
            assert answered["call"]["number"] == "+15551234567"
            assert [call["state"] for call in hub.call("modem.calls")["calls"]] == ["active"]
            until(lambda: driver.find_elements(By.CSS_SELECTOR, '#calls li[data-state="active"]'),
                  what="the page's call list to show the active call")

            # A network-side button: the page's signal form reaches modem.signal.
            field = driver.find_element(By.CSS_SELECTOR, '#signal input[name="rssi"]')
            field.clear()
            field.send_keys("7")
            driver.find_element(By.CSS_SELECTOR, "#signal button").click()
            until(lambda: hub.call("modem.status")["rssi"] == 7, what="modem.signal from the page")
            viewers = hub.call("fb.info")["viewers"]
            assert len(viewers) == 1, viewers
        finally:
            driver.quit()
    assert bridge.process.poll() is not None
    assert not Path(bridge.directory).exists()


def test_off_loopback_bridges_need_a_secret_key(tmp_path):
    with pytest.raises(ValueError, match="secret key"):
        web.start_web("127.0.0.1:1", "127.0.0.1:2", listen="0.0.0.0:0", key="local", directory=tmp_path)
    with pytest.raises(ValueError, match="at least 16"):
        web.start_web("127.0.0.1:1", "127.0.0.1:2", listen="0.0.0.0:0", key="short", directory=tmp_path)
    site = web.prepare_directory(tmp_path / "keyed", "127.0.0.1:1", "127.0.0.1:2", "k" * 24)
    tokens = (tmp_path / "keyed" / "tokens").read_text().split("\n")
    assert tokens[:2] == [f"rfb-{'k' * 24}: 127.0.0.1:2", f"control-{'k' * 24}: 127.0.0.1:1"]
    assert (site / "novnc" / "core" / "rfb.js").exists() and (site / "index.html").exists()


def websocket_first_bytes(port: int, token: str, timeout: float = 10.0) -> bytes:
    """Opens ``/websockify?token=TOKEN`` (RFC 6455 handshake by hand) and returns the payload of the first
    message, or b"" when the server closes without sending one."""
    import os as _os
    import socket as _socket

    with _socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        key = base64.b64encode(_os.urandom(16)).decode()
        sock.sendall((f"GET /websockify?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Protocol: binary\r\n\r\n").encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return b""
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            return b""
        while len(rest) < 2 and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return b""
            rest += chunk
        opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
        if opcode == 0x8:  # close
            return b""
        offset = 2
        if length == 126:
            length, offset = int.from_bytes(rest[2:4], "big"), 4
        while len(rest) < offset + length and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return rest[offset:offset + length]


def test_the_bridges_answer_only_their_key(hubd):
    """With a secret key (as off loopback), the control bridge greets under control-KEY and nothing answers
    under the loopback name control-local or a wrong key: websockify closes those WebSockets."""
    hub = hubd()
    key = "k3y-" + "x" * 24
    with web.bridge_hub(hub, listen="127.0.0.1:0", key=key) as bridge:
        port = int(bridge.url.split(":")[2].split("/")[0])
        assert bridge.url.endswith(f"#key={key}")
        assert b'"hub.hello"' in websocket_first_bytes(port, f"control-{key}")
        assert websocket_first_bytes(port, "control-local") == b""
        assert websocket_first_bytes(port, f"control-{key}x") == b""
        assert websocket_first_bytes(port, f"rfb-{key}").startswith(b"RFB 003.008")
