"""Runs every ```jsonrpc-example block of Protocols/control.md against a live hubd (§6 of the spec),
so the documentation cannot drift from the server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from handsethub.control import HubClient
from handsethub.pytest_plugin import start_hub

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
SPEC = REPO / "Protocols" / "control.md"
AUTH_CONFIG = Path(__file__).parent / "configs" / "auth-example.yaml"
ANY = "<any>"


class Block:
    def __init__(self, line_number: int, attributes: List[str], lines: List[Tuple[str, str]]):
        self.line_number = line_number
        self.attributes = attributes
        self.lines = lines

    def __repr__(self) -> str:
        return f"control.md:{self.line_number}"


def extract_blocks(text: str) -> List[Block]:
    blocks: List[Block] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```jsonrpc-example"):
            attributes = line[len("```jsonrpc-example"):].split()
            start = index + 1
            body: List[Tuple[str, str]] = []
            index += 1
            while not lines[index].startswith("```"):
                entry = lines[index]
                if entry.startswith("#") or not entry.strip():
                    pass
                elif entry.startswith("--> ") or entry.startswith("<-- "):
                    body.append((entry[:3], entry[4:]))
                else:
                    raise ValueError(f"control.md:{index + 1}: not a --> / <-- / # line: {entry!r}")
                index += 1
            blocks.append(Block(start, attributes, body))
        index += 1
    return blocks


def matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(matches(expected[k], actual[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(matches(e, a) for e, a in zip(expected, actual)))
    return type(expected) is type(actual) and expected == actual


def match_set(expected: List[Any], actual: List[Any]) -> bool:
    if not expected:
        return True
    first, rest = expected[0], expected[1:]
    return any(matches(first, candidate) and match_set(rest, actual[:i] + actual[i + 1:])
               for i, candidate in enumerate(actual))


def run_block(block: Block, address: str) -> None:
    client = HubClient(address, timeout=5.0)
    try:
        steps = list(block.lines)
        if steps and steps[0][0] == "<--":
            greeting = json.loads(steps.pop(0)[1])
            assert matches(greeting, {"jsonrpc": "2.0", "method": "hub.hello", "params": client.hello}), \
                f"{block}: greeting {client.hello}"
        index = 0
        while index < len(steps):
            direction, text = steps[index]
            if direction == "-->":
                client.send_line(text)  # verbatim: some examples are deliberately malformed
                index += 1
                continue
            expected = []
            while index < len(steps) and steps[index][0] == "<--":
                expected.append(json.loads(steps[index][1]))
                index += 1
            received = []
            for _ in expected:
                message = client.read_message(timeout=5.0)
                assert message is not None, f"{block}: timed out; expected {expected}, got {received}"
                received.append(message)
            assert match_set(expected, received), f"{block}:\nexpected {expected}\nreceived {received}"
    finally:
        client.close()


BLOCKS = extract_blocks(SPEC.read_text())


def written_paths(blocks: List[Block]) -> List[Path]:
    """The files the examples ask the hub to write: eth.capture.start's ``path`` (/tmp/handsethub-example.pcap)."""
    paths = []
    for block in blocks:
        for direction, text in block.lines:
            if direction != "-->":
                continue
            try:
                request = json.loads(text)
            except ValueError:
                continue  # a deliberately malformed example
            if not isinstance(request, dict) or request.get("method") != "eth.capture.start":
                continue
            params = request.get("params")
            if isinstance(params, dict) and isinstance(params.get("path"), str):
                paths.append(Path(params["path"]))
    return paths


@pytest.fixture(scope="module", autouse=True)
def remove_written_files():
    """The examples' files live outside the test's directory: each one the tests created or rewrote is removed
    when the module's tests end, passed or failed (a file they left untouched is not theirs)."""
    paths = written_paths(BLOCKS)

    def fingerprint(path: Path):
        try:
            status = path.stat()
        except FileNotFoundError:
            return None
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    before = {path: fingerprint(path) for path in paths}
    yield
    for path in paths:
        after = fingerprint(path)
        if after is not None and after != before[path]:
            path.unlink()


def test_spec_has_an_example_for_every_method(reference_hub):
    """Every method the hub serves (hub.methods) is documented with an example, so none goes unspecified."""
    documented = {json.loads(text).get("method") for block in BLOCKS for d, text in block.lines
                  if d == "-->" and text.endswith("}")}
    client = HubClient(reference_hub.address())
    try:
        served = {entry["name"] for entry in client.call("hub.methods")}
    finally:
        client.close()
    assert served, "hub.methods returned nothing"
    assert not served - documented, f"methods without an example in control.md: {sorted(served - documented)}"


@pytest.fixture(scope="module")
def reference_hub(tmp_path_factory):
    hub = start_hub(Path(tmp_path_factory.mktemp("examples")))
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def auth_hub(tmp_path_factory):
    hub = start_hub(Path(tmp_path_factory.mktemp("auth")), AUTH_CONFIG)
    yield hub
    hub.stop()


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.attributes], ids=repr)
def test_example(block, reference_hub):
    run_block(block, reference_hub.address())


@pytest.mark.parametrize("block", [b for b in BLOCKS if "auth" in b.attributes], ids=repr)
def test_auth_example(block, auth_hub):
    run_block(block, auth_hub.address("tcp"))


@pytest.mark.parametrize("block", [b for b in BLOCKS if "last" in b.attributes], ids=repr)
def test_last_example(block, tmp_path):
    # A hub of its own: these examples stop it.
    hub = start_hub(tmp_path / "last")
    try:
        run_block(block, hub.address())
        hub.process.wait(timeout=5)
        assert hub.process.returncode == 0
    finally:
        hub.stop()
