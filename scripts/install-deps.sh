#!/bin/sh
# Installs what building and testing gliveD needs on Debian, when missing.
# As root it runs apt-get; otherwise it prints the exact line to run.
# Usage: scripts/install-deps.sh [--test|--fuzz]
#   --test adds what `make check` needs; --fuzz what `make fuzz` / `make check-fuzz` need.
set -eu
pkgs="build-essential pkg-config libuv1-dev libjansson-dev libssl-dev libwslay-dev libhttp-parser-dev"
# libsoxr: the band-limiting resampler for microphone audio at rates other than 16 kHz
pkgs="$pkgs libsoxr-dev"
# libedit-dev: line editing and history for `glivectl chat` on a terminal (BSD licence, Debian's
# own; linked into glivectl only).
pkgs="$pkgs libedit-dev"
# libasound2-dev: ALSA, the microphone and speaker of `glivectl talk --mic --play` and `--play`
# (linked into glivectl only; the tests build a paced ALSA test PCM with it).
pkgs="$pkgs libasound2-dev"
# Runtime: run_python runs the model's code with python3 inside a bubblewrap sandbox
# (daemon/sandbox.c, bwrap 0.8 or later); without bwrap only `--code-sandbox none` can run code.
pkgs="$pkgs bubblewrap python3"
# scdoc: the man pages (man/*.scd) are written in its format; `make` builds them when it is
# there, `make install` needs them.
pkgs="$pkgs scdoc"
if [ "${1:-}" = "--test" ]; then
  # python3-websockets: the seed notebook's own client; nodejs+npm: the official @google/genai SDK;
  # socat: README one-liners; python3-pip + python3-setuptools: clients/python installs offline
  # (pip install --no-deps --no-build-isolation). (Leak checks use ASan/LSan: make check-asan.)
  pkgs="$pkgs python3-websockets socat python3-pip python3-setuptools"
  # tests/integration/test_install.py: man-db renders the installed man pages (man -l);
  # systemd ships systemd-analyze, which verifies the installed units (no running systemd needed),
  # and systemd itself, which test_systemd_real.py runs as a user manager (unshare, nsenter and
  # setpriv, which it also needs, are util-linux's: always there).
  pkgs="$pkgs man-db systemd"
  # Node.js may come from elsewhere than Debian (this project's machines ship their own):
  # only ask Debian for it when there is none.
  command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
  command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi
if [ "${1:-}" = "--fuzz" ]; then
  # libFuzzer exists only in clang (gcc has no -fsanitize=fuzzer); its runtime and the sanitizer
  # runtimes are in libclang-rt-dev, which clang only recommends. Kept out of --test on purpose:
  # `make check` builds with gcc and the fuzz runs are not part of it (CI time).
  pkgs="$pkgs clang libclang-rt-dev"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing:$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "install-deps: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
  fi
fi
if [ "${1:-}" = "--test" ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  if [ ! -d "$here/tests/sdk/node_modules/@google/genai" ]; then
    echo "install-deps: npm install in tests/sdk (@google/genai)" >&2
    (cd "$here/tests/sdk" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
