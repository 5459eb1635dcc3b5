#!/usr/bin/env bash
# The full crash loop of docs/reliability (issue 6): 10,000 messages of 1 byte to 64 KiB from two
# senders to two recipients while the relay is killed with SIGKILL 50 times at random moments.
# With --power-loss every second kill is a power cut: the store is rebuilt after it as the disk
# could hold it (tests/reliability/power_loss_shim.cc). With --write-ahead-log the relay runs with
# store.write_ahead_log = true.
#   scripts/crash_loop.sh [--write-ahead-log] [--power-loss] [MESSAGES] [KILLS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
log=()
if [[ "${1:-}" == "--write-ahead-log" ]]; then
  log=(--write-ahead-log)
  shift
fi
power_loss=()
if [[ "${1:-}" == "--power-loss" ]]; then
  power_loss=(--power-loss "$PWD/build/tests/libliaison_power_loss_shim.so")
  shift
fi
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
./build/tests/liaison_crash_loop "${log[@]}" "${power_loss[@]}" build/relay/liaison-relay "$(mktemp -d -t liaison-crash-XXXXXX)" \
  "${1:-10000}" "${2:-50}" ${3:+"$3"}
