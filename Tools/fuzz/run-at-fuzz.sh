#!/usr/bin/env bash
# Fuzzes the modem's AT line assembler/parser, SMS PDU decoders and simulator with libFuzzer.
#   Tools/fuzz/run-at-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/modem/ (AT lines and PDUs). Crashes land in .build/fuzz/at/.
set -euo pipefail
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/at"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: every PDU (as bytes, after a selector byte) and every AT vector line (as typed).
n=0
grep -v '^#' "$root/Protocols/vectors/modem/pdus.txt" "$root/Protocols/vectors/modem/cmgs.txt" \
    | sed 's/^[^:]*://' | awk -F'|' 'NF > 1 { gsub(/[ \t]/, "", $2); print $2 }' | grep -E '^[0-9A-Fa-f]+$' \
    | while read -r hex; do
        n=$((n + 1))
        { printf '\x07'; echo "$hex" | xxd -r -p; } > "$out/corpus/pdu-$n-$(echo "$hex" | cksum | cut -d' ' -f1)"
    done
grep -v '^#' "$root/Protocols/vectors/modem/at-lines.txt" | while IFS= read -r line; do
    [ -n "$line" ] || continue
    input="$(printf '%s' "$line" | sed 's/[[:space:]]*=>.*//; s/^prompt //')"
    printf '\x03%b' "$input" > "$out/corpus/at-$(printf '%s' "$line" | cksum | cut -d' ' -f1)" || true
done

# One module from ATWire + Modem + the entry point, so `import ATWire` lines are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/ATWire/*.swift "$root"/Sources/Modem/*.swift; do
    sed '/^import ATWire$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name ATWireFuzz \
    "$out"/src/*.swift "$root/Tools/fuzz/ATWireFuzz.swift" -o "$out/at-fuzz"

"$out/at-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
