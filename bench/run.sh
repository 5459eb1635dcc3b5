#!/usr/bin/env bash
# Issue 7: liaison against Mosquitto and Redis, side by side in one run, plus the probes that
# bound the figures (LMDB durable commits, raw CURVE, the client's per-message crypto). Prints
# one table; docs/performance.md explains it.
#
#   bench/run.sh [--quick] [--profile] [--no-setup]
#     --quick     10x fewer messages (a smoke test; figures not comparable with the full run)
#     --profile   afterwards, liaison's A and B again under `perf record -g` and `perf stat`
#                 (syscalls); reports into the output directory
#     --no-setup  skip scripts/setup_bench.sh (packages already installed)
# Environment: BUILD_DIR (default build-bench), OUT_DIR (default a new directory under /tmp),
# A_ROUNDS (default 5: how many runs of workload A each system gets in all).
#
# Every server (liaison-relay, mosquitto, redis-server) is started by the bench programs on
# 127.0.0.1 (ports checked free), with its data in a temporary directory, and stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 profile=0 setup=1
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --profile) profile=1 ;;
    --no-setup) setup=0 ;;
    *) echo "usage: bench/run.sh [--quick] [--profile] [--no-setup]" >&2; exit 2 ;;
  esac
done
[ "$setup" = 1 ] && bash scripts/setup_bench.sh
build=${BUILD_DIR:-build-bench}
out=${OUT_DIR:-$(mktemp -d /tmp/liaison-bench-run-XXXXXX)}
mkdir -p "$out"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target liaison-relay liaison-bench liaison-bench-mosquitto liaison-bench-redis \
  liaison-bench-lmdb-probe liaison-bench-log-probe liaison-bench-curve-probe liaison-bench-sessions liaison-bench-fsync-noop >"$out/build.log"
b="$build/bench"
if [ "$quick" = 1 ]; then
  sizes=(--messages 10000 --latency-messages 2000 --durability 2000 --idle 200)
else
  sizes=(--messages 100000 --latency-messages 10000 --durability 10000 --idle 1000)
fi
results="$out/results.txt"
: >"$results"
logged() {  # logged NAME COMMAND...: runs it, everything to NAME.log; its RESULT lines to stdout
  local name=$1; shift
  echo "bench: $name ..." >&2
  : >"$out/$name.log"
  "$@" 2>>"$out/$name.log" | tee -a "$out/$name.log" | { grep '^RESULT' || true; }
}
step() {  # step NAME COMMAND...: RESULT lines to results.txt
  logged "$@" >>"$results"
}
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"; uname -srm
  grep -m1 'model name' /proc/cpuinfo || true
  free -h
  df -h /tmp | tail -1
  echo "loadavg at start: $(cat /proc/loadavg)"
  mosquitto -h 2>/dev/null | head -1 || true
  redis-server --version || true
} >"$out/machine.txt" 2>&1
step probe-lmdb "$b/liaison-bench-lmdb-probe" 2 1 22 32 48 64 100 512
# One device write per batch, as a write-ahead log would make (docs/performance.md, next step 1).
step probe-log "$b/liaison-bench-log-probe" 2 1 40 100
step probe-curve "$b/liaison-bench-curve-probe" 200000 100
step sessions "$b/liaison-bench-sessions" 20000
step liaison "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --window 100 --fanout 1000
# The probe again at the batch the relay formed in A (its writes per commit, from its counters).
relay_batch=$(awk '$1 == "RESULT" && $2 == "liaison" && $3 == "A.writes_per_commit" {printf "%d", $4 + 0.5}' "$results")
if [ -n "$relay_batch" ] && [ "$relay_batch" -gt 0 ]; then
  step probe-lmdb-relay-batch "$b/liaison-bench-lmdb-probe" 2 "$relay_batch"
fi
step liaison-w64 "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --window 64 --only A \
  --label liaison-w64
# C again with 101 alerts in turn, so that the later ones go into a store that holds about
# 100,000 dedup records (a relay some weeks into the messages' TTL holds more).
step liaison-c101 "$b/liaison-bench" --relay "$build/relay/liaison-relay" --only C --fanout 1000 --broadcasts 101 \
  --label liaison-c101
# Diagnostic, not a durable figure: A with the relay's syncs taken out (fsync/fdatasync no-ops,
# no O_DSYNC), to show how much of A's send rate the durable commits cost.
noop="$b/libliaison-bench-fsync-noop.so"
[[ "$noop" = /* ]] || noop="$PWD/$noop"
LIAISON_BENCH_RELAY_PRELOAD="$noop" \
  step liaison-nosync "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --window 100 --only A \
  --label liaison-nosync
step mosquitto "$b/liaison-bench-mosquitto" "${sizes[@]}" --window 100
step redis "$b/liaison-bench-redis" "${sizes[@]}" --window 100
# Workload A again in interleaved rounds (liaison, Mosquitto, Redis, liaison, ...): on this
# machine one system's rate moves by a quarter within minutes, so table.py also reports each
# system's median over all its A runs (the runs above and these) and the ratios of the medians.
# Their RESULT lines name the system as SYSTEM@ROUND.
round_step() {  # round_step SYSTEM ROUND COMMAND...
  local system=$1 round=$2; shift 2
  logged "$system-A-$round" "$@" | sed -n "s/^RESULT $system /RESULT $system@$round /p" >>"$results"
}
a_rounds=${A_ROUNDS:-5}
# liaison-log: the relay with its write-ahead log on (store.write_ahead_log; off by default), in
# the same rounds, for the log's effect; its first run is this step.
step liaison-log "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --window 100 --only A \
  --label liaison-log --write-ahead-log
for round in $(seq 2 "$a_rounds"); do
  round_step liaison "$round" "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --window 100 --only A
  round_step liaison-log "$round" "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --window 100 \
    --only A --label liaison-log --write-ahead-log
  round_step mosquitto "$round" "$b/liaison-bench-mosquitto" "${sizes[@]}" --window 100 --only A
  round_step redis "$round" "$b/liaison-bench-redis" "${sizes[@]}" --window 100 --only A
done
echo "loadavg at end: $(cat /proc/loadavg)" >>"$out/machine.txt"
python3 bench/table.py "$results" "$out/machine.txt" | tee "$out/table.txt"
if [ "$profile" = 1 ]; then
  mkdir -p "$out/perf"
  echo "bench: profiling liaison A and B ..." >&2
  LIAISON_BENCH_PERF_DIR="$out/perf" LIAISON_BENCH_SYSCALLS=1 \
    "$b/liaison-bench" --relay "$build/relay/liaison-relay" "${sizes[@]}" --only AB \
    --label liaison-profiled >"$out/perf/results.txt" 2>"$out/perf/bench.log"
  for phase in A-send A-drain B; do
    perf report -i "$out/perf/$phase.data" --no-children --percent-limit 1 --stdio -g none \
      >"$out/perf/$phase.self.txt" 2>/dev/null || true
    perf report -i "$out/perf/$phase.data" --children --percent-limit 3 --stdio -g none \
      >"$out/perf/$phase.children.txt" 2>/dev/null || true
  done
  grep syscalls "$out/perf/results.txt" || true
  echo "profiles: $out/perf" >&2
fi
echo "results and logs: $out" >&2
