#!/usr/bin/env bash
# make demo: the seven seed scenarios through glivectl -> gliveD -> the Live API.
# Without GEMINI_API_KEY the backend is the offline emulator (wss on 127.0.0.1, its own CA);
# with it, the real service. Transcript on stdout, WAV files in demo-out/.
set -euo pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
OUT=${GLIVE_DEMO_OUT:-$PWD/demo-out}
SCALE=${GLIVE_DEMO_TIME_SCALE:-0.2}   # the emulator's scripted waits (scenario 6 waits 10 s x SCALE)
mkdir -p "$OUT"
tmp=$(mktemp -d /tmp/glive-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

sock="$tmp/gliveD.sock"
daemon_args=(--socket "$sock" --log-level warn)
if [ -n "${GEMINI_API_KEY:-}" ]; then
  echo "== backend: the real Gemini Live API (GEMINI_API_KEY is set)"
else
  "$BUILD/glive-emulator" --listen 127.0.0.1:0 --port-file "$tmp/port" --tls-dir "$tmp/tls" \
    --time-scale "$SCALE" --log-level warn 2>"$tmp/emulator.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  port=$(cat "$tmp/port")
  echo "== backend: glive-emulator on wss://127.0.0.1:$port (set GEMINI_API_KEY for the real API)"
  daemon_args+=(--endpoint "wss://127.0.0.1:$port" --ca-file "$tmp/tls/ca.pem")
  export GEMINI_API_KEY=demo-key-for-the-emulator
fi
"$BUILD/gliveD" "${daemon_args[@]}" 2>"$tmp/gliveD.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
unset GEMINI_API_KEY   # glivectl never needs it

ctl() { "$BUILD/glivectl" --socket "$sock" --timeout 120 "$@"; }
lights=(--function turn_on_the_lights --function turn_off_the_lights)
scenario() { printf '\n== Scenario %s: %s\n' "$1" "$2"; }

scenario 1 "Hello? (TEXT)"
ctl ask --session seed1 "Hello?"
scenario 2 "Turn on the lights (functions, TEXT)"
ctl ask --session seed2 "${lights[@]}" "Turn on the lights"
scenario 3 "Turn on the lights (functions, AUDIO -> $OUT/seed3.wav)"
ctl ask --session seed3 "${lights[@]}" --wav "$OUT/seed3.wav" "Turn on the lights"
scenario 4 "Largest prime palindrome under 100000 (code execution, AUDIO -> $OUT/seed4.wav)"
ctl ask --session seed4 --code-execution --wav "$OUT/seed4.wav" \
  "What is the largest prime palindrome under 100000"
scenario 5 "Earthquake search (google_search, TEXT, then AUDIO -> $OUT/seed5.wav)"
q5="What was the largest earthquake in California the week of Dec 5 2024?"
ctl ask --session seed5 --google-search "$q5"
ctl ask --session seed5-audio --google-search --wav "$OUT/seed5.wav" "$q5"
scenario 6 "Compositional: lights on, wait 10 s, lights off (AUDIO -> $OUT/seed6.wav)"
time ctl ask --session seed6 --code-execution "${lights[@]}" --wav "$OUT/seed6.wav" \
  "write and run python code to turn on the lights, wait 10s and then turn off the lights"
scenario 7 "Three tasks (functions + code + search, AUDIO -> $OUT/seed7.wav)"
ctl ask --session seed7 --code-execution --google-search "${lights[@]}" --wav "$OUT/seed7.wav" \
  "Hey, I need you to do three tasks for me.
1. Turn on the lights.
2. Then compute the largest prime palindrome under 100000.
3. Then use Google Search to look up information about the largest earthquake in California the week of Dec 5 2024."
printf '\n== sessions\n'
ctl sessions
printf '\n== done: WAV files in %s\n' "$OUT"
