"""Policy profiles' link rate limits end to end (Protocols/policy.md §2-§4, guest.md §7.12, control.md §20): under a
profile that lowers rtos-linux to 1 message a second (burst 5), a burst from rtos is refused rate_limited beyond
the budget, link.get counts exactly the refusals rtos was answered, nothing accepted before or after the switch is
lost, and switching back to the base policy lifts the limit. A guest without the rate-limit feature is answered
queue_full for the same refusal. Bad linkRates entries are refused at load with their path.
"""

from __future__ import annotations

import time

import pytest

from handsethub.guest import POLICY_PROFILES, RATE_LIMIT, GuestClient

RATE, BURST = 1, 5

CONFIG = f"""
platform:
  name: policy-link-rates
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock]
partitions:
  - {{name: rtos, class: real-time, priority: 0, memoryBytes: 16MiB, secret: rtos-secret, mayMessage: [linux]}}
  - {{name: linux, class: fair-share, priority: 8, memoryBytes: 64MiB, secret: linux-secret, mayMessage: [rtos]}}
  - {{name: mgmt, class: fair-share, priority: 12, memoryBytes: 16MiB, secret: mgmt-secret, mayActivatePolicy: true}}
links:
  - {{name: rtos-linux, a: rtos, b: linux, depth: 512}}
policy:
  profiles:
    - name: throttled
      description: rtos-linux held to {RATE} message a second
      linkRates:
        - {{link: rtos-linux, messagesPerSecond: {RATE}, burstMessages: {BURST}}}
"""

SECRETS = {name: f"{name}-secret" for name in ("rtos", "linux", "mgmt")}


def attach(hub, name: str, features: list[str]) -> GuestClient:
    return GuestClient.connect(hub.hub.guest[0], name, SECRETS[name], features=features, timeout=5)


def link_id(guest: GuestClient, name: str) -> int:
    return next(link["id"] for link in guest.welcome["links"] if link["name"] == name)


def burst(guest: GuestClient, link: int, count: int, tag: str) -> tuple[list[int], list[str], float]:
    """`count` sends as fast as the answers come: the ids queued, the refusals' statuses, the seconds it took."""
    queued, refused, started = [], [], time.monotonic()
    for i in range(count):
        status, message_id = guest.send(link, f"{tag}-{i}".encode())
        if status == "queued":
            queued.append(message_id)
        else:
            refused.append(status)
    return queued, refused, time.monotonic() - started


