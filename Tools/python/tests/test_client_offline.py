"""The Python client against a scripted fake server: runs without hubd."""

import pytest

from fake_hub import FakeHub
from handsethub import Event, HubClient, HubError, Missed, parse_address
from handsethub.pytest_plugin import isolate_endpoints


@pytest.fixture
def fake(tmp_path):
    hub = FakeHub(str(tmp_path / "c.sock"))
    yield hub
    hub.close()


def test_greeting_and_calls(fake):
    with HubClient(fake.address) as client:
        assert client.hello["version"] == "0.0.0-fake"
        assert client.info()["server"] == "hubd"
        assert client.partitions()[0]["name"] == "rtos"
        assert fake.requests[0] == {"jsonrpc": "2.0", "id": 1, "method": "hub.info"}


def test_errors_carry_code_and_reason(fake):
    with HubClient(fake.address) as client:
        with pytest.raises(HubError) as error:
            client.call("no.such")
        assert (error.value.code, error.value.reason, error.value.data["method"]) == (-32601, "method_not_found",
                                                                                      "no.such")
        with pytest.raises(HubError) as timeout:
            client.wait_event(kinds=["x"], timeout_ms=5)
        assert timeout.value.reason == "timeout"


def test_notifications_before_a_response_are_kept_for_events(fake):
    with HubClient(fake.address) as client:
        assert client.raise_irq("linux", 3, as_="tester") == {"seq": 7, "pending": True}
        items = list(client.events(timeout=0.2))
        assert items == [Event(seq=7, kind="irq.raised", partition="linux", device=None,
                               data={"line": 3, "from": "tester"}, unix_ns=1, mono_ns=2),
                         Missed(count=2, first_seq=8, last_seq=9, reason="outbox_full")]
        assert fake.requests[-1]["params"] == {"partition": "linux", "line": 3, "as": "tester"}


def test_addresses():
    assert parse_address("tcp:127.0.0.1:7400") == ("tcp", ("127.0.0.1", 7400))
    assert parse_address("tcp:[::1]:1") == ("tcp", ("::1", 1))
    assert parse_address("unix:/a/b") == ("unix", "/a/b")
    with pytest.raises(ValueError):
        parse_address("tcp:nohost")


def test_endpoints_are_isolated(tmp_path):
    text = 'control: ["tcp:127.0.0.1:7400", "unix:/run/hub/control.sock"]\nguest: tcp:[::1]:7401\n'
    out = isolate_endpoints(text, tmp_path)
    assert out == (f'control: ["tcp:127.0.0.1:0", "unix:{tmp_path}/1-control.sock"]\n'
                   'guest: tcp:[::1]:0\n')
