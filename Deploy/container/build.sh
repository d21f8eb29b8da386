#!/usr/bin/env bash
# Builds the HandsetHub OCI image without any registry but Debian's (Deploy/container/README.md):
#   1. mmdebstrap makes a minimal Debian 12 root file system with the run-time packages (cached as a local
#      image named after a hash of the package list, so later builds skip it);
#   2. podman imports it and builds Deploy/container/Containerfile on top: hubd and hubctl (release builds,
#      static Swift standard library), the Python package, the sample guests and the web page, a non-root
#      user, the health check on /healthz.
# Usage: Deploy/container/build.sh [IMAGE]       (default localhost/handsethub:latest)
# Environment: HANDSETHUB_BIN  directory holding hubd and hubctl (default: build them, release, static Swift
#                              standard library). A build linking the Swift runtime's shared libraries (a debug
#                              build: Tools/hub test packs the one its suite built) gets those libraries packed
#                              into /usr/local/lib/handsethub and its run path pointed there (needs patchelf).
#              DEBIAN_MIRROR   (default http://deb.debian.org/debian)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGE="${1:-localhost/handsethub:latest}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Run-time packages: the hub's shared libraries, Python for the sample guests and the entry point, and
# python3-cryptography for the sample key service (Ed25519, AES-GCM) and the management agent.
PACKAGES="libuv1,zlib1g,libssl3,libturbojpeg0,libyaml-0-2,libisal2,libstdc++6,python3,python3-cryptography,ca-certificates"
# websockify and noVNC for the web page, unpacked from Debian's packages without their dependencies: the page
# needs only noVNC's browser files (the novnc package's own dependencies, nodejs and OpenStack's Python libraries,
# are 150 MB) and websockify imports numpy and jwcrypto only when present (faster masking, JWT tokens).
WEB_HOOK='chroot "$1" sh -c "cd /tmp && apt-get download -q novnc websockify python3-websockify" && for deb in "$1"/tmp/*.deb; do dpkg-deb -x "$deb" "$1"; done && rm -rf "$1"/tmp/*.deb "$1"/usr/share/doc "$1"/usr/share/man && mkdir -p "$1"/usr/share/doc'

for tool in podman mmdebstrap; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool is not installed (apt-get install $tool)" >&2; exit 3; }
done

if [ -z "${HANDSETHUB_BIN:-}" ]; then
    (cd "$ROOT" && swift build -c release --static-swift-stdlib --product hubd >&2 \
        && swift build -c release --static-swift-stdlib --product hubctl >&2)
    HANDSETHUB_BIN="$(cd "$ROOT" && swift build -c release --static-swift-stdlib --show-bin-path)"
fi

# The non-root user and the hub's run-time directory are made here, in the root file system, so the
# Containerfile needs no RUN step: building it then runs no container (podman build works where the
# container runtime cannot start one, e.g. on a host with hybrid cgroups).
USER_HOOK='chroot "$1" groupadd --system --gid 10001 handsethub && chroot "$1" useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/handsethub --create-home --shell /usr/sbin/nologin handsethub && mkdir -p "$1"/run/handsethub && chown 10001:10001 "$1"/run/handsethub && chmod 0700 "$1"/run/handsethub'
BASE_TAG="$(printf '%s %s %s %s %s' "$SUITE" "$PACKAGES" "$MIRROR" "$USER_HOOK" "$WEB_HOOK" | sha256sum | cut -c1-16)"
BASE="localhost/handsethub-base:$BASE_TAG"
if ! podman image exists "$BASE"; then
    echo "build.sh: making the Debian $SUITE root file system ($PACKAGES)" >&2
    TARBALL="$(mktemp --suffix=.tar)"
    trap 'rm -f "$TARBALL"' EXIT
    # minbase without recommends; documentation and locales dropped; apt lists emptied.
    mmdebstrap --variant=minbase --include="$PACKAGES" --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook="$USER_HOOK" --customize-hook="$WEB_HOOK" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        "$SUITE" "$TARBALL" "$MIRROR" >&2
    podman import --change 'CMD ["/bin/sh"]' "$TARBALL" "$BASE" >/dev/null
