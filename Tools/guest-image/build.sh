#!/usr/bin/env bash
# Builds a tiny Linux guest for the virtual Ethernet tests: Debian's cloud kernel, its virtio network modules
# and busybox-static in an initramfs. About 28 MB is downloaded once; the result is cached outside git.
#
#   Tools/guest-image/build.sh            build (or reuse) the image, print the directory holding it
#   Tools/guest-image/build.sh --force    rebuild even if cached
#
# The directory is $HANDSETHUB_GUEST_CACHE (default ~/.cache/handsethub/guest-image) and holds `vmlinuz`,
# `initrd.img` and `kernel-version`. Boot it with, for example:
#   qemu-system-x86_64 -machine q35 -accel tcg -m 256 -nographic -no-reboot \
#     -kernel DIR/vmlinuz -initrd DIR/initrd.img \
#     -append 'console=ttyS0 quiet panic=-1 hh.ip=10.0.0.1/24 hh.run=ping,-c,3,10.0.0.2' \
#     -netdev stream,id=n0,server=off,addr.type=unix,addr.path=/path/to/port.sock \
#     -device virtio-net-pci,netdev=n0,mac=02:00:00:00:00:01
#
# The guest's /init reads its own parameters from the kernel command line (not the kernel's `ip=`, which the
# cloud kernel would try to apply before the virtio modules are loaded):
#   hh.ip=ADDRESS/PREFIX   configure eth0 (brought up in any case)
#   hh.gw=ADDRESS          default route
#   hh.run=CMD,ARG,...     a command to run once eth0 is up (commas stand for spaces); its output goes to the
#                          serial console between `HH-RUN-BEGIN` and `HH-RUN-EXIT <status>`
#   hh.halt=1              power off after the command instead of staying up
# It prints `HH-READY` when eth0 is configured, then keeps a shell on the console.
set -euo pipefail

CACHE="${HANDSETHUB_GUEST_CACHE:-$HOME/.cache/handsethub/guest-image}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

if [ "$FORCE" = 0 ] && [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initrd.img" ]; then
    echo "$CACHE"
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip; do
    command -v "$tool" >/dev/null || { echo "guest-image: $tool is required" >&2; exit 1; }
done

mkdir -p "$CACHE/debs"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/guest-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# The meta-package names the current kernel package; download that and busybox-static (no install).
KERNEL_PACKAGE="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
if [ -z "$KERNEL_PACKAGE" ]; then
    echo "guest-image: apt-cache does not know linux-image-cloud-amd64 (run apt-get update first)" >&2
    exit 1
fi
(
    cd "$CACHE/debs"
    for package in "$KERNEL_PACKAGE" busybox-static; do
        ls "${package}"_*.deb >/dev/null 2>&1 || apt-get download -qq "$package"
    done
)
dpkg-deb -x "$(ls "$CACHE"/debs/"${KERNEL_PACKAGE}"_*.deb | head -1)" "$WORK/kernel"
dpkg-deb -x "$(ls "$CACHE"/debs/busybox-static_*.deb | head -1)" "$WORK/busybox"
VERSION="$(ls "$WORK/kernel/lib/modules" | head -1)"
MODULES="$WORK/kernel/lib/modules/$VERSION"

# The modules eth0 needs, dependencies first. Each is checked against modules.builtin: a driver built into the
# kernel needs no file. Dependencies come from each module's own .modinfo `depends=` (no depmod/modinfo needed).
ORDER=()
module_file() {
    local found
    found="$(find "$MODULES/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \) | head -1)"
    echo "$found"
}
add_module() {
    local name="$1" file depends dep seen
    for seen in "${ORDER[@]:-}"; do [ "$seen" = "$name" ] && return 0; done
    if grep -q "/$name.ko$" "$MODULES/modules.builtin" 2>/dev/null; then
        return 0
    fi
    file="$(module_file "$name")"
    [ -n "$file" ] || { echo "guest-image: module $name is neither built in nor shipped in $VERSION" >&2; exit 1; }
    depends="$(tr '\0' '\n' <"$file" | sed -n 's/^depends=//p' | head -1)"
    for dep in ${depends//,/ }; do add_module "$dep"; done
    ORDER+=("$name")
}
for wanted in virtio_pci virtio_net; do add_module "$wanted"; done

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,usr/bin,usr/sbin}
cp "$WORK/busybox/bin/busybox" "$ROOT/bin/busybox"
for module in "${ORDER[@]}"; do
    file="$(module_file "$module")"
    case "$file" in
    *.xz) xz -dc "$file" >"$ROOT/lib/modules/$module.ko" ;;
    *.zst) zstd -qdc "$file" >"$ROOT/lib/modules/$module.ko" ;;
    *) cp "$file" "$ROOT/lib/modules/$module.ko" ;;
    esac
done
printf '%s\n' "${ORDER[@]}" >"$ROOT/lib/modules/order"

cat >"$ROOT/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for module in $(cat /lib/modules/order); do
    insmod "/lib/modules/$module.ko" || echo "HH-ERROR insmod $module"
done
ADDRESS="" GATEWAY="" RUN="" HALT=""
for word in $(cat /proc/cmdline); do
    case "$word" in
    hh.ip=*) ADDRESS="${word#hh.ip=}" ;;
    hh.gw=*) GATEWAY="${word#hh.gw=}" ;;
    hh.run=*) RUN="$(echo "${word#hh.run=}" | tr ',' ' ')" ;;
    hh.halt=*) HALT="${word#hh.halt=}" ;;
    esac
done
ip link set lo up
tries=0
while [ ! -e /sys/class/net/eth0 ] && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
ip link set eth0 up || echo "HH-ERROR no eth0"
[ -n "$ADDRESS" ] && ip addr add "$ADDRESS" dev eth0
[ -n "$GATEWAY" ] && ip route add default via "$GATEWAY"
echo "HH-READY $(cat /sys/class/net/eth0/address 2>/dev/null) $ADDRESS"
if [ -n "$RUN" ]; then
    echo "HH-RUN-BEGIN $RUN"
    $RUN 2>&1
    echo "HH-RUN-EXIT $?"
fi
[ "$HALT" = "1" ] && poweroff -f
# Stay up with a shell on the serial console, so a test can type further commands.
while true; do setsid cttyhack sh; sleep 1; done
INIT
chmod +x "$ROOT/init"

(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -9) >"$WORK/initrd.img"
cp "$WORK/kernel/boot/vmlinuz-$VERSION" "$WORK/vmlinuz"
mv "$WORK/initrd.img" "$CACHE/initrd.img"
mv "$WORK/vmlinuz" "$CACHE/vmlinuz"
echo "$VERSION" >"$CACHE/kernel-version"
echo "guest-image: kernel $VERSION, modules ${ORDER[*]}" >&2
echo "$CACHE"
