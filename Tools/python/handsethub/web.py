"""The handset in a browser: serves Tools/web with Debian's websockify and bridges its WebSockets to the hub.

One websockify process serves the page's directory (``--web``) and, through its ``TokenFile`` token plugin,
bridges two WebSocket paths to TCP: ``/websockify?token=rfb-KEY`` to the framebuffer's RFB endpoint (noVNC's
``core/rfb.js``, from Debian's ``novnc`` package, draws it) and ``/websockify?token=control-KEY`` to a TCP
control endpoint (the page speaks the control API of Protocols/control.md over it). ``KEY`` is ``local`` on
loopback; on any other address a random key is generated (or given) and is required to reach either bridge,
and the page learns it from the address's fragment, which browsers never send to the server (Deploy/web.md).

    python3 -m handsethub.web --hubd .build/release/hubd -- --config Deploy/examples/living-handset.yaml

starts hubd with a ready file, then websockify, prints the page's address and runs until hubd exits or
SIGINT/SIGTERM arrives (then both are stopped).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from .control import HubClient

WEB_SOURCES = Path(__file__).resolve().parents[2] / "web"
NOVNC = Path(os.environ.get("HANDSETHUB_NOVNC", "/usr/share/novnc"))
WEBSOCKIFY = os.environ.get("HANDSETHUB_WEBSOCKIFY", "websockify")
START_TIMEOUT = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tcp_target(endpoints: List[str], what: str) -> str:
    """``HOST:PORT`` of the first ``tcp:`` endpoint (websockify bridges to TCP only)."""
    for endpoint in endpoints:
        if endpoint.startswith("tcp:"):
            return endpoint[4:]
    raise LookupError(f"the hub has no TCP {what} endpoint to bridge to (got {endpoints}); add one, e.g. "
                      f"tcp:127.0.0.1:0")


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class WebBridge:
    """A running websockify serving the page and its two bridges; ``url`` is the page's address."""

    def __init__(self, process: subprocess.Popen, directory: Path, url: str, owns_directory: bool):
        self.process = process
        self.directory = directory
        self.url = url
        self._owns_directory = owns_directory

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "WebBridge":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def prepare_directory(directory: Path, control: str, rfb: str, key: str) -> Path:
    """The served tree: the page's sources and noVNC linked in (never copied), and the bridges' token file."""
    site = directory / "site"
    site.mkdir(parents=True, exist_ok=True)
    for source in WEB_SOURCES.iterdir():
        if source.suffix in (".html", ".js", ".css"):
            (site / source.name).symlink_to(source)
    if not (NOVNC / "core" / "rfb.js").exists():
        raise FileNotFoundError(f"noVNC not found at {NOVNC} (Debian package novnc, or set HANDSETHUB_NOVNC)")
    (site / "novnc").symlink_to(NOVNC)
    tokens = directory / "tokens"
    tokens.write_text(f"rfb-{key}: {rfb}\ncontrol-{key}: {control}\n")
    tokens.chmod(0o600)
    return site


def start_web(control: str, rfb: str, listen: str = "127.0.0.1:6080", key: Optional[str] = None,
              directory: Optional[Path] = None, cert: Optional[str] = None) -> WebBridge:
    """Starts websockify on ``listen`` (``HOST:PORT``; port 0 picks a free one) bridging to the ``HOST:PORT``
    targets ``control`` and ``rfb``."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if key is None:
        key = "local" if is_loopback(host) else secrets.token_urlsafe(24)
    elif not is_loopback(host) and key == "local":
        raise ValueError("off loopback the bridges need a secret key, not 'local' (Deploy/web.md)")
    elif not is_loopback(host) and len(key) < 16:
        raise ValueError("off loopback the bridge key must be at least 16 characters (Deploy/web.md)")
    owns = directory is None
    directory = Path(tempfile.mkdtemp(prefix="handsethub-web-")) if directory is None else directory
    site = prepare_directory(directory, control, rfb, key)
    number = int(port) if port else 6080
    number = free_port(host) if number == 0 else number
    command = [WEBSOCKIFY, "--web", str(site), "--token-plugin", "TokenFile", "--token-source",
               str(directory / "tokens")]
    if cert:
        command += ["--cert", cert]
    command.append(f"{host}:{number}" if ":" not in host else f"[{host}]:{number}")
    log = open(directory / "websockify.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    wait_listening(process, host, number, directory / "websockify.log")
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    scheme = "https" if cert else "http"
    url = f"{scheme}://{shown if ':' not in shown else '[' + shown + ']'}:{number}/index.html"
    if key != "local":
        url += f"#key={key}"
    return WebBridge(process, directory, url, owns)


def wait_listening(process: subprocess.Popen, host: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"websockify exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection((host if host != "0.0.0.0" else "127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise TimeoutError(f"websockify not listening on {host}:{port} within {START_TIMEOUT} s")


def bridge_hub(client: HubClient, listen: str = "127.0.0.1:6080", key: Optional[str] = None,
               directory: Optional[Path] = None) -> WebBridge:
    """Starts the page for the hub behind ``client``: its first TCP control endpoint and fb0's RFB endpoint."""
    control = tcp_target(client.call("hub.info")["endpoints"]["control"], "control")
    rfb = tcp_target(client.call("fb.info")["rfbEndpoints"], "RFB")
    return start_web(control, rfb, listen=listen, key=key, directory=directory)


