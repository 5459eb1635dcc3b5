#!/usr/bin/env bash
# Builds (RelWithDebInfo, no sanitizers) and runs the benchmarks, printing their figures.
# Not part of CI: figures depend on the machine and on what else it runs.
#   scripts/bench.sh [MESSAGES]     (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
LIAISON_SANITIZE= bash scripts/build.sh build
./build/bench/liaison-bench-sessions "${1:-20000}"
./build/bench/liaison-bench-alerts 1000 10
