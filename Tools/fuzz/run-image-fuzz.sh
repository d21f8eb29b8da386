#!/usr/bin/env bash
# Fuzzes the software image readers (manifest parser, ustar reader; Sources/SoftwareSlots) with libFuzzer for a
# bounded time.
#   Tools/fuzz/run-image-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the manifests and tar archives of Protocols/vectors/management and replays every input in
# Tools/fuzz/regressions/image (inputs that once crashed the entry; each must keep passing). Crashes land in
# .build/fuzz/image/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/image"
mkdir -p "$out/corpus" "$out/artifacts"
python3 - "$root/Protocols/vectors/management/images.vectors" "$out/corpus" <<'PY'
import sys
name = None
for line in open(sys.argv[1]):
    if line.startswith("name: "):
        name = line[6:].strip()
    elif line.startswith("manifest: "):
        open(f"{sys.argv[2]}/{name}", "w").write(line[10:].rstrip("\n"))
    elif line.startswith("tar: "):
        open(f"{sys.argv[2]}/{name}", "wb").write(bytes.fromhex(line[5:].strip()))
PY

rm -rf "$out/src" && mkdir -p "$out/src"
for file in "$root"/Sources/JSON/*.swift; do cp "$file" "$out/src/"; done
# The readers import JSON as a module; here they are compiled into one module with it.
for file in ImageManifest.swift TarReader.swift; do
    grep -v '^import JSON$' "$root/Sources/SoftwareSlots/$file" > "$out/src/$file"
done
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name ImageFuzz -package-name HandsetHub \
    "$out"/src/*.swift "$root/Tools/fuzz/ImageFuzz.swift" -o "$out/image-fuzz"

"$out/image-fuzz" -max_total_time="$seconds" -max_len=16384 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus" "$root/Tools/fuzz/regressions/image"
