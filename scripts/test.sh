#!/usr/bin/env bash
# Runs the whole test suite: unit and property tests of every crate, then end-to-end tests of the binary
# against real SIP peers (sipp, pjsua2, baresip), then a short fuzz smoke run of the parsers.
# Installs what it needs first (scripts/setup.sh), so it works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# Heavy tests are #[ignore]d in the quick loop (`cargo test`); the full suite runs them too.
cargo test --workspace --all-targets -- --include-ignored
