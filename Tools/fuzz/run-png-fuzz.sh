#!/usr/bin/env bash
# Fuzzes the PNG decoder (fb.wait's reference images) with libFuzzer.
#   Tools/fuzz/run-png-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the PNG vectors in Protocols/vectors/framebuffer/. Crashes land in .build/fuzz/png/.
set -euo pipefail
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/png"
mkdir -p "$out/corpus" "$out/artifacts"

PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/framebuffer/png.vectors" "$out/corpus"

# The PNG codec with the RFBWire sources it uses (zlib, CRC-32); zlib and libcrypto through their module maps.
# The Framebuffer sources (the PNG codec and the helpers it shares) with RFBWire compiled as one module: the
# import of RFBWire is dropped from copies of them.
mkdir -p "$out/src"
for file in "$root"/Sources/Framebuffer/*.swift; do
    grep -v '^import RFBWire$' "$file" > "$out/src/$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name PNGDecoderFuzz \
    -I "$root/Sources/CZlib" -I "$root/Sources/COpenSSL" \
    "$root"/Sources/RFBWire/*.swift "$out"/src/*.swift "$root/Tools/fuzz/PNGDecoderFuzz.swift" \
    -o "$out/png-fuzz"

"$out/png-fuzz" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
