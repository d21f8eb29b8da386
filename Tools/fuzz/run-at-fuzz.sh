#!/usr/bin/env bash
# Fuzzes the modem's AT line assembler/parser, SMS PDU decoders and simulator with libFuzzer.
#   Tools/fuzz/run-at-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/modem/ (AT lines and PDUs). Crashes land in .build/fuzz/at/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/at"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: every PDU (as bytes, after a selector byte) and every AT vector input (as typed), read by the
# one vector reader (Protocols/vectors/README.md).
PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/modem/pdus.vectors" "$out/corpus" --prefix 07
PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/modem/cmgs.vectors" "$out/corpus" --field pdu --prefix 07
PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds "$root/Protocols/vectors/modem/at-lines.vectors" "$out/corpus" --field input --escaped --prefix 03

# One module from ATWire + Modem + the entry point, so `import ATWire` lines are dropped from copies.
rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/ATWire/*.swift "$root"/Sources/Modem/*.swift; do
    sed '/^import ATWire$/d' "$file" > "$out/src/$(basename "$(dirname "$file")")-$(basename "$file")"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -package-name HandsetHub -module-name ATWireFuzz \
    "$out"/src/*.swift "$root/Tools/fuzz/ATWireFuzz.swift" -o "$out/at-fuzz"

"$out/at-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
