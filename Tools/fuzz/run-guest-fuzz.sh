#!/usr/bin/env bash
# Fuzzes the guest codec with libFuzzer for a bounded time.
#   Tools/fuzz/run-guest-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with every vector in Protocols/vectors/guest/frames.vectors. Crashes land in .build/fuzz/guest/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/guest"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: the vectors' bytes, read by the one vector reader (Protocols/vectors/README.md).
PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/guest/frames.vectors" "$out/corpus"

# One module from Wire + GuestWire + the entry point, so `import Wire` lines are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/Wire/*.swift "$root"/Sources/GuestWire/*.swift; do
    sed '/^import Wire$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name GuestWireFuzz -package-name HandsetHub \
    "$out"/src/*.swift "$root/Tools/fuzz/GuestWireFuzz.swift" -o "$out/guest-fuzz"

"$out/guest-fuzz" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
