#!/bin/sh
# Profiles of gliveD (and glivectl) on make bench's two turns, with perf: where the CPU per
# message goes. The tables in bench/PROFILE.md come from this script.
#
#   bench/profile.sh [BUILD_DIR] [OUT_DIR]      (defaults: build, a new temp dir)
#
# Starts the emulator (wss) and gliveD, warms two sessions up, then records gliveD with
# `perf record -p` (DWARF call graphs: the build has no frame pointers) while `glivectl ask`
# receives 300,000 text parts, then 1,000 s of audio (50,000 chunks); then glivectl itself on the
# same turns. (glivectl slowed down by perf falls behind the stream: gliveD then waits for it,
# see bench/PROFILE.md's note; the --max-output 1 GiB is from before that.) Prints `perf report` tables
# (children = the function and what it calls, self = the function alone) and keeps the
# perf.data files in OUT_DIR. Needs perf (linux-perf) and the right to profile (root, or
# kernel.perf_event_paranoid <= 1). Every process it starts is stopped by its pid.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
OUT=${2:-$(mktemp -d /tmp/glive-profile.XXXXXX)}
mkdir -p "$OUT"
cd "$OUT"
TEXT_PARTS=300000
AUDIO_MS=1000000
FREQ=15000
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

rm -f emulator.port
"$BUILD/glive-emulator" --listen 127.0.0.1:0 --port-file emulator.port --tls-dir tls \
  --log-level warn 2>emulator.log &
pids="$pids $!"
while [ ! -s emulator.port ]; do sleep 0.05; done
PORT=$(cat emulator.port)
GEMINI_API_KEY=profile-key "$BUILD/gliveD" --socket "$OUT/g.sock" --endpoint "wss://127.0.0.1:$PORT" \
  --ca-file tls/ca.pem --model gemini-live-2.5-flash-preview --max-output 1073741824 \
  --log-level warn 2>gliveD.log &
GD=$!
pids="$pids $GD"
while [ ! -S "$OUT/g.sock" ]; do sleep 0.05; done
ctl() { "$BUILD/glivectl" --socket "$OUT/g.sock" ask "$@" >/dev/null; }
ctl --session text "emu:stream parts=1000"
ctl --session audio --audio "emu:stream audio_ms=20000"

record_gliveD() { # NAME GLIVECTL-ARGS...
  name=$1; shift
  perf record -q -F $FREQ --call-graph dwarf,16384 -p "$GD" -o "gliveD-$name.data" 2>/dev/null &
  perf_pid=$!
  sleep 1 # perf attached before the turn starts
  ctl "$@"
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
}
record_gliveD text --session text "emu:stream parts=$TEXT_PARTS"
record_gliveD audio --session audio --audio "emu:stream audio_ms=$AUDIO_MS"
perf record -q -F $FREQ --call-graph dwarf,16384 -o glivectl-text.data -- \
  "$BUILD/glivectl" --socket "$OUT/g.sock" ask --session text "emu:stream parts=$TEXT_PARTS" >/dev/null 2>&1
perf record -q -F $FREQ --call-graph dwarf,16384 -o glivectl-audio.data -- \
  "$BUILD/glivectl" --socket "$OUT/g.sock" ask --session audio --audio "emu:stream audio_ms=$AUDIO_MS" >/dev/null 2>&1

for f in gliveD-text gliveD-audio glivectl-text glivectl-audio; do
  echo "=== $f ($(perf report -i $f.data --stdio 2>/dev/null | sed -n 's/^# Samples: \(.*\) of event.*/\1/p') samples)"
  echo "--- by library (self)"
  perf report -i $f.data --no-children --stdio --no-header -g none --sort dso --percent-limit 1 2>/dev/null |
    grep -v '^#' | grep -v '^$'
  echo "--- functions: children, self (library-internal symbols without names left out)"
  perf report -i $f.data --children --stdio --no-header -g none --sort symbol --percent-limit 2 2>/dev/null |
    grep -v '^#' | grep -v '^$' | grep -v '\] 0x' | head -40
done
echo "perf data kept in $OUT"
