#!/usr/bin/env bash
# Fuzzes the framebuffer guest channel's command decoder (FramebufferWire) with libFuzzer.
#   Tools/fuzz/run-framebuffer-channel-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the channel vectors in Protocols/vectors/framebuffer/ (commands, valid and malformed).
# Crashes land in .build/fuzz/framebuffer-channel/.
set -euo pipefail
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/framebuffer-channel"
mkdir -p "$out/corpus" "$out/artifacts"

for file in "$root"/Protocols/vectors/framebuffer/*guest-command-*.hex; do
    sed 's/#.*//' "$file" | tr -d ' \t\r\n' | xxd -r -p > "$out/corpus/$(basename "$file" .hex)"
done

# FramebufferWire imports nothing: its sources and the entry point are one module.
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FramebufferChannelFuzz -package-name HandsetHub \
    "$root"/Sources/FramebufferWire/*.swift "$root/Tools/fuzz/FramebufferChannelFuzz.swift" \
    -o "$out/framebuffer-channel-fuzz"

"$out/framebuffer-channel-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
