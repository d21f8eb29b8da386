#!/usr/bin/env bash
# Fuzzes the management envelope decoder (ManagementWire) with libFuzzer.
#   Tools/fuzz/run-management-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the envelopes in Protocols/vectors/management/envelopes.vectors (signed and malformed)
# and the relay results in relay.vectors. Crashes land in .build/fuzz/management/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/management"
mkdir -p "$out/corpus" "$out/artifacts"

for set in envelopes relay; do
    PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds \
        "$root/Protocols/vectors/management/$set.vectors" "$out/corpus"
done

# ManagementWire imports nothing: its sources and the entry point are one module.
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name ManagementFuzz -package-name HandsetHub \
    "$root"/Sources/ManagementWire/*.swift "$root/Tools/fuzz/ManagementFuzz.swift" \
    -o "$out/management-fuzz"

"$out/management-fuzz" -max_total_time="$seconds" -max_len=20000 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
