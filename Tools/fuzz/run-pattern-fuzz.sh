#!/usr/bin/env bash
# Fuzzes the modem.wait pattern language (Protocols/control.md §14.15) with libFuzzer, against Swift's Regex as
# an oracle where both accept a pattern.
#   Tools/fuzz/run-pattern-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with Protocols/vectors/modem/patterns.vectors (each pattern, a zero byte, each text).
# Crashes land in .build/fuzz/pattern/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/pattern"
mkdir -p "$out/corpus" "$out/artifacts"

# Seed corpus: every vector's pattern, alone and with each of its texts, read by the one vector reader.
PYTHONPATH="$root/Tools/python" python3 - "$root/Protocols/vectors/modem/patterns.vectors" "$out/corpus" <<'PY'
import sys
from pathlib import Path
from handsethub.vectors import Vector, load
for number, vector in enumerate(load(sys.argv[1])):
    pattern = vector["pattern"].encode()
    texts = [b""]
    for key, value in vector.fields:
        if key in ("match", "nomatch"):
            text = Vector(vector.name, vector.line)
            text.fields = [(key, value)]
            texts.append(text.escaped_bytes(key))
    for index, text in enumerate(texts):
        Path(sys.argv[2], f"vector-{number}-{index}").write_bytes(pattern + b"\0" + text)
PY

swiftc -sanitize=fuzzer,address -parse-as-library -O -g -package-name HandsetHub -module-name LinePatternFuzz \
    "$root/Sources/Modem/LinePattern.swift" "$root/Tools/fuzz/LinePatternFuzz.swift" -o "$out/pattern-fuzz"

# -timeout: one input must finish in a second (the matcher is linear; the oracle only sees short inputs).
"$out/pattern-fuzz" -max_total_time="$seconds" -max_len=600 -timeout=1 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
