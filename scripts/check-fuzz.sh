#!/bin/sh
# Runs every fuzz target of BUILD/fuzz/ for SECONDS each, two at a time, and fails if any of them
# finds a crash (ASan, UBSan, a broken contract, a leak, a timeout or running out of memory).
#   scripts/check-fuzz.sh BUILD SECONDS      (make check-fuzz: build-fuzz 60)
# Each run starts from the committed corpus fuzz/corpus/NAME/ (read only) and writes what it
# finds to BUILD/corpus/NAME/; a crashing input is saved as BUILD/artifacts/NAME/crash-* (or
# leak-*, timeout-*, oom-*), and its log is BUILD/logs/NAME.log. Two at a time: the project's
# machines have two cores.
set -eu
build=${1:?usage: check-fuzz.sh BUILD SECONDS}
secs=${2:?usage: check-fuzz.sh BUILD SECONDS}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

targets=$(ls "$build"/fuzz/fuzz_* 2>/dev/null | sed 's|.*/fuzz_||')
[ -n "$targets" ] || { echo "check-fuzz: no targets in $build/fuzz (run make fuzz)" >&2; exit 1; }
mkdir -p "$build/logs"

# One target: its exit status is libFuzzer's (0 clean, non-zero on any finding).
run() {
    name=$1
    mkdir -p "$build/corpus/$name" "$build/artifacts/$name"
    # -timeout: one input may take 10 s (the slowest targets need milliseconds);
    # -rss_limit_mb: more than 2 GiB is a leak or an unbounded buffer, i.e. a bug.
    "$build/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$name/" \
        "$build/corpus/$name" "fuzz/corpus/$name" >"$build/logs/$name.log" 2>&1
}

failed=0
set -- $targets
while [ $# -gt 0 ]; do
    a=$1; shift
    b=""
    if [ $# -gt 0 ]; then b=$1; shift; fi
    run "$a" & pa=$!
    pb=""
    if [ -n "$b" ]; then run "$b" & pb=$!; fi
    for pair in "$a:$pa" "$b:$pb"; do
        name=${pair%%:*} pid=${pair#*:}
        [ -n "$name" ] || continue
        if wait "$pid"; then
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/logs/$name.log")
            echo "PASS fuzz/$name: ${runs:-?} runs in ${secs}s"
        else
            failed=$((failed + 1))
            echo "FAIL fuzz/$name: see $build/logs/$name.log and $build/artifacts/$name/"
            grep -E "ERROR:|runtime error|contract broken|SUMMARY" "$build/logs/$name.log" | head -5
        fi
    done
done
[ "$failed" -eq 0 ] || { echo "check-fuzz: $failed target(s) failed"; exit 1; }
echo "check-fuzz: all targets clean"
