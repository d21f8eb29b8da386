"""The container image (Deploy/container): built from a Debian root file system made by mmdebstrap and imported
into podman (no registry but Debian's), holding hubd, hubctl, the Python package, the sample guests and the web
page, running as a non-root user with a health check on /healthz. Where podman can run containers, the image is
started and ``hubctl info`` reaches the hub inside; where it cannot, that test skips with podman's own words.

The image packs hubd and hubctl from ``$HANDSETHUB_CONTAINER_BIN``, by default the directory of the hubd the suite
runs (the debug build Tools/hub test made): Deploy/container/build.sh then packs the Swift runtime's shared libraries
they link beside them, so the test needs no release build. A deployment's image packs the static release build."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handsethub import deploy
from handsethub.pytest_plugin import find_hubd

REPO = next(p for p in Path(__file__).resolve().parents if (p / "Package.swift").exists())
PODMAN = shutil.which("podman")
IMAGE = f"localhost/handsethub-test:{os.getpid()}"
BIN = Path(os.environ.get("HANDSETHUB_CONTAINER_BIN") or find_hubd().parent)
IMAGE_LIB = "usr/local/lib/handsethub"
HUBCTL = os.environ.get("HANDSETHUB_HUBCTL", str(find_hubd().with_name("hubctl")))
BUILD_TIMEOUT = 1800


def swift_runtime_of(directory: Path) -> set:
    """File names of the Swift runtime's shared libraries (those resolved in the directory libswiftCore.so resolves
    in) that hubd and hubctl in ``directory`` load; empty for a build with the static Swift standard library."""
    resolved = subprocess.run(["ldd", str(directory / "hubd"), str(directory / "hubctl")], capture_output=True,
                              text=True, timeout=30).stdout
    paths = [line.split()[2] for line in resolved.splitlines() if len(line.split()) >= 3 and line.split()[1] == "=>"]
    runtime = {str(Path(path).parent) for path in paths if Path(path).name == "libswiftCore.so"}
    return {Path(path).name for path in paths if str(Path(path).parent) in runtime}


def podman(*args, timeout=120, check=True):
    answer = subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and answer.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {answer.returncode}: {answer.stderr.strip()}")
    return answer


@pytest.fixture(scope="module")
def image():
    if PODMAN is None:
        pytest.skip("podman is not installed (Debian package podman; Tools/hub test installs it)")
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (Debian package mmdebstrap; Tools/hub test installs it)")
    missing = [name for name in ("hubd", "hubctl") if not (BIN / name).exists()]
    if missing:
        pytest.skip(f"no build of {' and '.join(missing)} in {BIN} (swift build --product hubd / --product hubctl, "
                    f"or set HANDSETHUB_CONTAINER_BIN)")
    if swift_runtime_of(BIN) and shutil.which("patchelf") is None:
        pytest.skip(f"{BIN} links the Swift runtime's shared libraries and patchelf, which points the packed binaries "
                    f"at them, is not installed (Debian package patchelf; Tools/hub test installs it)")
    build = subprocess.run([str(REPO / "Deploy/container/build.sh"), IMAGE], capture_output=True, text=True,
                           timeout=BUILD_TIMEOUT, env={**os.environ, "HANDSETHUB_BIN": str(BIN)})
    assert build.returncode == 0, f"Deploy/container/build.sh failed:\n{build.stderr[-4000:]}"
    inspected = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    sys.stderr.write(f"\ncontainer image {IMAGE}: {inspected['Size'] / 1048576:.1f} MiB\n")
    yield inspected
    podman("rmi", "-f", IMAGE, check=False)


def test_the_image_runs_as_non_root_with_a_health_check_and_the_hub_inside(image):
    config = image["Config"]
    assert config["User"] == "10001:10001"
    assert image["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/handsethub-healthcheck"]
    assert {"7400/tcp", "5900/tcp", "9100/tcp", "6080/tcp", "4789/udp"} <= set(config["ExposedPorts"])
    assert config["Entrypoint"][:4] == ["python3", "-m", "handsethub.deploy", "entrypoint"]
    root = podman("image", "mount", IMAGE).stdout.strip()
    try:
        root_path = Path(root)
        assert "handsethub:x:10001:10001:" in (root_path / "etc/passwd").read_text()
        for path in ("usr/local/bin/hubd", "usr/local/bin/hubctl", "opt/handsethub/python/handsethub/deploy.py",
                     "opt/handsethub/python/examples/handset/linux_guest.py", "opt/handsethub/web/index.html",
                     "usr/share/novnc/core/rfb.js", "usr/bin/websockify", "etc/handsethub/hubd.yaml"):
            assert (root_path / path).exists(), path
        # The binaries run with the image's own libraries, and the Python package imports (no container runtime
        # involved: the image's root file system read through chroot).
        # /proc mounted in a private mount namespace: Swift reads the command line from /proc/self/cmdline.
        shown = subprocess.run(["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc", "chroot",
                                "--userspec=10001:10001", root, "/usr/local/bin/hubd", "--print-default-config"],
                               capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0 and "platform:" in shown.stdout, shown.stderr
        # hubctl too runs on what the image holds; a debug build's Swift runtime is packed, and only that.
        helped = subprocess.run(["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc", "chroot",
                                 "--userspec=10001:10001", root, "/usr/local/bin/hubctl", "--help"],
                                capture_output=True, text=True, timeout=30)
        assert helped.returncode == 0 and "USAGE: hubctl" in helped.stdout, helped.stderr
        packed = {entry.name for entry in (root_path / IMAGE_LIB).iterdir()}
        assert packed == swift_runtime_of(BIN), f"{IMAGE_LIB}: {sorted(packed)}"
        # websockify runs without the dependencies the image leaves out (numpy, jwcrypto are optional to it).
        websockify = subprocess.run(["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc", "chroot",
                                     "--userspec=10001:10001", root, "/usr/bin/websockify", "--help"],
                                    capture_output=True, text=True, timeout=30)
        assert "--token-plugin" in websockify.stdout, websockify.stderr
        imported = subprocess.run(["chroot", "--userspec=10001:10001", root, "/usr/bin/env",
                                   "PYTHONPATH=/opt/handsethub/python", "PYTHONDONTWRITEBYTECODE=1", "python3", "-c",
                                   "import handsethub.deploy, handsethub.web, handsethub.guest"],
                                  capture_output=True, text=True, timeout=30)
        assert imported.returncode == 0, imported.stderr
    finally:
        podman("image", "unmount", IMAGE, check=False)


ENTRYPOINT_IN_CHROOT = """
set -e
mount -t proc proc "$ROOT/proc"
mount --bind "$RUN" "$ROOT/run/handsethub"
mount -t tmpfs -o size=64m tmpfs "$ROOT/tmp"
cd "$ROOT"
exec chroot --userspec=10001:10001 "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
    PYTHONPATH=/opt/handsethub/python PYTHONDONTWRITEBYTECODE=1 HANDSETHUB_CONFIG=/run/handsethub/template.yaml \
    HANDSETHUB_RENDERED=/run/handsethub/hubd.yaml HANDSETHUB_CONTROL_TOKEN=chroot-test-token-0123456789 \
    HANDSETHUB_VNC_PASSWORD=test HOME=/var/lib/handsethub \
    python3 -m handsethub.deploy entrypoint --hubd /usr/local/bin/hubd -- --ready-file /run/handsethub/ready.json
