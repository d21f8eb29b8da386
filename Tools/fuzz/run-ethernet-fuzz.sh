#!/usr/bin/env bash
# Fuzzes the Ethernet codecs (stream framings, 802.1Q, VXLAN, pcap, frame patterns) with libFuzzer.
#   Tools/fuzz/run-ethernet-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/ethernet/frames.vectors behind a few selector bytes. Crashes land in
# .build/fuzz/ethernet/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/ethernet"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: the vectors' bytes, read by the one vector reader (Protocols/vectors/README.md).
for selector in 00 07 c8 ff; do
    PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds \
        "$root/Protocols/vectors/ethernet/frames.vectors" "$out/corpus" --prefix "$selector"
done

# One module from Wire + EthernetWire + the entry point, so `import Wire` lines are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/Wire/*.swift "$root"/Sources/EthernetWire/*.swift; do
    sed '/^import Wire$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name EthernetWireFuzz -package-name HandsetHub \
    "$out"/src/*.swift "$root/Tools/fuzz/EthernetWireFuzz.swift" -o "$out/ethernet-fuzz"

"$out/ethernet-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
