#!/usr/bin/env bash
# Fuzzes the RFB handshake and client-message decoder (and the encoders they drive) with libFuzzer.
#   Tools/fuzz/run-rfb-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with every vector in Protocols/vectors/rfb/*.vectors, each once as a handshake (selector
# byte 0x00 / 0x02 with a password) and once as a message stream (0x01). Crashes land in .build/fuzz/rfb/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/rfb"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: the vectors' bytes (read by the one vector reader, Protocols/vectors/README.md), behind each
# selector.
for file in "$root"/Protocols/vectors/rfb/*.vectors; do
    for selector in 00 01 02; do
        PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$file" "$out/corpus" --prefix "$selector"
    done
done

# One module from the RFBWire sources, the modules they import (Zlib, JPEG, ScreenGeometry; their imports dropped
# from copies of the sources) and the entry point; zlib, ISA-L and libjpeg-turbo through their module maps.
rm -rf "$out/src"
mkdir -p "$out/src"
for file in "$root"/Sources/RFBWire/*.swift "$root"/Sources/Zlib/*.swift "$root"/Sources/JPEG/*.swift \
    "$root"/Sources/ScreenGeometry/*.swift; do
    grep -v -e '^import Zlib$' -e '^import JPEG$' -e '^import ScreenGeometry$' "$file" > "$out/src/$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name RFBWireFuzz -package-name HandsetHub \
    -I "$root/Sources/CZlib" -I "$root/Sources/CIsal" -I "$root/Sources/CTurboJPEG" \
    "$out"/src/*.swift "$root/Tools/fuzz/RFBWireFuzz.swift" -o "$out/rfb-fuzz"

"$out/rfb-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
