"""The hostile-peer campaign against a real hubd: every attack of handsethub.hostile, one hub per attack.

For each attack the test starts the reference handset (its TCP control port token-protected), attaches two
bystander guests exchanging messages with heartbeats and a bystander control client calling ``hub.info`` on
the Unix socket, measures the idle resident memory, runs the attack, and then asserts what the hub promises:

* it is still running, and answers ``hub.info`` promptly afterwards;
* the bystanders were served throughout: no control call failed, the guests were not disconnected, every
  message arrived exactly once and in order, and the exchange went on during the attack;
* the attack itself got the precise answer its protocol promises (checked per attack below);
* the resident memory returns within 32 MiB of the idle value.

Timing figures (the bystanders' p99, the loop watchdog's longest pass) are reported by the benchmark
``Tools/bench --only hostile``, not asserted here.
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from pathlib import Path

import pytest

from handsethub import hostile
from handsethub.control import HubClient
from handsethub.pytest_plugin import find_hubd, start_hub

TOKEN = "campaign-control-token"
MEMORY_SLACK_KIB = 32 * 1024


def campaign_config() -> str:
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True, timeout=10).stdout
    # The TCP control port requires a token (the Unix socket is the local administrator's).
    return re.sub(r"(?m)^hub:\n", f"hub:\n  controlToken: {TOKEN}\n", text, count=1)


@pytest.fixture
def target(tmp_path):
    hub = start_hub(tmp_path / "hub", campaign_config())
    try:
        ready = hub.ready
        control_unix = next(a for a in ready["control"] if a.startswith("unix:"))
        control_tcp = next(a for a in ready["control"] if a.startswith("tcp:"))
        guest_unix = next(a for a in ready["guest"] if a.startswith("unix:"))
        guest_tcp = next(a for a in ready["guest"] if a.startswith("tcp:"))
        with HubClient(control_unix) as admin:
            info = admin.call("fb.info")
        rfb = info.get("rfbEndpoints") or []
        rfb_port = None
        for address in rfb if isinstance(rfb, list) else [rfb]:
            address = address if isinstance(address, str) else address.get("address", "")
            if address.startswith("tcp:"):
                rfb_port = int(address.rpartition(":")[2])
        yield hostile.Target(pid=hub.process.pid, control_unix=control_unix, control_tcp=control_tcp,
                             guest_unix=guest_unix, guest_tcp=guest_tcp, token=TOKEN, rfb_port=rfb_port), hub
    finally:
        hub.stop()


def run_with_bystanders(target: hostile.Target, attack) -> tuple[dict, hostile.ControlBystander,
                                                                 hostile.GuestBystander, int, int]:
    control = hostile.ControlBystander(target.control_unix)
    guests = hostile.GuestBystander(target.guest_unix)
    control.start()
    guests.start()
    time.sleep(0.3)
    idle_rss = target.rss_kib()
    before = len(guests.received)
    try:
        facts = attack(target)
    finally:
        # The exchange must go on during the attack and right after it (a short attack may end between two
        # exchanges): count what arrived from the attack's start to 0.3 s after its end.
        time.sleep(0.3)
        during = len(guests.received) - before
        control.stop()
        guests.stop()
    return facts, control, guests, idle_rss, during


def assert_hub_kept_its_promises(target: hostile.Target, hub, control, guests, idle_rss: int, during: int) -> None:
    assert target.alive(), f"hubd died:\n{hub.log()[-4000:]}"
    assert not control.failures, control.failures
    assert not guests.failures, guests.failures
    assert guests.in_order_exactly_once(), "bystander messages lost, duplicated or reordered"
    assert during > 0, "the bystander guests exchanged nothing while the attack ran"
    # Promptly answered afterwards: best of three round trips under 100 ms.
    with HubClient(target.control_unix, timeout=5) as admin:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            admin.call("hub.info")
            best = min(best, time.perf_counter() - started)
    assert best < 0.1, f"hub.info took {best * 1000:.1f} ms after the attack"
    deadline = time.monotonic() + 15
    rss = target.rss_kib()
    while rss > idle_rss + MEMORY_SLACK_KIB and time.monotonic() < deadline:
        time.sleep(0.2)
        rss = target.rss_kib()
    assert rss <= idle_rss + MEMORY_SLACK_KIB, f"RSS {rss} KiB did not return near idle {idle_rss} KiB"


def campaign(target_and_hub, attack):
    target, hub = target_and_hub
    facts, control, guests, idle_rss, during = run_with_bystanders(target, attack)
    assert_hub_kept_its_promises(target, hub, control, guests, idle_rss, during)
    return facts, hub


def test_line_over_the_limit_is_refused_and_closed(target):
    facts, _ = campaign(target, hostile.attack_long_line)
    assert facts["tcp_closed"] and facts["unix_closed"], facts


def test_wrong_tokens_are_refused(target):
    facts, _ = campaign(target, hostile.attack_wrong_tokens)
    assert facts["refused"] > 0, facts


def test_object_with_many_keys_before_authentication(target):
    facts, _ = campaign(target, hostile.attack_many_keys)
    answer = facts["answer"]
    # Without the token the line is refused (too long before authentication, or unauthenticated), never parsed
    # into a result.
    assert answer is None or "error" in answer, answer


def test_thousands_of_kind_patterns(target):
    facts, _ = campaign(target, hostile.attack_many_filters)
    assert facts["answers"], "no answer to a filter with 100,000 patterns"
    for answer in facts["answers"]:
        # Refused by its bound, naming it (control.md §5.3), before any matching work.
        assert "error" in answer and answer["error"]["code"] == -32004, answer
        assert answer["error"]["data"]["limit"] == "controlMaxFilterEntries", answer


def test_client_that_never_reads_its_answers(target):
    facts, _ = campaign(target, hostile.attack_unread_answers)
    # Backpressure: the hub stops reading the client long before 2,000 large answers are queued.
    assert facts["peak_rss_kib"] < 512 * 1024, facts


def test_thousands_of_idle_control_connections(target):
    facts, _ = campaign(target, hostile.attack_held_connections)
    assert facts["admin_served"], facts


def test_unknown_method_without_token_is_indistinguishable(target):
    facts, _ = campaign(target, hostile.attack_unknown_method_probe)
    answers = facts["answers"]
    assert all(answer is not None for answer in answers.values()), answers
    codes = {answer["code"] for answer in answers.values()}
    assert len(codes) == 1 and -32601 not in codes, answers


def test_out_of_range_numbers_are_invalid_params(target):
    facts, _ = campaign(target, hostile.attack_huge_number)
    assert facts["answers"] == [-32602] * len(facts["answers"]), facts


def test_thousands_of_guests_that_never_finish_the_handshake(target):
    facts, _ = campaign(target, hostile.attack_preauth_guests)
    assert facts["real_guest_attached"], facts


def test_pre_authentication_partial_frames_do_not_grow_memory(target):
    facts, _ = campaign(target, hostile.attack_partial_frames)
    assert facts["opened"] > 0
    # 800 peers × 1 MiB would be 800 MiB: a pre-authentication frame limit keeps it small.
    assert facts["peak_rss_kib"] < 256 * 1024, facts


def test_stalled_rfb_handshakes_do_not_lock_out_viewers(target):
    if target[0].rfb_port is None:
        pytest.skip("the reference handset serves no TCP RFB endpoint")
    facts, _ = campaign(target, hostile.attack_stalled_rfb)
    assert facts["viewer_served"], facts


def test_guests_beyond_the_default_descriptor_limit(tmp_path):
    """At a soft limit of 1024 descriptors the hub raises its own limit and keeps accepting real guests."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4096:
        pytest.skip(f"hard descriptor limit {hard} too low for the test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        hub = start_hub(tmp_path / "hub", campaign_config())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        guest_tcp = next(a for a in hub.ready["guest"] if a.startswith("tcp:"))
        guest_unix = next(a for a in hub.ready["guest"] if a.startswith("unix:"))
        held = []
        try:
            for _ in range(1100):
                held.append(hostile.open_stream(guest_tcp, timeout=2))
            with hostile.GuestClient.connect(guest_unix, "linux", "linux-dev-secret", timeout=5) as guest:
                assert guest.welcome
        finally:
            for sock in held:
                sock.close()
        assert hub.process.poll() is None
    finally:
        hub.stop()


def test_alias_chain_in_config_is_refused_quickly(tmp_path):
    """A YAML alias chain (billion laughs used as a mapping key) is refused with a precise error."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    lines.append("? *a9\n: boom")
    path = tmp_path / "alias.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = subprocess.run([str(find_hubd()), "--config", str(path), "--check-config"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2, result
    output = result.stdout + result.stderr
    assert output.count("\n") < 20, f"a flood of unrelated errors:\n{output[:2000]}"


def test_sigterm_while_control_clients_keep_sending(tmp_path):
    """SIGTERM while a dozen control clients pipeline requests: hubd stops cleanly (status 0), no crash."""
    hub = start_hub(tmp_path / "hub", campaign_config())
    senders = []
    try:
        control_unix = next(a for a in hub.ready["control"] if a.startswith("unix:"))
        for _ in range(12):
            sock = hostile.open_stream(control_unix)
            sock.setblocking(False)
            senders.append(sock)
        line = b'{"jsonrpc":"2.0","id":1,"method":"hub.info"}\n' * 64
        deadline = time.monotonic() + 0.5
        signalled = False
        while hub.process.poll() is None and time.monotonic() < deadline + 5:
            for sock in senders:
                try:
                    sock.send(line)
                except OSError:
                    pass
            if not signalled and time.monotonic() > deadline:
                hub.process.terminate()
                signalled = True
        assert hub.process.wait(timeout=10) == 0, hub.log()[-3000:]
        assert "Fatal error" not in hub.log()
    finally:
        for sock in senders:
            sock.close()
        hub.stop()
