#!/usr/bin/env bash
# Fuzzes the YAML composer (Sources/YAML over libyaml; every configuration goes through it) with libFuzzer for a
# bounded time.
#   Tools/fuzz/run-yaml-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the composer's test cases and the example configurations. Crashes land in
# .build/fuzz/yaml/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/yaml"
mkdir -p "$out/corpus" "$out/artifacts"
cp "$root"/Tests/YAMLTests/Cases/*.yaml "$root"/Deploy/examples/*.yaml "$out/corpus/"

rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/YAML/*.swift; do cp "$file" "$out/src/"; done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name YAMLFuzz -package-name HandsetHub \
    -I "$root/Sources/CLibYAML" "$out"/src/*.swift "$root/Tools/fuzz/YAMLFuzz.swift" -o "$out/yaml-fuzz"

"$out/yaml-fuzz" -max_total_time="$seconds" -max_len=16384 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
