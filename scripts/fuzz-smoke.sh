#!/usr/bin/env bash
# A short fuzz run of every parser target that takes strangers' bytes: SIP datagrams, SIP TCP streams, SDP,
# RTP/RTCP, digest headers, provider media-stream frames, provider webhook forms and signatures, the SSE parser
# with the model providers' decoders, live STT and Cartesia TTS provider frames, and WebRTC offers; seeded with
# the end-to-end scenarios and the committed corpora in fuzz/seeds/. Each target runs FUZZ_SECONDS (10 s by default, so the ten
# targets take the CI time the first five did). Longer runs: FUZZ_SECONDS=600 scripts/fuzz-smoke.sh; one target:
# FUZZ_TARGETS=sse_events scripts/fuzz-smoke.sh.
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 unlocks them on the stable toolchain, and
# --sanitizer none avoids needing a nightly sanitizer runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-10}"
targets="${FUZZ_TARGETS:-sip_message sip_stream sdp rtp_rtcp digest stream_frames webhook_form sse_events model_frames webrtc_offer}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target/fuzz}"
mkdir -p fuzz/corpus/sip_message
# Seed the SIP corpus with the sipp scenarios' messages.
for f in tests/sipp/*.xml; do
  awk '/<!\[CDATA\[/{flag=1; buf=""; next} /\]\]>/{flag=0; print buf > "fuzz/corpus/sip_message/" FILENAME_BASE NR; next} flag{sub(/^      /,""); buf=buf $0 "\r\n"}' FILENAME_BASE="$(basename "$f" .xml)-" "$f"
done
# The committed seeds: digest headers (RFC 2617 example, SHA-256, stale, odd quoting), provider stream frames
# and webhooks (from shared/reference/telephony-streams.md and the providers' documented examples), SSE bodies
# of each model provider, live STT and Cartesia TTS messages, a browser's WebRTC offer.
for dir in fuzz/seeds/*/; do
  name="$(basename "$dir")"
  mkdir -p "fuzz/corpus/$name"
  cp "$dir"* "fuzz/corpus/$name/"
done
# Build all targets first, with the compiler's messages in full (the runs below show only their last lines).
# --dev: an unoptimised build of the ~270 crates the targets reach (telephony, the model clients) takes a
# fraction of the release build's time on a 2-core CI machine, and a 10-second smoke run needs coverage
# feedback and debug assertions, not speed. Long runs: FUZZ_PROFILE=--release.
profile="${FUZZ_PROFILE:---dev}"
(cd fuzz && cargo fuzz build "$profile" --sanitizer none 2>&1 | grep -v '^ *Compiling ')
for target in $targets; do
  echo "fuzz: $target for ${seconds}s"
  (cd fuzz && cargo fuzz run "$profile" --sanitizer none "$target" -- -max_total_time="$seconds" -max_len=8192 2>&1 | tail -3)
done
