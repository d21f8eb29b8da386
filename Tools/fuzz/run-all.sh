#!/usr/bin/env bash
# Runs every libFuzzer entry point for a bounded time (the test suite calls this), one after another.
#   Tools/fuzz/run-all.sh [SECONDS_EACH]   (default 15)
# Exits non-zero when any fuzzer finds a crash or fails to build; its artifacts are in .build/fuzz/NAME/.
set -uo pipefail
seconds="${1:-15}"
here="$(cd "$(dirname "$0")" && pwd)"
failed=()
for runner in "$here"/run-*-fuzz.sh; do
    name="$(basename "$runner" .sh)"
    log="$(mktemp)"
    if "$runner" "$seconds" >"$log" 2>&1; then
        echo "fuzz: $name: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1)" >&2
    else
        echo "fuzz: $name FAILED; the end of its output:" >&2
        tail -40 "$log" >&2
        failed+=("$name")
    fi
    rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
