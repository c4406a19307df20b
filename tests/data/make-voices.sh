#!/bin/sh
# Regenerates the spoken test recordings tests/data/voice-*.wav, once, by hand: the WAVs are
# committed, and neither the build nor the tests run this (they need no speech synthesizer).
#
# Each recording is one English phrase said by Debian's espeak-ng (voice en-us, default speed),
# which writes 22050 Hz mono; sox converts it to what the Live API takes as input: 16 kHz, s16le,
# mono (rate -v: sox's very-high-quality band-limited resampler; -D: no dither, so the output
# depends on the input only). Made with espeak-ng 1.51+dfsg-10+deb12u2 and
# sox 14.4.2+git20190427-3.5 (Debian 12): apt-get install -y espeak-ng sox
#
# The emulator embeds voice-hello, -lights, -palindrome and -stop (emulator/voices_data.c) and
# recognises their phrases (docs/emulator-script.md, "Spoken input"); voice-unknown is a phrase
# it must NOT recognise. Regenerating with another espeak-ng may change the sound: then rebuild
# the emulator, which fingerprints whatever WAVs it embeds, and rerun the tests.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp /tmp/make-voices.XXXXXX.wav)
trap 'rm -f "$tmp"' EXIT

say() { # NAME PHRASE
  espeak-ng -v en-us -w "$tmp" "$2"
  sox -D "$tmp" -r 16000 -c 1 -b 16 -e signed-integer "voice-$1.wav" rate -v 16000
}

say hello "Hello?"
say lights "Turn on the lights"
say palindrome "What is the largest prime palindrome under 100000"
say stop "Stop, wait a moment"
say unknown "The quick brown fox jumps over the lazy dog"
