#!/usr/bin/env bash
# Configures and builds liaison into a build directory.
#   scripts/build.sh [BUILD_DIR]      (default: build)
# Environment: LIAISON_SANITIZE=address,undefined builds with sanitizers; CC/CXX pick the compiler;
# LIAISON_DEBUG_INFO=lines builds with line tables only (-g1, faster; CI sets it), default full.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${LIAISON_BUILD_TYPE:-RelWithDebInfo}" \
  -DLIAISON_WERROR=ON -DLIAISON_SANITIZE="${LIAISON_SANITIZE:-}" -DLIAISON_DEBUG_INFO="${LIAISON_DEBUG_INFO:-full}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