fi

# The Swift runtime's shared libraries the binaries in $1/bin load (directly or through each other), copied into
# $1/lib (the image's /usr/local/lib/handsethub), and the binaries' run path pointed there. A build with the
# static Swift standard library loads none of them: then nothing is copied and the binaries stay as built. Only
# libraries from the toolchain's runtime directory (where libswiftCore.so resolves) are copied: everything else
# (libuv, libssl, libstdc++, glibc) comes from the image's Debian packages.
pack_swift_runtime() {
    local context="$1" resolved runtime
    mkdir -p "$context/lib"
    resolved="$(ldd "$context/bin/hubd" "$context/bin/hubctl")"
    if grep -q 'not found' <<<"$resolved"; then
        echo "build.sh: $HANDSETHUB_BIN: unresolved shared libraries:" >&2
        grep 'not found' <<<"$resolved" >&2
        exit 3
    fi
    runtime="$(awk '$1 == "libswiftCore.so" && $2 == "=>" { print $3; exit }' <<<"$resolved")"
    [ -n "$runtime" ] || return 0
    runtime="$(dirname "$runtime")"
    command -v patchelf >/dev/null \
        || { echo "build.sh: $HANDSETHUB_BIN links the Swift runtime ($runtime): patchelf is not installed (apt-get install patchelf)" >&2; exit 3; }
    awk -v dir="$runtime/" '$2 == "=>" && index($3, dir) == 1 { print $3 }' <<<"$resolved" | sort -u \
        | while read -r library; do install -m 0644 "$library" "$context/lib/"; done
    # The libraries' own run path is $ORIGIN, so they find each other; the binaries get theirs here.
    patchelf --set-rpath '$ORIGIN/../lib/handsethub' "$context/bin/hubd" "$context/bin/hubctl"
    echo "build.sh: packed the Swift runtime from $runtime: $(cd "$context/lib" && echo *)" >&2
}

CONTEXT="$(mktemp -d)"
trap 'rm -rf "$CONTEXT" "${TARBALL:-}"' EXIT
mkdir -p "$CONTEXT/bin" "$CONTEXT/opt/handsethub/python/examples" "$CONTEXT/opt/handsethub/web" "$CONTEXT/run-handsethub"
touch "$CONTEXT/run-handsethub/.keep"  # the imported root file system keeps nothing under /run
install -m 0755 "$HANDSETHUB_BIN/hubd" "$HANDSETHUB_BIN/hubctl" "$CONTEXT/bin/"
strip "$CONTEXT/bin/hubd" "$CONTEXT/bin/hubctl" 2>/dev/null || true
pack_swift_runtime "$CONTEXT"
cp -r "$ROOT/Tools/python/handsethub" "$CONTEXT/opt/handsethub/python/"
cp -r "$ROOT/Tools/python/examples/handset" "$CONTEXT/opt/handsethub/python/examples/"
cp "$ROOT"/Tools/web/*.html "$ROOT"/Tools/web/*.js "$ROOT"/Tools/web/*.css "$CONTEXT/opt/handsethub/web/"
find "$CONTEXT" -name __pycache__ -prune -exec rm -rf {} +
cp "$ROOT/Deploy/container/hubd.yaml" "$ROOT/Deploy/container/healthcheck" "$CONTEXT/"
podman build --format docker --build-arg "BASE=$BASE" -f "$ROOT/Deploy/container/Containerfile" -t "$IMAGE" \
    "$CONTEXT" >&2
podman image inspect --format '{{.Size}}' "$IMAGE" | awk -v image="$IMAGE" \
    '{ printf "build.sh: %s is %.1f MiB\n", image, $1 / 1048576 }' >&2
