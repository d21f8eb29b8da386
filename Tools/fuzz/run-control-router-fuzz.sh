#!/usr/bin/env bash
# Fuzzes the control router with libFuzzer for a bounded time: inputs are sent by a control client of a real
# in-process Hub (the reference handset), through the session, the JSON-RPC decoder and every method handler.
#   Tools/fuzz/run-control-router-fuzz.sh [SECONDS]   (default 30)
# Seeds the corpus with the control vectors and every request line of Protocols/control.md's examples.
# The hub's modules are built once, instrumented, in their own scratch directory (the first run takes a while).
# Crashes land in .build/fuzz/control-router/.
set -euo pipefail
# A crash is libFuzzer's to report and save as an artifact: the Swift runtime's backtracer, under ASan, hung instead.
export SWIFT_BACKTRACE=enable=no
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build/fuzz/control-router"
scratch="$root/.build/fuzz/router-build"
mkdir -p "$out/corpus" "$out/artifacts" "$scratch"
find "$root/Protocols/vectors/control" -type f -exec cp {} "$out/corpus/" \;
n=0
grep -h '^--> ' "$root/Protocols/control.md" | sed 's/^--> //' | while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" > "$out/corpus/example-$n"
done
# A path under /tmp in an input (the capture example's /tmp/handsethub-example.pcap, and what libFuzzer mutated
# from it into the kept corpus) is made relative, so the file it names lands in $out, not in /tmp.
{ grep -rlZ --binary-files=text '"/tmp/' "$out/corpus" || true; } | xargs -0 -r perl -pi -e 's#"/tmp/#"#g'

# Reuse the package checkouts of the normal build (no network), then build the hub's modules with coverage.
for item in checkouts repositories workspace-state.json; do
    if [ -e "$root/.build/$item" ] && [ ! -e "$scratch/$item" ]; then cp -a "$root/.build/$item" "$scratch/"; fi
done
swift build --package-path "$root" --scratch-path "$scratch" --target HubServerTesting -Xswiftc -sanitize=fuzzer

debug="$scratch/debug"
objects=()
for dir in "$debug"/*.build; do
    case "$(basename "$dir")" in
        *Tests.build | TestSupport.build | hubd.build | hubctl.build | hubbench.build | *-tool.build) continue ;;
    esac
    # A Swift target's objects are the ones its output file map lists: objects of sources since moved to another
    # module stay behind in the scratch directory and would be linked twice.
    if [ -f "$dir/output-file-map.json" ]; then
        while IFS= read -r object; do objects+=("$object"); done < <(python3 -c '
import json, os, sys
for entry in json.load(open(sys.argv[1])).values():
    if entry.get("object") and os.path.exists(entry["object"]):
        print(entry["object"])' "$dir/output-file-map.json")
        continue
    fi
    while IFS= read -r -d '' object; do objects+=("$object"); done < <(find "$dir" -name '*.o' -print0)
done
# The C modules the hub's Swift modules import, as the package build declares them: every system library's map
# (Sources/C*/module.modulemap, so a new one is not missed), CHubSystem's and swift-crypto's.
clang_flags=()
for map in "$root"/Sources/C*/module.modulemap "$root"/Sources/CHubSystem/include/module.modulemap \
    "$scratch"/checkouts/swift-crypto/Sources/CCryptoBoringSSL/include/module.modulemap \
    "$scratch"/checkouts/swift-crypto/Sources/CCryptoBoringSSLShims/include/module.modulemap; do
    clang_flags+=(-Xcc "-fmodule-map-file=$map" -I "$(dirname "$map")")
done
# The hub's modules declare most of their API with `package` access: the entry point joins the package SwiftPM
# compiled them in, whose name is the package's identity (its directory's name), read from the build plan.
package_name="$(python3 -c '
import re, sys
match = re.search(r"\"-module-name\",\"HubServer\".*?\"-package-name\",\"([^\"]+)\"", open(sys.argv[1]).read())
print(match.group(1))' "$scratch/debug.yaml")"
swiftc -sanitize=fuzzer -parse-as-library -g -module-name ControlRouterFuzz -package-name "$package_name" -I "$debug/Modules" "${clang_flags[@]}" \
    "$root/Tools/fuzz/ControlRouterFuzz.swift" "${objects[@]}" $(pkg-config --libs libuv zlib libturbojpeg yaml-0.1 libisal) -lstdc++ \
    -o "$out/control-router-fuzz"

# The hub's Unix sockets go in a directory of this run's, removed when the run ends (after a crash too).
sockets="$(mktemp -d "${TMPDIR:-/tmp}/control-router-fuzz.XXXXXX")"
trap 'rm -rf "$sockets"' EXIT
cd "$out"  # anything a fuzzed request writes by relative path lands here
HANDSETHUB_FUZZ_SOCKETS="$sockets" \
    "$out/control-router-fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus"
