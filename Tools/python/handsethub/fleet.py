"""A fleet of living handsets on one machine (Tools/fleet): N hubs, each the living reference handset with its
four launched guests, isolated as the pytest plugin isolates a hub (port 0 and a ready file, sockets in its own
directory), their ``lan0`` segments joined into one LAN over VXLAN on loopback (Protocols/ethernet.md §3: each
hub's VXLAN port lists every other hub as a remote). Each linux partition is the IPv4 host 10.0.0.(I+1) on
lan0 (Tools/python/examples/handset/lan.py), so handset A's linux can ping handset B's."""

from __future__ import annotations

import re
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Dict, List, Optional

from .control import HubClient
from .pytest_plugin import HubProcess, start_hub

REPO = Path(__file__).resolve().parents[3]
VNI = 42
PARTITIONS = ("rtos", "linux", "secure", "mgmt")


def lan_ip(index: int) -> str:
    return f"10.0.0.{index + 1}"


def free_udp_ports(count: int, host: str = "127.0.0.1") -> List[int]:
    """``count`` distinct free UDP ports (all held while choosing, so they differ)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            probe = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            probe.bind((host, 0))
            ports.append(probe.getsockname()[1])
        return ports


def handset_config(index: int, join_port: Optional[str] = None, tap: Optional[str] = None) -> str:
    """The living handset, guests named by absolute path, linux given its LAN address, and lan0's extra ports:
    ``join_port`` (a YAML flow mapping for the port joining the hubs, e.g. its ``vxlan:``) and ``tap``."""
    text = (REPO / "Deploy/examples/living-handset.yaml").read_text()
    text = text.replace("Tools/python/examples/handset/", f"{REPO}/Tools/python/examples/handset/")
    linux_command = re.search(r"\n( +)command: \[python3, [^\]]*linux_guest\.py\]\n", text)
    assert linux_command, "the living handset's linux launch line moved"
    indent = linux_command.group(1)
    text = text.replace(linux_command.group(0),
                        linux_command.group(0) + f"{indent}environment: [HANDSET_LAN_IP={lan_ip(index)}]\n")
    ports = "        - name: linux\n          partition: linux\n"
    assert ports in text, "the living handset's lan0 ports moved"
    extra = ""
    if join_port:
        extra += f"        - {{name: join, {join_port}}}\n"
    if tap:
        extra += f"        - {{name: host, tap: {tap}}}\n"
    return text.replace(ports, ports + extra)


def vxlan_ports(count: int) -> List[str]:
    ports = free_udp_ports(count)
    return [f'vxlan: {{local: "127.0.0.1:{port}", vni: {VNI}, '
            f'remotes: [{", ".join(chr(34) + f"127.0.0.1:{other}" + chr(34) for other in ports if other != port)}]}}'
            for port in ports]


class Fleet:
    """Running hubs (``hubs``) and a control client for each (``clients``)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.hubs: List[HubProcess] = []
        self.clients: List[HubClient] = []
        self.started_at: List[float] = []
        self.running_after: List[float] = []

    def start(self, configs: List[str]) -> "Fleet":
        for index, config in enumerate(configs):
            self.started_at.append(time.time())
            hub = start_hub(self.directory / f"h{index}", config)
            self.hubs.append(hub)
            self.clients.append(hub.connect())
        for index, client in enumerate(self.clients):
            wait_running(client)
            # From the spawn to the hub's own record of its last partition becoming running (the hubs are
            # checked one after the other, so the time they are looked at would overstate the first ones).
            running = client.call("events.recent", {"filter": {"kinds": ["partition.state"]}, "limit": 4096})
            last = max(e["time"]["unixNs"] for e in running["events"] if e["data"].get("to") == "running")
            self.running_after.append(last / 1e9 - self.started_at[index])
        return self

    def stop(self) -> None:
        for hub in self.hubs:
            hub.stop()

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def events(self, since: Optional[List[int]] = None, kinds: Optional[List[str]] = None) -> List[dict]:
        """Every hub's recent events, tagged with ``hub`` (its index), in wall-clock order."""
        gathered = []
        for index, client in enumerate(self.clients):
            params: Dict[str, object] = {"limit": 4096, "since": since[index] if since else 0}
            if kinds:
                params["filter"] = {"kinds": kinds}
            for event in client.call("events.recent", params)["events"]:
                gathered.append({**event, "hub": index})
        return sorted(gathered, key=lambda e: (e["time"]["unixNs"], e["hub"], e["seq"]))

    def pss_kib(self, index: int) -> int:
        """Proportional set size of hub ``index`` and every process it launched, in KiB."""
        pid = self.hubs[index].process.pid
        return sum(pss_of(p) for p in [pid, *children(pid)])


