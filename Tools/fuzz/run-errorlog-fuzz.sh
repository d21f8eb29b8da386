#!/usr/bin/env bash
# Fuzzes the error-log file reader (ErrorLog, Protocols/errorlog.md §4) with libFuzzer.
#   Tools/fuzz/run-errorlog-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the files in Protocols/vectors/errorlog/records.vectors. Crashes land in
# .build/fuzz/errorlog/. The ERROR_REPORT frame (Protocols/guest.md §9.5) is fuzzed with every other guest frame
# by run-guest-fuzz.sh (its vectors are in guest/frames.vectors).
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/errorlog"
mkdir -p "$out/corpus" "$out/artifacts"

PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/errorlog/records.vectors" \
    "$out/corpus"

# The ErrorLog sources with the modules they import (Wire, Zlib, JSON) as one module: their imports are dropped
# from copies of the sources; zlib and ISA-L (both wrapped by Zlib) through their module maps.
rm -rf "$out/src"
mkdir -p "$out/src"
for file in "$root"/Sources/ErrorLog/*.swift "$root"/Sources/Wire/*.swift "$root"/Sources/Zlib/*.swift \
    "$root"/Sources/JSON/*.swift; do
    grep -v -e '^import Wire$' -e '^import Zlib$' -e '^import JSON$' "$file" > "$out/src/$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name ErrorLogFuzz -package-name HandsetHub \
    -I "$root/Sources/CZlib" -I "$root/Sources/CIsal" \
    "$out"/src/*.swift "$root/Tools/fuzz/ErrorLogFuzz.swift" \
    -o "$out/errorlog-fuzz"

"$out/errorlog-fuzz" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
