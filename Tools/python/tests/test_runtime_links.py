"""Links opened at run time (Protocols/guest.md §7.6-§7.9, control.md link.open/link.close) against a real hubd,
with the Python guest client written from the spec.

No link is configured: linux has ``mayOpenLinks: true`` and opens what it needs; rtos is an older-style client
that never asks for the ``runtime-links`` feature and learns links from its WELCOME.
"""

from __future__ import annotations

import time

import pytest

from handsethub.guest import RUNTIME_LINKS, GuestClient, GuestError

CONFIG = """
platform:
  name: runtime-links
hub:
  controlEndpoints: [unix:/tmp/handsethub/control.sock]
  guestEndpoints: [unix:/tmp/handsethub/guest.sock, tcp:127.0.0.1:7401]
partitions:
  - name: rtos
    class: real-time
    priority: 0
    memoryBytes: 16MiB
    secret: rtos-dev-secret
    mayMessage: [linux]
  - name: linux
    class: fair-share
    priority: 8
    memoryBytes: 64MiB
    secret: linux-dev-secret
    mayMessage: [rtos, secure]
    mayOpenLinks: true
  - name: secure
    class: real-time
    priority: 1
    memoryBytes: 16MiB
    secret: secure-dev-secret
    mayMessage: [linux]
"""


def endpoint(hub, scheme: str) -> str:
    return next(address for address in hub.hub.guest if address.startswith(scheme + ":"))


