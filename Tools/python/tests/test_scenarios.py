"""Scenarios as a test engineer writes them: start a hub, look at it, poke it, wait for what follows.

These need the real hubd (``swift build`` first, or HANDSETHUB_HUBD); they run through the README's
test command.
"""

import re

import pytest

from handsethub import Event, HubError, Missed


def test_a_new_hub_describes_itself(hubd):
    hub = hubd()
    info = hub.info()
    assert info["server"] == "hubd"
    assert info["protocol"] == 1
    assert info["pid"] == hub.hub.ready["pid"]
    assert any(address.startswith("unix:") for address in info["endpoints"]["control"])
    assert hub.hello["auth"] == "none"


def test_the_reference_handset_has_four_partitions_rtos_first(hubd):
    hub = hubd()
    partitions = {p["name"]: p for p in hub.partitions()}
    assert list(partitions) == ["rtos", "linux", "secure", "mgmt"]
    assert partitions["rtos"]["class"] == "real-time" and partitions["rtos"]["priority"] == 0
    assert hub.partition("linux")["session"] is None


def test_a_subscriber_sees_the_interrupt_an_injector_raises(hubd):
    watcher = hubd()
    injector = watcher.hub.connect()
    watcher.subscribe(kinds=["irq.*"], partitions=["linux"])

    raised = injector.raise_irq("linux", 3, as_="tester")

    event = next(iter(watcher.events(timeout=2.0)))
    assert isinstance(event, Event)
    assert (event.kind, event.partition, event.data["line"], event.data["from"]) == ("irq.raised", "linux", 3,
                                                                                       "tester")
    assert event.seq == raised["seq"]


def test_waiting_on_the_hub_instead_of_polling(hubd):
    hub = hubd()
    raised = hub.raise_irq("rtos", 1, as_="modem-sim")
    event = hub.wait_event(kinds=["irq.raised"], partitions=["rtos"], since=raised["seq"] - 1, timeout_ms=2000)
    assert event.seq == raised["seq"]
    with pytest.raises(HubError) as timeout:
        hub.wait_event(kinds=["never.happens"], timeout_ms=50)
    assert timeout.value.reason == "timeout"


def test_two_subscribers_with_different_filters_each_get_exactly_theirs(hubd):
    first = hubd()
    second = first.hub.connect()
    others = [first.hub.connect() for _ in range(8)]  # ten clients at once
    first.subscribe(kinds=["irq.raised"], partitions=["rtos"])
    second.subscribe(kinds=["irq.raised"], partitions=["linux"])

    sent = []
    for n in range(6):
        target = "rtos" if n % 2 == 0 else "linux"
        sent.append((target, others[n % len(others)].raise_irq(target, n, as_="tester")["seq"]))

    for client, target in ((first, "rtos"), (second, "linux")):
        got = [e.seq for e in client.events(timeout=0.5) if isinstance(e, Event)]
        assert got == [seq for t, seq in sent if t == target]


def test_a_late_subscriber_replays_what_it_missed(hubd):
    hub = hubd()
    seqs = [hub.raise_irq("secure", line, as_="tester")["seq"] for line in range(3)]
    late = hub.hub.connect()
    late.subscribe(kinds=["irq.raised"], partitions=["secure"], since=seqs[0])
    got = [e.seq for e in late.events(timeout=0.5) if isinstance(e, Event)]
    assert got == seqs[1:]


def small_outbox_config():
    """The reference handset with the smallest outbox and write queue, so a slow reader overflows quickly."""
    import subprocess
    from handsethub.pytest_plugin import find_hubd
    text = subprocess.run([str(find_hubd()), "--print-default-config"], check=True, capture_output=True,
                          text=True).stdout
    text = re.sub(r"controlOutboxEvents: \d+", "controlOutboxEvents: 16", text)
    text = re.sub(r"writeHighWatermarkBytes: \S+", "writeHighWatermarkBytes: 4096", text)
    return re.sub(r"writeLowWatermarkBytes: \S+", "writeLowWatermarkBytes: 1024", text)


def test_a_slow_subscriber_is_told_how_many_it_missed(hubd):
    hub = hubd(config=small_outbox_config())
    outbox = hub.limits()["limits"]["controlOutboxEvents"]["value"]
    assert outbox == 16
    slow = hub.hub.connect()
    slow.subscribe(kinds=["irq.raised"])
    # The slow client reads nothing while far more events than its outbox holds happen...
    for n in range(outbox * 200):
        hub.raise_irq("linux", n % 32, as_="flood")
    # ...and the hub keeps serving everyone else meanwhile.
    assert hub.info()["server"] == "hubd"
    missed = [item for item in slow.events(timeout=1.0) if isinstance(item, Missed)]
    assert missed and sum(m.count for m in missed) > 0
    assert missed[0].reason == "outbox_full"


def test_bad_input_gets_precise_errors_and_the_connection_stays_usable(hubd):
    hub = hubd()
    hub.send_raw(b"this is not json\n")
    reply = hub.read_message(timeout=2.0)
    assert reply["error"]["code"] == -32700
    with pytest.raises(HubError) as unknown:
        hub.call("no.such.method")
    assert unknown.value.code == -32601
    with pytest.raises(HubError) as wrong:
        hub.call("partition.get", {"name": 42})
    assert wrong.value.code == -32602 and wrong.value.data["param"] == "name"
    with pytest.raises(HubError) as missing:
        hub.partition("modem")
    assert missing.value.reason == "no_such_partition"
    assert hub.info()["server"] == "hubd"
