#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite through ctest.
#   scripts/test.sh [BUILD_DIR]       (default: build)
# Environment: LIAISON_SANITIZE=address,undefined runs the suite under sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
bash scripts/setup.sh
bash scripts/build.sh "$build_dir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build_dir" -j "$(nproc)" --output-on-failure --timeout 600
