#!/usr/bin/env bash
# Fuzzes the PNG decoder (fb.wait's reference images) with libFuzzer.
#   Tools/fuzz/run-png-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the PNG vectors in Protocols/vectors/framebuffer/. Crashes land in .build/fuzz/png/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/png"
mkdir -p "$out/corpus" "$out/artifacts"

PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/framebuffer/png.vectors" "$out/corpus"

# The Framebuffer sources (the PNG codec and the helpers it shares) with the modules they import, Zlib and
# ScreenGeometry, compiled as one module: the imports of those two are dropped from copies of the sources; zlib
# (and ISA-L, which Zlib also wraps) through their module maps.
rm -rf "$out/src"
mkdir -p "$out/src"
for file in "$root"/Sources/Framebuffer/*.swift "$root"/Sources/Zlib/*.swift "$root"/Sources/ScreenGeometry/*.swift; do
    grep -v -e '^import Zlib$' -e '^import ScreenGeometry$' "$file" > "$out/src/$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name PNGDecoderFuzz -package-name HandsetHub \
    -I "$root/Sources/CZlib" -I "$root/Sources/CIsal" \
    "$out"/src/*.swift "$root/Tools/fuzz/PNGDecoderFuzz.swift" \
    -o "$out/png-fuzz"

"$out/png-fuzz" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