def receive(guest: GuestClient, link: int, count: int, timeout: float = 10.0) -> list[bytes]:
    """The payloads of the first `count` deliveries on `link` (acknowledged); bounded by `timeout`."""
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        frame = guest.receive(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
        if frame is not None and frame.type == "MSG_DELIVER" and frame.fields["link"] == link:
            got.append(frame.fields["payload"])
            guest.ack(link, frame.fields["message_id"])
    return got


def test_a_profile_lowers_a_links_rate_and_switching_back_lifts_it(hubd):
    hub = hubd(config=CONFIG)
    rtos = attach(hub, "rtos", [POLICY_PROFILES, RATE_LIMIT])
    linux = attach(hub, "linux", [POLICY_PROFILES])  # no rate-limit feature: hears queue_full instead
    mgmt = attach(hub, "mgmt", [POLICY_PROFILES])
    try:
        tx, rx = link_id(rtos, "rtos-linux"), link_id(linux, "rtos-linux")
        # The base policy: rtos-linux is unlimited.
        assert hub.link("rtos-linux")["queues"][0]["rateLimit"] is None
        before, refused, _ = burst(rtos, tx, 20, "before")
        assert (len(before), refused) == (20, [])

        activation = hub.activate_policy("throttled")
        unlimited = {"messagesPerSecond": 0, "bytesPerSecond": 0, "burstMessages": None, "burstBytes": None}
        throttled = {"messagesPerSecond": RATE, "bytesPerSecond": 0, "burstMessages": BURST, "burstBytes": None}
        assert activation["changes"]["ratesChanged"] == [{"link": "rtos-linux", "from": unlimited, "to": throttled}]
        effective = hub.policy_status()["effective"]["linkRates"]
        assert effective == [{"link": "rtos-linux", "rate": throttled}]
        shown = hub.link("rtos-linux")["queues"]
        assert shown[0]["rateLimit"]["messagesPerSecond"] == RATE and shown[0]["rateLimit"]["burstMessages"] == BURST
        assert shown[1]["rateLimit"]["messagesPerSecond"] == RATE  # both directions

        # A burst of 40: the bucket's 5 (plus what 1 a second refills meanwhile) pass, the rest is rate_limited.
        during, refused, elapsed = burst(rtos, tx, 40, "during")
        assert set(refused) == {"rate_limited"}
        assert BURST <= len(during) <= BURST + RATE * elapsed + 1, (len(during), elapsed)
        assert len(during) + len(refused) == 40
        # link.get counts exactly the refusals rtos was answered, on rtos's direction, and none on linux's.
        shown = hub.link("rtos-linux")
        assert shown["queues"][0]["rateLimited"] == len(refused)
        assert shown["counters"]["rateLimited"] == len(refused)
        assert shown["queues"][1]["rateLimited"] == 0
        assert hub.partition("rtos")["counters"]["msgRateLimited"] == len(refused)

        # linux's direction has its own bucket; linux did not negotiate rate-limit, so it hears queue_full.
        back_tx = link_id(linux, "rtos-linux")
        started = time.monotonic()
        statuses = [linux.send(back_tx, b"up")[0] for _ in range(BURST + 20)]
        elapsed = time.monotonic() - started
        assert BURST <= statuses.count("queued") <= BURST + RATE * elapsed + 1
        assert set(statuses) == {"queued", "queue_full"}
        assert hub.link("rtos-linux")["queues"][1]["rateLimited"] == statuses.count("queue_full")

        # Nothing accepted is lost: linux gets the 20 sent before the switch and those accepted under it, in order.
        expected = [f"before-{i}".encode() for i in range(20)] + [
            f"during-{i}".encode() for i in range(40) if i < len(during)]
        got = receive(linux, rx, len(expected))
        assert got[:20] == expected[:20]
        assert len(got) == len(expected) and all(payload.startswith(b"during-") for payload in got[20:])

        # Back to the base policy (by the mgmt partition, over the guest protocol): the limit is lifted.
        mgmt.activate_policy(None)
        status = hub.policy_status()
        assert status["profile"] is None
        assert status["last"]["changes"]["ratesChanged"] == [{"link": "rtos-linux", "from": throttled, "to": unlimited}]
        assert hub.link("rtos-linux")["queues"][0]["rateLimit"] is None
        after, refused, _ = burst(rtos, tx, 40, "after")
        assert (len(after), refused) == (40, [])
        assert hub.link("rtos-linux")["queues"][0]["rateLimited"] == 40 - len(during)
        assert len(receive(linux, rx, 40)) == 40
    finally:
        for guest in (rtos, linux, mgmt):
            guest.close()


def test_an_initial_profiles_rates_are_in_force_from_the_start(hubd):
    hub = hubd(config=CONFIG.replace("policy:\n  profiles:", "policy:\n  initial: throttled\n  profiles:"))
    assert hub.policy_status()["profile"] == "throttled"
    assert hub.link("rtos-linux")["queues"][0]["rateLimit"]["messagesPerSecond"] == RATE
    rtos = attach(hub, "rtos", [RATE_LIMIT])
    try:
        queued, refused, elapsed = burst(rtos, link_id(rtos, "rtos-linux"), 20, "start")
        assert BURST <= len(queued) <= BURST + RATE * elapsed + 1 and set(refused) == {"rate_limited"}
        assert hub.link("rtos-linux")["queues"][0]["rateLimited"] == len(refused)
    finally:
        rtos.close()


@pytest.mark.parametrize("entry, message", [
    ("{link: nowhere, messagesPerSecond: 1}", "policy.profiles[0].linkRates[0].link: unknown link 'nowhere'"),
    ("{link: rtos-linux, messagesPerSecond: -5}",
     "policy.profiles[0].linkRates[0].messagesPerSecond: -5 is outside 0...10000000"),
])
def test_a_bad_link_rate_is_refused_at_load(hubd, entry, message):
    bad = CONFIG.replace(f"{{link: rtos-linux, messagesPerSecond: {RATE}, burstMessages: {BURST}}}", entry)
    assert bad != CONFIG
    with pytest.raises(Exception) as failed:
        hubd(config=bad)
    assert message in str(failed.value)
