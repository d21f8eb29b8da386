#!/usr/bin/env bash
# Fuzzes the JSON parser (Sources/JSON) with libFuzzer for a bounded time.
#   Tools/fuzz/run-json-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the control vectors and a few large objects. Crashes land in .build/fuzz/json/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/json"
mkdir -p "$out/corpus" "$out/artifacts"
find "$root/Protocols/vectors/control" -type f -exec cp {} "$out/corpus/" \;
# Objects past the parser's index threshold, with and without a duplicate key.
python3 - "$out/corpus" <<'PY'
import json, sys
d = sys.argv[1]
open(f"{d}/large-object", "w").write(json.dumps({f"k{i}": i for i in range(40)}))
open(f"{d}/large-duplicate", "w").write("{" + ",".join(f'"k{i % 30}":{i}' for i in range(40)) + "}")
PY

rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/JSON/*.swift; do cp "$file" "$out/src/"; done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name JSONFuzz -package-name HandsetHub \
    "$out"/src/*.swift "$root/Tools/fuzz/JSONFuzz.swift" -o "$out/json-fuzz"

"$out/json-fuzz" -max_total_time="$seconds" -max_len=16384 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