def run(arguments: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run hubd and serve its web page (Deploy/web.md).")
    parser.add_argument("--hubd", required=True, help="the hubd binary")
    parser.add_argument("--listen", default=os.environ.get("HANDSETHUB_WEB_LISTEN", "127.0.0.1:6080"),
                        help="websockify's address (default 127.0.0.1:6080; off loopback a key is required)")
    parser.add_argument("--key", default=os.environ.get("HANDSETHUB_WEB_KEY"),
                        help="the bridges' secret key off loopback (default: a random one, printed)")
    parser.add_argument("hubd_args", nargs=argparse.REMAINDER)
    options = parser.parse_args(arguments)
    hubd_args = options.hubd_args[1:] if options.hubd_args[:1] == ["--"] else options.hubd_args
    directory = Path(tempfile.mkdtemp(prefix="handsethub-run-"))
    ready = directory / "ready.json"
    hub = subprocess.Popen([options.hubd, *hubd_args, "--ready-file", str(ready)])
    bridge = None
    stop = {"signal": None}

    def on_signal(number: int, _frame: object) -> None:
        stop["signal"] = number

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists() and hub.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if hub.poll() is not None or not ready.exists():
            print("hub: hubd did not become ready; no web page", file=sys.stderr)
            return hub.wait() if hub.poll() is not None else 1
        addresses = json.loads(ready.read_text())["control"]
        address = sorted(addresses, key=lambda a: 0 if a.startswith("unix:") else 1)[0]
        with HubClient(address) as client:
            bridge = bridge_hub(client, listen=options.listen, key=options.key, directory=directory / "web")
        print(f"hub: the handset's web page: {bridge.url}", file=sys.stderr)
        while hub.poll() is None and stop["signal"] is None:
            time.sleep(0.2)
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
        return hub.wait()
    finally:
        if bridge is not None:
            bridge.stop()
        if hub.poll() is None:
            hub.kill()
            hub.wait()
        shutil.rmtree(directory, ignore_errors=True)


def serve(arguments: List[str]) -> int:
    """``serve --control HOST:PORT --rfb HOST:PORT [--listen HOST:PORT]``: the page for a hub started elsewhere
    (a pod's sidecar, Deploy/kubernetes); the key comes from ``HANDSETHUB_WEB_KEY`` or ``--key-file``."""
    parser = argparse.ArgumentParser(description="Serve the web page for a running hub (Deploy/web.md).")
    parser.add_argument("--control", required=True)
    parser.add_argument("--rfb", required=True)
    parser.add_argument("--listen", default="127.0.0.1:6080")
    parser.add_argument("--key-file")
    options = parser.parse_args(arguments)
    key = os.environ.get("HANDSETHUB_WEB_KEY")
    if options.key_file:
        key = Path(options.key_file).read_text()[:4096].strip()
    bridge = start_web(options.control, options.rfb, listen=options.listen, key=key)
    shown = bridge.url.split("#")[0] + ("#key=…" if "#" in bridge.url else "")
    print(f"handsethub: serving the web page at {shown}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
    try:
        return bridge.process.wait()
    finally:
        bridge.stop()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[2:]) if sys.argv[1:2] == ["serve"] else run())
