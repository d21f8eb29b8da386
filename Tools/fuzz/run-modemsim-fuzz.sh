#!/usr/bin/env bash
# Fuzzes the modem-simulator link codec (frame decoder, encoder, hello check) with libFuzzer for a bounded time.
#   Tools/fuzz/run-modemsim-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/modem/sim-link.vectors (the link bytes of each vector) and the hellos
# of sim-hellos.vectors (each as a hello frame). Crashes land in .build/fuzz/modemsim/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/modemsim"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus, read by the one vector reader (Protocols/vectors/README.md): each link vector's bytes, and each
# hello payload framed as a hello (length, kind 0x01, payload).
PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds \
    "$root/Protocols/vectors/modem/sim-link.vectors" "$out/corpus"
PYTHONPATH="$root/Tools/python" python3 - "$out/corpus" <<'PY'
import os, sys
from handsethub import vectors
for vector in vectors.load("modem/sim-hellos.vectors"):
    payload = vector["payload"].encode()
    frame = (len(payload) + 1).to_bytes(4, "big") + b"\x01" + payload
    with open(os.path.join(sys.argv[1], "hello-" + vector.name), "wb") as f:
        f.write(frame)
PY

# One module from Wire + JSON + ModemSimWire + the entry point, so cross-module imports are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/Wire/*.swift "$root"/Sources/JSON/*.swift "$root"/Sources/ModemSimWire/*.swift; do
    sed '/^import Wire$/d; /^import JSON$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -package-name HandsetHub -module-name ModemSimWireFuzz \
    "$out"/src/*.swift "$root/Tools/fuzz/ModemSimWireFuzz.swift" -o "$out/modemsim-fuzz"

"$out/modemsim-fuzz" -max_total_time="$seconds" -max_len=140000 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
