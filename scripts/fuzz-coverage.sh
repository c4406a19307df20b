#!/bin/sh
# Line coverage of the fuzzed sources by each target's committed corpus (fuzz/README.md's
# figures). Builds the targets once more with clang's source-based coverage instead of the
# sanitizers (into BUILD, default build-fuzz-cov/), replays fuzz/corpus/NAME/ (-runs=0: no
# fuzzing) and prints llvm-cov's summary of the files each target is about.
#   scripts/fuzz-coverage.sh [BUILD]
set -eu
build=${1:-build-fuzz-cov}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
make --no-print-directory BUILD="$build" CC=clang OPT="-O1 -g" \
    SAN="-fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link" fuzz-bins >/dev/null
for t in "$build"/fuzz/fuzz_*; do
    name=${t##*/fuzz_}
    case $name in # the sources a target is about
        line) files="proto/line.c" ;;
        live) files="proto/live.c" ;;
        http) files="transport/http.c transport/url.c" ;;
        ws) files="transport/ws.c" ;;
        strict) files="emulator/strict.c" ;;
        config) files="daemon/config.c" ;;
        view) files="client/lib/glive.c client/lib/b64.c" ;;
        *) files="" ;;
    esac
    rm -f "$build/$name".profraw
    LLVM_PROFILE_FILE="$build/$name.profraw" "$t" -runs=0 "fuzz/corpus/$name" >/dev/null 2>&1
    llvm-profdata merge -sparse -o "$build/$name.profdata" "$build/$name.profraw"
    echo "== fuzz_$name ($(ls "fuzz/corpus/$name" | wc -l) inputs)"
    # shellcheck disable=SC2086
    llvm-cov report "$t" -instr-profile="$build/$name.profdata" $files | sed -n '3,$p'
done
