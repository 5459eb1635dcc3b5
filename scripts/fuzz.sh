#!/usr/bin/env bash
# Builds liaison's libFuzzer targets (fuzz/) with clang, ASan and UBSan in build-fuzz/, then runs
# each one for a time budget on a scratch copy of its committed corpus (fuzz/corpus/<target>/ is
# never modified), as many targets side by side as there are cores. Reliability.md T10.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 30; CI uses about 20
#
# Prints the number of executions libFuzzer reports for each target. Exits non-zero if the build
# fails or any target crashes, leaks, runs out of memory (-rss_limit_mb=2048), makes a single
# allocation above 64 MiB (-malloc_limit_mb=64) or times out on one input. The offending input is
# saved under fuzz/crashes/<target>/ (not committed); replay it with
#   build-fuzz/fuzz/<target>-fuzzer fuzz/crashes/<target>/<file>
# or, without sanitizers, with the replay binary of a normal build: build/fuzz/<target>-replay FILE.
# Installs nothing: scripts/setup.sh provides clang and libclang-rt-14-dev.
# Environment: LIAISON_FUZZ_BUILD_DIR builds somewhere other than build-fuzz/; LIAISON_DEBUG_INFO
# as for scripts/build.sh.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]   (a positive integer, default 30)" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LIAISON_FUZZ_BUILD_DIR:-$root/build-fuzz}"
crashes="$root/fuzz/crashes"
targets=(frame body envelope store)
declare -A max_len=([frame]=4096 [body]=4096 [envelope]=4096 [store]=512)
# Stateful programs are worth more long: let libFuzzer use the whole max_len from the start
# (more features per minute than its default slow growth of the length limit).
declare -A extra_flags=([store]="-len_control=0")
# The store target opens a fresh LMDB environment per input, and LMDB allocates and frees about
# 3 MiB per open; ASan's default 256 MiB quarantine makes that twice as slow.
declare -A asan_extra=([store]=":quarantine_size_mb=16")

for tool in clang clang++ cmake; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fuzz: $tool not found; run scripts/setup.sh" >&2
    exit 1
  fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/liaison-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# libFuzzer's runtime ships separately from clang on Debian (libclang-rt-14-dev).
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$work/probe.cc"
if ! clang++ -fsanitize=fuzzer,address,undefined "$work/probe.cc" -o "$work/probe" >"$work/probe.log" 2>&1; then
  cat "$work/probe.log" >&2
  echo "fuzz: clang cannot link a libFuzzer target; install libclang-rt-14-dev (scripts/setup.sh)" >&2
  exit 1
fi

generator=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
echo "fuzz: configuring $build"
cmake -S "$root" -B "$build" "${generator[@]}" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLIAISON_BUILD_FUZZERS=ON -DLIAISON_BUILD_TESTS=OFF -DLIAISON_WERROR=ON \
  -DLIAISON_DEBUG_INFO="${LIAISON_DEBUG_INFO:-full}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
echo "fuzz: building ${targets[*]/%/-fuzzer}"
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]/%/-fuzzer}"

asan_options="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# run_target TARGET: one libFuzzer run on a scratch copy of the target's corpus; its exit code
# goes to $work/TARGET.rc. Each run is single-threaded: up to $(nproc) targets run side by side,
# each for its full budget.
run_target() {
  local target=$1 corpus="$work/corpus-$1" log="$work/$1.log" rc=0
  mkdir -p "$corpus" "$crashes/$target"
  cp -R "$root/fuzz/corpus/$target/." "$corpus/"
  ASAN_OPTIONS="$asan_options${asan_extra[$target]:-}" "$build/fuzz/$target-fuzzer" "$corpus" \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -malloc_limit_mb=64 \
    -max_len="${max_len[$target]}" -timeout=30 -artifact_prefix="$crashes/$target/" ${extra_flags[$target]:-} \
    >"$log" 2>&1 || rc=$?
  echo "$rc" >"$work/$target.rc"
}

jobs_max="$(nproc)"
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs_max" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "fuzz: $target: ${seconds}s, max_len ${max_len[$target]}"
  run_target "$target" &
  running=$((running + 1))
done
wait

failed=()
summary=()
for target in "${targets[@]}"; do
  log="$work/$target.log"
  rc="$(cat "$work/$target.rc" 2>/dev/null || echo "?")"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rmdir "$crashes/$target" 2>/dev/null || true
  if [ "$rc" != 0 ] || [ -z "$execs" ]; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED (exit $rc) after ${execs:-an unknown number of} executions;" \
         "input saved under fuzz/crashes/$target/" >&2
    failed+=("$target")
    summary+=("$(printf '%-10s FAILED after %s executions' "$target" "${execs:-?}")")
  else
    summary+=("$(printf '%-10s %12s executions in %ss, 0 crashes' "$target" "$execs" "$seconds")")
  fi
done
rmdir "$crashes" 2>/dev/null || true

echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