def wait_running(client: HubClient, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    for name in PARTITIONS:
        while client.call("partition.get", {"name": name})["state"] != "running":
            if time.monotonic() > deadline:
                raise TimeoutError(f"partition {name} not running after {timeout_s} s")
            since = client.call("hub.info")["lastSeq"]
            if client.call("partition.get", {"name": name})["state"] == "running":
                break
            try:
                client.call("events.wait", {"filter": {"kinds": ["partition.state"], "partitions": [name]},
                                            "since": since, "timeoutMs": 2000}, timeout=5)
            except Exception:
                pass


def children(pid: int) -> List[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def pss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_vxlan_fleet(count: int, directory: Path) -> Fleet:
    joins = vxlan_ports(count) if count > 1 else [None]
    return Fleet(directory).start([handset_config(i, joins[i]) for i in range(count)])


def ping(fleet: Fleet, source: int, target: int, count: int = 3, timeout_s: float = 30.0) -> str:
    """Handset ``source``'s linux pings handset ``target``'s; returns the summary line from linux's log."""
    client = fleet.clients[source]
    client.call("msg.send", {"link": "mgmt-linux", "as": "fleet", "to": "linux",
                             "text": f"ping:{lan_ip(target)}:{count}"})
    pattern = re.compile(rf"ping {re.escape(lan_ip(target))}: (\d+)/{count} replies.*")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = pattern.search(client.call("partition.logs", {"name": "linux"})["text"])
        if match:
            return match.group(0)
        time.sleep(0.1)
    raise TimeoutError(f"no ping summary in handset {source}'s linux log within {timeout_s} s")


# -- benchmark ------------------------------------------------------------------------------------------------


def bench_start(count: int, directory: Path) -> dict:
    """Starts ``count`` VXLAN-joined living handsets: wall time until all are up, per-handset start time (spawn
    to its four partitions running) and PSS per handset (hubd and its four guests)."""
    began = time.monotonic()
    with start_vxlan_fleet(count, directory) as running:
        total = time.monotonic() - began
        time.sleep(1.0)  # let the guests finish drawing their first screens before memory is read
        pss = [running.pss_kib(i) for i in range(count)]
        hub_pss = [pss_of(hub.process.pid) for hub in running.hubs]
        starts = running.running_after
        return {"handsets": count, "allUpS": round(total, 2), "startMeanS": round(sum(starts) / count, 2),
                "startMaxS": round(max(starts), 2), "pssMeanMiB": round(sum(pss) / count / 1024, 1),
                "hubdPssMeanMiB": round(sum(hub_pss) / count / 1024, 1), "pssTotalMiB": round(sum(pss) / 1024, 1)}


def run_quiet(command: List[str], timeout: float = 60.0) -> str:
    import subprocess

    answer = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if answer.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {answer.returncode}: {answer.stderr.strip()}")
    return answer.stdout


def network_bench(directory: Path, mode: str, seconds: int = 5) -> dict:
    """Two living handsets, each with a TAP port moved into its own network namespace (10.9.0.1, 10.9.0.2),
    joined by ``mode``: ``vxlan`` (RFC 7348 over loopback UDP) or ``dgram`` (the same two hubs bridged locally
    by a plain UDP cable, one frame per datagram). Ping round trips and iperf3 TCP throughput between the
    namespaces, through both hubs. Needs root (TAP, namespaces) and iperf3."""
    import json
    import os
    import subprocess

    tag = f"{os.getpid() % 100000}{mode[0]}"
    if mode == "vxlan":
        joins = vxlan_ports(2)
    else:
        first, second = free_udp_ports(2)
        joins = [f'dgram: {{local: "127.0.0.1:{first}", remote: "127.0.0.1:{second}"}}',
                 f'dgram: {{local: "127.0.0.1:{second}", remote: "127.0.0.1:{first}"}}']
    taps = [f"hft{tag}{i}" for i in range(2)]
    namespaces = [f"hfns{tag}{i}" for i in range(2)]
    made: List[str] = []
    server = None
    with Fleet(directory) as fleet:
        try:
            fleet.start([handset_config(i, joins[i], tap=taps[i]) for i in range(2)])
            for i, (tap, namespace) in enumerate(zip(taps, namespaces)):
                run_quiet(["ip", "netns", "add", namespace])
                made.append(namespace)
                run_quiet(["ip", "link", "set", tap, "netns", namespace])
                run_quiet(["ip", "-n", namespace, "addr", "add", f"10.9.0.{i + 1}/24", "dev", tap])
                run_quiet(["ip", "-n", namespace, "link", "set", tap, "up"])
                run_quiet(["ip", "-n", namespace, "link", "set", "lo", "up"])
            run_quiet(["ip", "netns", "exec", namespaces[0], "ping", "-c", "3", "-W", "2", "10.9.0.2"], 30)
            output = run_quiet(["ip", "netns", "exec", namespaces[0], "ping", "-q", "-c", "100", "-i", "0.01",
                                "10.9.0.2"], 60)
            rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", output)
            loss = re.search(r"(\d+)% packet loss", output)
            server = subprocess.Popen(["ip", "netns", "exec", namespaces[1], "iperf3", "-s", "-1", "-B", "10.9.0.2"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            result = json.loads(run_quiet(["ip", "netns", "exec", namespaces[0], "iperf3", "-c", "10.9.0.2", "-t",
                                           str(seconds), "-J"], seconds + 30))
            bits = result["end"]["sum_received"]["bits_per_second"]
            return {"mode": mode, "pingAvgMs": float(rtt.group(2)), "pingMinMs": float(rtt.group(1)),
                    "pingMaxMs": float(rtt.group(3)), "pingLossPercent": int(loss.group(1)),
                    "tcpMbitPerS": round(bits / 1e6, 1)}
        finally:
            if server is not None and server.poll() is None:
                server.kill()
                server.wait()
            for namespace in made:
                subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


# -- command line (Tools/fleet) -------------------------------------------------------------------------------


def scenario(count: int, directory: Path, out=print) -> bool:
    """Starts ``count`` handsets over VXLAN; handset 0's linux pings every other's; prints every hub's events."""
    with start_vxlan_fleet(count, directory) as running:
        out(f"fleet: {count} handsets up; each handset's lan0 joined over VXLAN (VNI {VNI}) on loopback")
        for index, hub in enumerate(running.hubs):
            out(f"  handset {index}: control {hub.address()}  linux {lan_ip(index)}")
        since = [client.call("hub.info")["lastSeq"] for client in running.clients]
        ok = True
        for target in range(1, count):
            summary = ping(running, 0, target)
            out(f"fleet: handset 0's linux -> handset {target}'s linux: {summary}")
            ok = ok and f" 0/" not in summary
        out("fleet: events from all hubs since the pings began (hub, seq, kind, partition):")
        for event in running.events(since=since):
            out(f"  [{event['hub']}] {event['seq']:>5} {event['kind']:<22} {event['partition'] or ''} "
                f"{str(event['data'])[:80]}")
        return ok


def main(arguments: Optional[List[str]] = None) -> int:
    import argparse
    import json
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(prog="Tools/fleet", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    run_parser = sub.add_parser("scenario", help="N handsets over VXLAN; handset 0's linux pings the others")
    run_parser.add_argument("-n", "--handsets", type=int, default=3)
    up_parser = sub.add_parser("up", help="start N handsets over VXLAN and keep them running until Ctrl-C")
    up_parser.add_argument("-n", "--handsets", type=int, default=3)
    bench_parser = sub.add_parser("bench", help="start time and PSS for N handsets; ping/throughput VXLAN vs local")
    bench_parser.add_argument("--sizes", default="1,10,50")
    bench_parser.add_argument("--no-network", action="store_true")
    options = parser.parse_args(arguments)
    directory = Path(tempfile.mkdtemp(prefix="hfleet-"))
    try:
        if options.command in (None, "scenario"):
            return 0 if scenario(getattr(options, "handsets", 3), directory) else 1
        if options.command == "up":
            with start_vxlan_fleet(options.handsets, directory) as running:
                for index, hub in enumerate(running.hubs):
                    print(f"handset {index}: control {', '.join(hub.control)}  linux {lan_ip(index)}", flush=True)
                print("fleet: running; Ctrl-C stops every hub", flush=True)
                try:
                    while all(h.process.poll() is None for h in running.hubs):
                        time.sleep(0.5)
                except KeyboardInterrupt:
                    pass
            return 0
        results = []
        for size in [int(s) for s in options.sizes.split(",") if s]:
            results.append(bench_start(size, directory / f"n{size}"))
            print(json.dumps(results[-1]), flush=True)
        if not options.no_network:
            for mode in ("vxlan", "dgram"):
                results.append(network_bench(directory / mode, mode))
                print(json.dumps(results[-1]), flush=True)
        return 0
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    import sys

    sys.exit(main())
