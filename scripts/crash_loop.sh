#!/usr/bin/env bash
# The full crash loop of docs/reliability (issue 6): 10,000 messages of 1 byte to 64 KiB from two
# senders to two recipients while the relay is killed with SIGKILL 50 times at random moments.
#   scripts/crash_loop.sh [MESSAGES] [KILLS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
./build/tests/liaison_crash_loop build/relay/liaison-relay "$(mktemp -d -t liaison-crash-XXXXXX)" \
  "${1:-10000}" "${2:-50}" ${3:+"$3"}
