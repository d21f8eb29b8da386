#!/usr/bin/env bash
# Fuzzes the modem-simulator link codec (frame decoder, encoder, hello check) with libFuzzer for a bounded time.
#   Tools/fuzz/run-modemsim-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/modem/sim-link.txt (the link bytes of each vector) and the hellos of
# sim-hellos.txt (each as a hello frame). Crashes land in .build/fuzz/modemsim/.
set -euo pipefail
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/modemsim"
mkdir -p "$out/corpus" "$out/artifacts"

grep -v '^#' "$root/Protocols/vectors/modem/sim-link.txt" | sed 's/[[:space:]]*=>.*//' | tr -d ' \t' \
    | grep -E '^[0-9A-Fa-f]+$' | while read -r hex; do
        echo "$hex" | xxd -r -p > "$out/corpus/link-$(echo "$hex" | cksum | cut -d' ' -f1)"
    done
grep -v '^#' "$root/Protocols/vectors/modem/sim-hellos.txt" | sed 's/ => .*//' | while IFS= read -r hello; do
    [ -n "$hello" ] || continue
    length=$(( $(printf '%s' "$hello" | wc -c) + 1 ))
    { printf '%08x01' "$length" | xxd -r -p; printf '%s' "$hello"; } \
        > "$out/corpus/hello-$(printf '%s' "$hello" | cksum | cut -d' ' -f1)"
done

# One module from Wire + JSON + ModemSimWire + the entry point, so cross-module imports are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/Wire/*.swift "$root"/Sources/JSON/*.swift "$root"/Sources/ModemSimWire/*.swift; do
    sed '/^import Wire$/d; /^import JSON$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -package-name HandsetHub -module-name ModemSimWireFuzz \
    "$out"/src/*.swift "$root/Tools/fuzz/ModemSimWireFuzz.swift" -o "$out/modemsim-fuzz"

"$out/modemsim-fuzz" -max_total_time="$seconds" -max_len=140000 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
