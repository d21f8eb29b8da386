#!/usr/bin/env bash
# Fuzzes the switch's run path (Switch.receiveRun) against a switch that decides every frame, with libFuzzer.
#   Tools/fuzz/run-switch-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with streams of one flow's frames (what QEMU writes during a transfer), broken by other headers,
# bad lengths and cut records, behind each selector, and with the framing vectors. Crashes land in .build/fuzz/switch/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/switch"
mkdir -p "$out/corpus" "$out/artifacts"

python3 - "$out/corpus" <<'PY'
import os, struct, sys
a, b = bytes([2, 0, 0, 0, 0, 1]), bytes([2, 0, 0, 0, 0, 2])
def frame(n, head=b + a + b"\x08\x00"):
    return head + bytes((i * 7) & 0xFF for i in range(n - len(head)))
# Selectors (SwitchRunFuzz.swift): 0x5C QEMU framing, limit 256, frame limit 1518, queue 1024 frames; 0x5D the same in
# VDE framing; 0x3C a queue of 9; 0x5A a limit of 3; 0x54 a frame limit of 100; 0x80 a queue of 300 bytes; 0x00.
for selector in (0x5C, 0x5D, 0x3C, 0x5A, 0x54, 0xDC, 0x00):
    width = 4 if selector & 1 == 0 else 2
    prefix = (lambda n: struct.pack(">I", n)) if width == 4 else (lambda n: struct.pack(">H", n))
    runs = b"".join(prefix(60 + i % 40) + frame(60 + i % 40) for i in range(30))
    other = prefix(64) + frame(64, a + b + b"\x08\x00") + prefix(13) + bytes(13) + prefix(1600) + frame(1600)
    for name, stream in (("run", runs), ("mixed", runs[:400] + other[:80] + runs), ("cut", runs[:-17])):
        with open(os.path.join(sys.argv[1], f"seed-{selector:02x}-{name}"), "wb") as handle:
            handle.write(bytes([selector]) + stream)
PY

# And the framings' vectors (Protocols/vectors/ethernet/frames.vectors), read by the one vector reader.
for selector in 5c 5d; do
    PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds \
        "$root/Protocols/vectors/ethernet/frames.vectors" "$out/corpus" --prefix "$selector"
done

# One module from Wire + EthernetWire + Ethernet + the entry point, so their `import` lines are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/Wire/*.swift "$root"/Sources/EthernetWire/*.swift "$root"/Sources/Ethernet/*.swift; do
    sed '/^import Wire$/d; /^import EthernetWire$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
# Ethernet's MAC table imports CCacheHint (a header-only prefetch hint): its module map is found through -I.
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name SwitchRunFuzz -package-name HandsetHub \
    -I "$root/Sources/CCacheHint" "$out"/src/*.swift "$root/Tools/fuzz/SwitchRunFuzz.swift" -o "$out/switch-fuzz"

"$out/switch-fuzz" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
