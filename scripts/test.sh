#!/usr/bin/env bash
# Runs the whole test suite: a short fuzz run of every parser, then unit and property tests of every crate and
# end-to-end tests of the binary against real SIP peers (sipp, pjsua2, baresip).
# Installs what it needs first (scripts/setup.sh), so it works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# A one-shot build gains nothing from incremental state, which would roughly double target/'s size.
export CARGO_INCREMENTAL=0
echo "disk before the build: $(df -h --output=avail . | tail -1 | tr -d ' ') free"

scripts/fuzz-smoke.sh

# The GPU path of the ONNX engines compiles (candle's CUDA backend needs the CUDA toolkit, absent here).
cargo check -q -p voicera-models-local --features ort-cuda

# Heavy tests are #[ignore]d in the quick loop (`cargo test`); the full suite runs them too.
log="$(mktemp)"
status=0
cargo test --workspace --all-targets --no-fail-fast -- --include-ignored 2>&1 | tee "$log" || status=$?
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
