#!/usr/bin/env bash
# Fuzzes the framebuffer guest channel's command decoder (FramebufferWire) with libFuzzer.
#   Tools/fuzz/run-framebuffer-channel-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the channel vectors in Protocols/vectors/framebuffer/channel.vectors (commands, valid and malformed, and events).
# Crashes land in .build/fuzz/framebuffer-channel/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/framebuffer-channel"
mkdir -p "$out/corpus" "$out/artifacts"

PYTHONPATH="$root/Tools/python" python3 -m handsethub.vectors seeds \
    "$root/Protocols/vectors/framebuffer/channel.vectors" "$out/corpus"

# FramebufferWire imports nothing: its sources and the entry point are one module.
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FramebufferChannelFuzz -package-name HandsetHub \
    "$root"/Sources/FramebufferWire/*.swift "$root/Tools/fuzz/FramebufferChannelFuzz.swift" \
    -o "$out/framebuffer-channel-fuzz"

"$out/framebuffer-channel-fuzz" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 "$out/corpus"
