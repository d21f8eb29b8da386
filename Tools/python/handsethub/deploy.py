"""Configuration rendering for deployments: the container's entry point and the fleets (Deploy/container,
Deploy/kubernetes, Tools/fleet).

A deployment ships a configuration *template*: an ordinary hubd configuration (Deploy/config-reference.md)
in which ``${NAME}`` stands for a value known only where the hub runs:

- an environment variable ``NAME``, else the file ``$HANDSETHUB_SECRETS_DIR/NAME`` (default
  ``/run/secrets/handsethub``: a Kubernetes Secret mounted as files, or ``podman run --secret``), trailing
  whitespace removed — so tokens and partition secrets never sit in the image or in a ConfigMap;
- ``${GENERATED_…}``: a random value made at each start, the same for every use of one name (partition
  secrets of guests the hub launches: hubd hands each its secret, so nobody else needs it);
- ``${HANDSETHUB_VXLAN_REMOTES}``: the other members of a fleet as a YAML flow list of ``HOST:PORT``, from
  ``HANDSETHUB_FLEET_SIZE`` (N), ``HANDSETHUB_FLEET_PEER`` (a pattern with ``{i}``, e.g.
  ``handset-{i}.handset-fleet:4789``) and this member's ordinal (``HANDSETHUB_FLEET_ORDINAL``, else the
  trailing ``-N`` of the host name, as a StatefulSet names its pods).

A placeholder with no value is an error naming it: a hub never starts with a half-rendered configuration.
The key ``hub.httpEndpoints`` (the metrics and health listener) is kept only when ``hubd --check-config``
accepts it; a hub that does not know the key yet runs without it and the entry point says so.

    python3 -m handsethub.deploy entrypoint [--template PATH] [--hubd PATH] [-- HUBD-ARGS]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRETS_DIR = "/run/secrets/handsethub"
MAX_FLEET = 64  # a VXLAN port sends to at most 64 remotes (Protocols/ethernet.md §3)


class RenderError(ValueError):
    pass


def ordinal(hostname: Optional[str] = None, environ: Mapping[str, str] = os.environ) -> int:
    """This member's index: ``HANDSETHUB_FLEET_ORDINAL``, else the host name's trailing ``-N``."""
    if environ.get("HANDSETHUB_FLEET_ORDINAL"):
        text = environ["HANDSETHUB_FLEET_ORDINAL"]
    else:
        name = hostname if hostname is not None else socket.gethostname()
        match = re.search(r"-(\d{1,4})$", name)
        if not match:
            raise RenderError(f"cannot tell this fleet member's ordinal: host name {name!r} does not end in -N "
                              f"and HANDSETHUB_FLEET_ORDINAL is not set")
        text = match.group(1)
    if not text.isdigit() or len(text) > 4:
        raise RenderError(f"fleet ordinal must be a small non-negative integer, got {text!r}")
    return int(text)


def fleet_remotes(me: int, size: int, peer: str) -> List[str]:
    """Every member but ``me`` of a fleet of ``size``, as ``peer.format(i=...)``."""
    if not 1 <= size <= MAX_FLEET + 1:
        raise RenderError(f"fleet size must be 1...{MAX_FLEET + 1} (a VXLAN port has at most {MAX_FLEET} "
                          f"remotes), got {size}")
    if not 0 <= me < size:
        raise RenderError(f"fleet ordinal {me} is outside 0...{size - 1}")
    if "{i}" not in peer:
        raise RenderError(f"HANDSETHUB_FLEET_PEER must contain {{i}}, got {peer!r}")
    return [peer.replace("{i}", str(i)) for i in range(size) if i != me]


def flow_list(items: List[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def values(environ: Mapping[str, str] = os.environ, hostname: Optional[str] = None) -> Dict[str, str]:
    """The computed values (the fleet's remotes) on top of the environment."""
    result = dict(environ)
    if environ.get("HANDSETHUB_FLEET_SIZE"):
        size_text = environ["HANDSETHUB_FLEET_SIZE"]
        if not size_text.isdigit() or len(size_text) > 4:
            raise RenderError(f"HANDSETHUB_FLEET_SIZE must be an integer, got {size_text!r}")
        peer = environ.get("HANDSETHUB_FLEET_PEER", "")
        result["HANDSETHUB_VXLAN_REMOTES"] = flow_list(fleet_remotes(ordinal(hostname, environ), int(size_text),
                                                                     peer))
    return result


def render(template: str, known: Mapping[str, str], secrets_dir: Optional[Path] = None) -> str:
    """Replaces every ``${NAME}``; refuses a placeholder with no value, naming every missing one."""
    missing: List[str] = []
    generated: Dict[str, str] = {}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in known:
            return known[name]
        if name.startswith("GENERATED_"):
            return generated.setdefault(name, secrets.token_urlsafe(24))
        if secrets_dir is not None:
            path = secrets_dir / name
            try:
                return path.read_text()[:4096].rstrip()
            except OSError:
                pass
        missing.append(name)
        return ""

    text = PLACEHOLDER.sub(value, template)
    if missing:
        where = f" or a file in {secrets_dir}" if secrets_dir is not None else ""
        raise RenderError(f"no value for {', '.join(sorted(set(missing)))} (an environment variable{where})")
    return text


def without_http_endpoints(text: str) -> str:
    """The configuration without its ``httpEndpoints`` line (block or flow form on one line)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not re.match(r"\s*httpEndpoints\s*:", line))


def check(hubd: str, text: str) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(text)
        path = handle.name
    try:
        return subprocess.run([hubd, "--config", path, "--check-config"], capture_output=True, text=True,
                              timeout=30)
    finally:
        os.unlink(path)


def hub_knows_http_endpoints(hubd: str) -> bool:
    """Whether this hubd accepts ``hub.httpEndpoints`` (the metrics and health listener)."""
    probe = check(hubd, "platform: {name: probe}\nhub: {httpEndpoints: [\"tcp:127.0.0.1:0\"], "
                        "controlEndpoints: [], guestEndpoints: []}\npartitions:\n"
                        "  - {name: a, class: fair-share, priority: 1, memoryBytes: 1MiB, secret: probe}\n")
    return "httpEndpoints: unknown key" not in (probe.stdout + probe.stderr)


def entrypoint(arguments: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Render the configuration template and exec hubd.")
    parser.add_argument("--template", default=os.environ.get("HANDSETHUB_CONFIG", "/etc/handsethub/hubd.yaml"))
    parser.add_argument("--hubd", default=os.environ.get("HANDSETHUB_HUBD", "hubd"))
    parser.add_argument("--output", default=os.environ.get("HANDSETHUB_RENDERED", "/run/handsethub/hubd.yaml"))
    parser.add_argument("hubd_args", nargs=argparse.REMAINDER)
    options = parser.parse_args(arguments)
    secrets_dir = Path(os.environ.get("HANDSETHUB_SECRETS_DIR", SECRETS_DIR))
    try:
        text = render(Path(options.template).read_text(), values(), secrets_dir)
    except (OSError, RenderError) as error:
        print(f"handsethub: {error}", file=sys.stderr)
        return 2
    if re.search(r"^\s*httpEndpoints\s*:", text, re.M) and not hub_knows_http_endpoints(options.hubd):
        print("handsethub: this hubd has no HTTP listener (hub.httpEndpoints is unknown to it); running without "
              "/metrics, /healthz and /readyz", file=sys.stderr)
        text = without_http_endpoints(text)
    output = Path(options.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    output.chmod(0o600)
    extra = options.hubd_args[1:] if options.hubd_args[:1] == ["--"] else options.hubd_args
    os.execvp(options.hubd, [options.hubd, "--config", str(output), *extra])
    return 1  # not reached


if __name__ == "__main__":
    if sys.argv[1:2] == ["entrypoint"]:
        sys.exit(entrypoint(sys.argv[2:]))
    print("usage: python3 -m handsethub.deploy entrypoint [--template PATH] [--hubd PATH] [-- HUBD-ARGS]",
          file=sys.stderr)
    sys.exit(2)
