#!/usr/bin/env bash
# Runs the whole test suite: a short fuzz run of every parser, then unit and property tests of every crate and
# end-to-end tests of the binary against real SIP peers (sipp, pjsua2, baresip).
# Installs what it needs first (scripts/setup.sh), so it works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# setup.sh has installed every peer: a test must not skip itself for want of one (sipp-tls skips only in a
# developer's quick loop without it).
export VOICERA_REQUIRE_PEERS=1
# A one-shot build gains nothing from incremental state, which would roughly double target/'s size.
export CARGO_INCREMENTAL=0
echo "disk before the build: $(df -h --output=avail . | tail -1 | tr -d ' ') free"

# Builds target x86-64-v3 (.cargo/config.toml). On a CPU without it (an old one, or an emulated one such as
# QEMU's default model) every test binary would die with SIGILL: build for the x86-64 baseline there.
if [ "$(uname -m)" = x86_64 ]; then
  cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  for flag in sse4_2 popcnt avx avx2 fma f16c bmi1 bmi2 abm movbe xsave; do
    case "$cpu_flags" in *" $flag "*) ;; *) missing_flags="${missing_flags:-} $flag" ;; esac
  done
  if [ -n "${missing_flags:-}" ]; then
    echo "this CPU lacks${missing_flags}: building for the x86-64 baseline"
    export RUSTFLAGS="-C target-cpu=x86-64"
    export GGML_SSE42=OFF GGML_AVX=OFF GGML_AVX2=OFF GGML_BMI2=OFF GGML_FMA=OFF GGML_F16C=OFF
  fi
fi

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
