#!/usr/bin/env bash
# Fuzzes the HTTP listener's codec (request head decoder, exposition writer) with libFuzzer.
#   Tools/fuzz/run-http-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/http/ (request heads as sent). Crashes land in .build/fuzz/http/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/http"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: every request head of the vectors, after a selector byte, read by the one vector reader
# (Protocols/vectors/README.md).
PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/http/requests.vectors" "$out/corpus" --field input --escaped --prefix 40

# One module from HTTPWire + the entry point.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/HTTPWire/*.swift; do
    cp "$file" "$out/src/HTTPWire-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -package-name HandsetHub -module-name HTTPWireFuzz \
    "$out"/src/*.swift "$root/Tools/fuzz/HTTPWireFuzz.swift" -o "$out/http-fuzz"

"$out/http-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