def wait_for(client: GuestClient, frame_type: str, timeout: float = 5.0, **fields):
    """The next unsolicited frame of ``frame_type`` whose fields match, skipping others (credit, ...)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = client.receive(timeout=deadline - time.monotonic())
        if frame is None:
            break
        if frame.type == frame_type and all(frame.fields.get(k) == v for k, v in fields.items()):
            return frame
    pytest.fail(f"no {frame_type} {fields} within {timeout} s")


def test_guest_opens_a_link_at_run_time_messages_flow_and_close_drains(hubd):
    hub = hubd(config=CONFIG)
    linux = GuestClient.connect(endpoint(hub, "unix"), "linux", "linux-dev-secret", features=[RUNTIME_LINKS], timeout=5)
    secure = GuestClient.connect(endpoint(hub, "tcp"), "secure", "secure-dev-secret", features=[RUNTIME_LINKS],
                                 timeout=5)
    try:
        assert RUNTIME_LINKS in linux.hub_features
        assert linux.welcome["links"] == []

        # secure may not open links; linux may, to a partition in its mayMessage.
        with pytest.raises(GuestError) as refused:
            secure.open_link("nope", "linux")
        assert refused.value.code == 5  # not_permitted
        with pytest.raises(GuestError) as unknown:
            linux.open_link("keys", "nobody")
        assert unknown.value.code == 6  # no_such_partition

        opened = linux.open_link("keys", "secure", max_message=512, depth=16)
        assert (opened["id"], opened["peer"], opened["initial_credit"], opened["existing"]) == (0, "secure", 16, False)
        told = wait_for(secure, "LINK_OPENED", name="keys")
        assert told.request_id == 0
        assert (told.fields["id"], told.fields["peer"], told.fields["opened_by"]) == (0, "linux", "linux")
        assert told.fields["initial_credit"] == 16  # secure may message linux: it may answer at once
        link = opened["id"]

        status, message_id = linux.send(link, b"sign this", correlation=9)
        assert (status, message_id) == ("queued", 1)
        request = wait_for(secure, "MSG_DELIVER", link=link)
        assert (request.fields["sender"], request.fields["payload"], request.fields["correlation"]) == \
            ("linux", b"sign this", 9)
        secure.ack(link, request.fields["message_id"])
        assert secure.send(link, b"signed", correlation=9)[0] == "queued"
        reply = wait_for(linux, "MSG_DELIVER", link=link)
        assert reply.fields["payload"] == b"signed" and reply.fields["sender"] == "secure"
        linux.ack(link, reply.fields["message_id"])

        shown = hub.call("link.get", {"name": "keys"})
        assert shown["runtime"] is True and shown["id"] == 0 and shown["openedBy"] == "linux"
        assert shown["counters"]["delivered"] == 2
        kinds = [event["kind"] for event in hub.call("events.recent", {"filter": {"kinds": ["link.*"]}})["events"]]
        assert "link.opened" in kinds

        # Close while secure holds an unacknowledged message: nothing is lost, the link drains first.
        assert linux.send(link, b"last")[0] == "queued"
        last = wait_for(secure, "MSG_DELIVER", link=link)
        assert linux.close_link(link) == ("closing", 1)
        closing = wait_for(secure, "LINK_CLOSED", link=link, state=0)
        assert closing.fields["held"] == 1
        assert linux.send(link, b"too late")[0] == "link_closing"
        secure.ack(link, last.fields["message_id"])
        wait_for(secure, "LINK_CLOSED", link=link, state=1)
        wait_for(linux, "LINK_CLOSED", link=link, state=1)
        assert linux.send(link, b"gone")[0] == "no_such_link"
        assert hub.call("link.list")["runtime"]["closed"] == 1
    finally:
        linux.close()
        secure.close()


def test_control_opens_a_link_that_an_older_client_sees_in_its_welcome(hubd):
    hub = hubd(config=CONFIG)
    opened = hub.call("link.open", {"name": "probe", "a": "linux", "b": "rtos", "depth": 8, "as": "tester"})
    assert opened["created"] is True and opened["runtime"] is True
    sent = hub.call("msg.send", {"link": "probe", "to": "rtos", "text": "hello rtos", "as": "tester"})
    assert sent["messageId"] == 1
    # rtos never asks for runtime-links: it learns the link from WELCOME, as a configured one.
    rtos = GuestClient.connect(endpoint(hub, "unix"), "rtos", "rtos-dev-secret", timeout=5)
    try:
        links = {entry["name"]: entry for entry in rtos.welcome["links"]}
        assert links["probe"]["peer"] == "linux" and links["probe"]["initial_credit"] == 8
        delivered = wait_for(rtos, "MSG_DELIVER", link=links["probe"]["id"])
        assert delivered.fields["sender"] == "injector:tester" and delivered.fields["payload"] == b"hello rtos"
        # LINK_OPEN without the feature is an unknown frame type for this session (§11).
        with pytest.raises(GuestError) as unknown:
            rtos.open_link("x", "linux")
        assert unknown.value.code == 9
        rtos.ack(links["probe"]["id"], delivered.fields["message_id"])
        deadline = time.monotonic() + 5
        while hub.call("link.list")["links"][-1]["depth"] != 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.call("link.close", {"name": "probe", "as": "tester"}) == {"name": "probe", "state": "closed",
                                                                            "held": 0}
    finally:
        rtos.close()


@pytest.mark.parametrize("peer", ["a" * 300, "a" * 33, "Tester 1", "a\nb", "injector:x", "1abc"])
def test_a_test_peer_name_outside_the_grammar_is_refused_before_anything_reaches_a_guest(hubd, peer):
    """`as` travels to guests inside frames (`injector:NAME`, guest.md §2, name fields bounded); a 300-byte one was
    accepted and aborted hubd when the frame was built, at once or, queued for a detached partition, when its guest
    attached. Every method taking `as` refuses a name outside control.md §1's grammar with -32602 naming `as`."""
    from handsethub.control import HubError
    hub = hubd(config=CONFIG)
    # rtos attached with runtime-links (LINK_OPENED names who opened a link); linux detached (a message is queued).
    rtos = GuestClient.connect(endpoint(hub, "unix"), "rtos", "rtos-dev-secret", timeout=5, features=[RUNTIME_LINKS])
    try:
        hub.call("link.open", {"name": "probe", "a": "linux", "b": "rtos", "depth": 8, "as": "tester"})
        calls = [("link.open", {"name": "other", "a": "rtos", "b": "linux", "as": peer}),
                 ("msg.send", {"link": "probe", "to": "linux", "text": "queued", "as": peer}),
                 ("msg.send", {"link": "probe", "to": "rtos", "text": "now", "as": peer}),
                 ("irq.raise", {"partition": "rtos", "line": 1, "as": peer}),
                 ("link.close", {"name": "probe", "as": peer})]
        for method, params in calls:
            with pytest.raises(HubError) as refused:
                hub.call(method, params)
            assert refused.value.code == -32602 and refused.value.data["param"] == "as", (method, refused.value)
        # Nothing was queued or opened, and the hub still serves both sides: linux attaches, rtos gets a message.
        linux = GuestClient.connect(endpoint(hub, "unix"), "linux", "linux-dev-secret", timeout=5)
        linux.close()
        assert [link["name"] for link in hub.call("link.list")["links"]] == ["probe"]
        hub.call("msg.send", {"link": "probe", "to": "rtos", "text": "still here", "as": "tester-2"})
        delivered = wait_for(rtos, "MSG_DELIVER", sender="injector:tester-2")
        assert delivered.fields["payload"] == b"still here"
        assert hub.hub.process.poll() is None
    finally:
        rtos.close()
