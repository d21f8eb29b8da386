"""pytest plugin: the ``hubd`` fixture starts a hub for a test and leaves nothing running.

Registered through the ``pytest11`` entry point, so ``pip install ./Tools/python`` is all a test suite needs::

    def test_interrupt(hubd):
        hub = hubd()                      # the built-in reference handset
        hub.raise_irq("linux", 3, as_="tester")

    def test_custom(hubd):
        hub = hubd(config=\"\"\"...yaml...\"\"\")  # or a path to a YAML file

How it works: the configuration (built-in default when none is given, from ``hubd --print-default-config``)
is written into the test's temporary directory after rewriting every endpoint address so that
``unix:PATH`` sockets live in that directory and ``tcp:HOST:PORT`` listens on port 0 (an ephemeral
port): parallel tests never race for a port. ``hubd --config FILE --ready-file READY`` is started; once it
writes READY (``{"pid":…,"control":[ADDRESS…],"guest":[ADDRESS…]}``) the fixture connects to the first
Unix control endpoint (else the first TCP one). On teardown every client is closed and every hub is stopped:
``hub.shutdown``, then SIGTERM, then SIGKILL, each after a bound.

The hubd binary: ``$HANDSETHUB_HUBD``, else ``.build/debug/hubd`` under the repository root (found by
walking up from the current directory and from this file to the directory holding ``Package.swift``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Union

import pytest

from .control import HubClient

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_ADDRESS = re.compile(r"(?P<scheme>unix|tcp):(?P<rest>\[[^\]]*\]:\d+|[^\s\"',\]\}]+)")


def find_hubd() -> Path:
    """The hubd binary to run (see module docstring)."""
    env = os.environ.get("HANDSETHUB_HUBD")
    if env:
        return Path(env)
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for directory in (start, *start.parents):
            if (directory / "Package.swift").exists():
                candidate = directory / ".build" / "debug" / "hubd"
                if candidate.exists():
                    return candidate
    raise FileNotFoundError("hubd not found: set HANDSETHUB_HUBD or run `swift build` at the repository root")


_DEFAULT_CONFIG: Dict[str, str] = {}


def default_config_text() -> str:
    """``hubd --print-default-config`` of the binary under test (the reference handset), read once per process."""
    binary = str(find_hubd())
    if binary not in _DEFAULT_CONFIG:
        _DEFAULT_CONFIG[binary] = subprocess.run([binary, "--print-default-config"], check=True, capture_output=True,
                                                 text=True, timeout=30).stdout
    return _DEFAULT_CONFIG[binary]


def managed_config(state: Union[str, os.PathLike], authorities: List[dict]) -> dict:
    """The reference handset as a YAML document (PyYAML) with a state directory, ``mgmt`` allowed to relay
    management commands (``mayManage``) and ``management.authorities`` set (Protocols/management.md)."""
    import yaml  # only the management tests need PyYAML

    document = yaml.safe_load(default_config_text())
    document["hub"]["stateDirectory"] = str(state)
    for partition in document["partitions"]:
        if partition["name"] == "mgmt":
            partition["mayManage"] = True
    document["management"] = {"authorities": authorities}
    return document


def isolate_endpoints(config_text: str, directory: Path) -> str:
    """Rewrites endpoint addresses: unix sockets into ``directory``, TCP ports to 0 (host kept)."""
    counter = {"n": 0}

    def replace(match: re.Match) -> str:
        if match.group("scheme") == "unix":
            counter["n"] += 1
            name = Path(match.group("rest")).name or f"socket{counter['n']}"
            number = counter["n"]
            return f"unix:{directory / f'{number}-{name}'}"
        rest = match.group("rest")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit():
            return match.group(0)
        return f"tcp:{host}:0"

    return _ADDRESS.sub(replace, config_text)


class HubProcess:
    """One running hubd and the addresses it reported."""

    def __init__(self, process: subprocess.Popen, ready: dict, directory: Path, log_path: Path):
        self.process = process
        self.ready = ready
        self.directory = directory
        self.log_path = log_path
        self.clients: List[HubClient] = []

    @property
    def control(self) -> List[str]:
        return list(self.ready.get("control", []))

    @property
    def guest(self) -> List[str]:
        return list(self.ready.get("guest", []))

    def address(self, scheme: Optional[str] = None) -> str:
        """The first control address, preferring Unix sockets (or the first of ``scheme``)."""
        ordered = sorted(self.control, key=lambda a: 0 if a.startswith("unix:") else 1)
        for address in ordered:
            if scheme is None or address.startswith(scheme + ":"):
                return address
        raise LookupError(f"hubd reported no {scheme or ''} control endpoint: {self.control}")

    def connect(self, address: Optional[str] = None, token: Optional[str] = None) -> HubClient:
        client = HubClient(address or self.address(), token=token)
        self.clients.append(client)
        return client

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """hub.shutdown, then SIGTERM, then SIGKILL; always reaps the process."""
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            try:
                with HubClient(self.address(), timeout=2.0) as client:
                    if client.hello.get("auth") != "token":
                        client.call("hub.shutdown", timeout=2.0)
            except Exception:
                pass
        for sig, bound in ((None, STOP_TIMEOUT), (signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            if sig is not None and self.process.poll() is None:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=bound)
                break
            except subprocess.TimeoutExpired:
                continue


def start_hub(directory: Path, config: Union[str, os.PathLike, None] = None,
              extra_args: Optional[List[str]] = None, start_timeout: float = START_TIMEOUT) -> HubProcess:
    """Starts hubd with ``config`` (YAML text, a path, or None for the built-in default) in ``directory``;
    ``start_timeout`` bounds the wait for it to be ready (a start that does much work on purpose needs more)."""
    binary = find_hubd()
    directory.mkdir(parents=True, exist_ok=True)
    if config is None:
        text = subprocess.run([str(binary), "--print-default-config"], check=True, capture_output=True,
                              text=True, timeout=START_TIMEOUT).stdout
    elif isinstance(config, os.PathLike) or (isinstance(config, str) and "\n" not in config
                                             and Path(config).is_file()):
        text = Path(config).read_text()
    else:
        text = str(config)
    config_path = directory / "hubd.yaml"
    config_path.write_text(isolate_endpoints(text, directory))
    ready_path = directory / "ready.json"
    log_path = directory / "hubd.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(binary), "--config", str(config_path), "--ready-file", str(ready_path),
                                    *(extra_args or [])], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + start_timeout
    while True:
        if ready_path.exists():
            try:
                ready = json.loads(ready_path.read_text())
                break
            except ValueError:
                pass  # being written; hubd should write it atomically, but be tolerant
        if process.poll() is not None:
            raise RuntimeError(f"hubd exited with status {process.returncode} before it was ready:\n"
                               f"{log_path.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise TimeoutError(f"hubd not ready within {start_timeout} s:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.01)
    return HubProcess(process, ready, directory, log_path)


@pytest.fixture
def hubd(tmp_path_factory):
    """Factory fixture: ``hubd(config=None, token=None)`` starts a hub and returns a connected HubClient.

    The client's ``.hub`` attribute is the ``HubProcess`` (addresses, log, ``connect()`` for more clients).
    Every hub started in the test is stopped at teardown, even if the test failed.
    """
    started: List[HubProcess] = []

    def start(config: Union[str, os.PathLike, None] = None, token: Optional[str] = None,
              address: Optional[str] = None) -> HubClient:
        # Short directory names: Unix socket paths are limited to 107 bytes.
        directory = Path(tmp_path_factory.mktemp("hub", numbered=True))
        hub = start_hub(directory, config)
        started.append(hub)
        client = hub.connect(address, token=token)
        client.hub = hub  # type: ignore[attr-defined]
        return client

    yield start
    for hub in started:
        hub.stop()
    leftovers = [hub.process.pid for hub in started if hub.process.poll() is None]
    assert not leftovers, f"hubd processes still running after teardown: {leftovers}"
