#!/usr/bin/env bash
# A short fuzz run of every parser target (SIP datagrams, SIP TCP streams, SDP, RTP/RTCP, digest headers),
# seeded with the end-to-end scenarios. Longer runs: FUZZ_SECONDS=600 scripts/fuzz-smoke.sh.
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 unlocks them on the stable toolchain, and
# --sanitizer none avoids needing a nightly sanitizer runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$PWD/target/fuzz"
mkdir -p fuzz/corpus/sip_message
# Seed the SIP corpus with the sipp scenarios' messages.
for f in tests/sipp/*.xml; do
  awk '/<!\[CDATA\[/{flag=1; buf=""; next} /\]\]>/{flag=0; print buf > "fuzz/corpus/sip_message/" FILENAME_BASE NR; next} flag{sub(/^      /,""); buf=buf $0 "\r\n"}' FILENAME_BASE="$(basename "$f" .xml)-" "$f"
done
# Seed the digest header corpus with the committed examples (RFC 2617 example, SHA-256, stale, odd quoting).
mkdir -p fuzz/corpus/digest
cp fuzz/seeds/digest/* fuzz/corpus/digest/
# Build all targets first, with the compiler's messages in full (the runs below show only their last lines).
(cd fuzz && cargo fuzz build --sanitizer none 2>&1 | grep -v '^ *Compiling ')
for target in sip_message sip_stream sdp rtp_rtcp digest; do
  echo "fuzz: $target for ${seconds}s"
  (cd fuzz && cargo fuzz run --sanitizer none "$target" -- -max_total_time="$seconds" -max_len=8192 2>&1 | tail -3)
done
