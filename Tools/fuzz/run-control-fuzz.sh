#!/usr/bin/env bash
# Fuzzes the control codec (line framer, JSON parser, JSON-RPC decoder) with libFuzzer for a bounded time.
#   Tools/fuzz/run-control-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the control vectors. Crashes land in .build/fuzz/control/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/control"
mkdir -p "$out/corpus" "$out/artifacts"
find "$root/Protocols/vectors/control" -type f -exec cp {} "$out/corpus/" \;

# One module from Wire + JSON + ControlWire + the entry point, so cross-module imports are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/Wire/*.swift "$root"/Sources/JSON/*.swift "$root"/Sources/ControlWire/*.swift; do
    sed '/^import Wire$/d; /^import JSON$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name ControlWireFuzz -package-name HandsetHub \
    "$out"/src/*.swift "$root/Tools/fuzz/ControlWireFuzz.swift" -o "$out/control-fuzz"

"$out/control-fuzz" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