"""


def test_the_image_entry_point_runs_the_living_handset_without_a_container_runtime(image, tmp_path):
    """The image's root file system, its entry point and its template, run through chroot in private mount and
    PID namespaces (so this runs where podman cannot start containers): the four guests launch and attach, and
    hubctl reaches the hub on its Unix control socket. The template's TCP endpoints are moved to ephemeral
    loopback ports so the test shares no port with anything."""
    run = tmp_path / "run"
    run.mkdir()
    os.chown(run, 10001, 10001)
    template = (REPO / "Deploy/container/hubd.yaml").read_text()
    template = template.replace("tcp:0.0.0.0:7400", "tcp:127.0.0.1:0").replace("tcp:0.0.0.0:5900", "tcp:127.0.0.1:0")
    template = template.replace("tcp:0.0.0.0:9100", "tcp:127.0.0.1:0")
    (run / "template.yaml").write_text(template)
    root = podman("image", "mount", IMAGE).stdout.strip()
    process = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "sh", "-c", ENTRYPOINT_IN_CHROOT],
                               env={**os.environ, "ROOT": root, "RUN": str(run)}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (run / "ready.json").exists():
            assert process.poll() is None, process.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the hub in the image never became ready"
            time.sleep(0.1)
        hub = f"unix:{run}/control.sock"
        deadline = time.monotonic() + 60
        while True:
            listed = json.loads(subprocess.run([HUBCTL, "call", "--hub", hub, "partition.list"], capture_output=True,
                                               text=True, check=True, timeout=15).stdout)["partitions"]
            if all(p["state"] == "running" for p in listed):
                break
            assert time.monotonic() < deadline, f"guests in the image not running: {listed}"
            time.sleep(0.5)
        info = json.loads(subprocess.run([HUBCTL, "info", "--hub", hub, "--json"], capture_output=True, text=True,
                                         check=True, timeout=15).stdout)
        assert info["platform"] == "reference-handset"
        rendered = (run / "hubd.yaml").read_text()
        assert "${" not in rendered and "chroot-test-token-0123456789" in rendered
        assert oct((run / "hubd.yaml").stat().st_mode & 0o777) == "0o600"
    finally:
        # hubd is the PID namespace's init (the shell execs chroot, env, python and hubd in turn); SIGTERM makes it
        # stop its guests, and when it exits the kernel ends whatever is left in the namespace. (unshare's
        # --kill-child cannot do it: the parent-death signal is cleared when chroot --userspec changes credentials.)
        for pid in processes_in(root):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/usr/local/bin/hubd"):
                    os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 15
        while processes_in(root) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = processes_in(root)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        podman("image", "unmount", IMAGE, check=False)
        assert not left, f"processes of the image still running: {left}"


def processes_in(root: str) -> list:
    """Processes whose root directory is ``root`` (the hub and guests started in the image)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "root") == root:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_hubctl_info_reaches_the_hub_in_a_running_container(image):
    name = f"handsethub-test-{os.getpid()}"
    port = free_port()
    token = "container-test-token-0123456789"
    started = podman("run", "-d", "--name", name, "-e", f"HANDSETHUB_CONTROL_TOKEN={token}", "-e",
                     "HANDSETHUB_VNC_PASSWORD=test", "-p", f"127.0.0.1:{port}:7400", IMAGE, check=False)
    try:
        if started.returncode != 0:
            errors = [line for line in started.stderr.splitlines() if line.startswith("Error")]
            pytest.skip(f"podman cannot run a container on this machine: {' / '.join(errors) or started.stderr.strip()}")
        deadline = time.monotonic() + 60
        while True:
            info = subprocess.run([HUBCTL, "info", "--hub", f"tcp:127.0.0.1:{port}", "--token", token, "--json"],
                                  capture_output=True, text=True, timeout=15)
            if info.returncode == 0:
                break
            if time.monotonic() > deadline:
                logs = podman("logs", name, check=False)
                raise AssertionError(f"hubctl info never answered: {info.stderr}\ncontainer log:\n"
                                     f"{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
            time.sleep(0.5)
        assert json.loads(info.stdout)["platform"] == "reference-handset"
        user = podman("exec", name, "id", "-u").stdout.strip()
        assert user == "10001"
    finally:
        podman("rm", "-f", "-t", "5", name, check=False)


def test_the_health_check_script_answers_from_healthz(hubd):
    binary = str(find_hubd())
    if not deploy.hub_knows_http_endpoints(binary):
        pytest.skip("this hubd refuses the configuration key hub.httpEndpoints ('unknown key'): the HTTP listener "
                    "serving /healthz is not built in yet, so the health check has nothing to ask")
    config = subprocess.run([binary, "--print-default-config"], capture_output=True, text=True, check=True).stdout
    config = config.replace("hub:\n", "hub:\n  httpEndpoints: [tcp:127.0.0.1:0]\n", 1)
    hub = hubd(config=config)
    # The bound HTTP endpoints are http.status's (Protocols/control.md §9.9).
    addresses = hub.call("http.status")["endpoints"]
    assert addresses and addresses[0].startswith("tcp:"), f"http.status names no TCP endpoint: {addresses}"
    url = "http://" + addresses[0][len("tcp:"):] + "/healthz"
    script = str(REPO / "Deploy/container/healthcheck")
    healthy = subprocess.run([sys.executable, script], env={**os.environ, "HANDSETHUB_HEALTH_URL": url},
                             capture_output=True, text=True, timeout=10)
    assert healthy.returncode == 0, healthy.stderr
    hub.hub.stop()
    gone = subprocess.run([sys.executable, script], env={**os.environ, "HANDSETHUB_HEALTH_URL": url},
                          capture_output=True, text=True, timeout=10)
    assert gone.returncode == 1 and "unhealthy" in gone.stderr
