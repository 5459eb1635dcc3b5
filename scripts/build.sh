#!/usr/bin/env bash
# Configures and builds liaison into a build directory.
#   scripts/build.sh [BUILD_DIR]      (default: build)
# Environment: LIAISON_SANITIZE=address,undefined builds with sanitizers; CC/CXX pick the compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${LIAISON_BUILD_TYPE:-RelWithDebInfo}" \
  -DLIAISON_WERROR=ON -DLIAISON_SANITIZE="${LIAISON_SANITIZE:-}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
