"""A fleet of living handsets on one machine (Tools/fleet, handsethub.fleet): three hubs, each with its four
launched guests and isolated endpoints, their lan0 segments joined over VXLAN on loopback; handset A's linux
pings handset B's and C's through the hubs, and the events of all hubs are gathered. Without the VXLAN ports the
same pings go unanswered, so the replies did cross the hubs."""

from __future__ import annotations

from handsethub import fleet


def test_linux_of_one_handset_pings_the_linux_of_two_others_over_vxlan(tmp_path):
    with fleet.start_vxlan_fleet(3, tmp_path) as running:
        since = [client.call("hub.info")["lastSeq"] for client in running.clients]
        for target in (1, 2):
            summary = fleet.ping(running, 0, target, count=3)
            assert summary.startswith(f"ping {fleet.lan_ip(target)}: 3/3 replies"), summary
        for index in (1, 2):
            join = running.clients[index].call("eth.counters", {"segment": "lan0", "port": "join"})["ports"]["join"]
            assert join["rxFrames"] >= 4 and join["txFrames"] >= 4, join  # ARP + 3 echoes each way
            assert join["drops"]["malformed"] == 0
        events = running.events(since=since)
        sent = [e for e in events if e["kind"] == "msg.sent" and e["hub"] == 0]
        assert [e["data"]["to"] for e in sent] == ["linux", "linux"]
        assert {e["hub"] for e in running.events()} == {0, 1, 2}
        times = [e["time"]["unixNs"] for e in events]
        assert times == sorted(times)
        hubs = list(running.hubs)
    assert all(hub.process.poll() is not None for hub in hubs)


def test_without_the_vxlan_ports_the_pings_go_unanswered(tmp_path):
    with fleet.Fleet(tmp_path).start([fleet.handset_config(i) for i in range(2)]) as running:
        summary = fleet.ping(running, 0, 1, count=2)
        assert summary.startswith(f"ping {fleet.lan_ip(1)}: 0/2 replies"), summary
