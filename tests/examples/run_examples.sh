#!/usr/bin/env bash
# ctest "examples: ...": the example programs of examples/ against a real liaison-relay in list
# mode. Two devices are made with the example's `create` (its card registered with
# `liaison-relay register`), the receiver goes online once to publish its keys, the sender
# sends, and the receiver must print "alice/1: TEXT".
#
#   run_examples.sh MODE RELAY_BIN C_EXAMPLE CPP_EXAMPLE PYTHON PY_EXAMPLE
#
# MODE: c, cpp or python (one language for every step), or mixed (the C program creates the
# sender, Python the receiver, the C++ program sends, Python receives).
# Environment: LIAISON_PYTHON_PRELOAD: a sanitizer runtime to LD_PRELOAD into Python (sanitized
# builds); LIAISON_PYTHON_SKIP: a reason to skip modes that need Python (exit 77, which ctest
# reports as skipped, never as passed).
set -euo pipefail
mode=$1 relay_bin=$2 c_example=$3 cpp_example=$4 python=$5 py_example=$6

if [ "$mode" = python ] || [ "$mode" = mixed ]; then
  if [ -n "${LIAISON_PYTHON_SKIP:-}" ]; then
    echo "SKIPPED: $LIAISON_PYTHON_SKIP"
    exit 77
  fi
fi

work=$(mktemp -d -t liaison-examples-XXXXXX)
relay_pid=""
cleanup() {
  if [ -n "$relay_pid" ]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# py ARGS...: the Python example, through the real interpreter (not a wrapper script such as a
# pyenv shim) so that a preloaded sanitizer runtime applies to it alone. The interpreter's own
# allocations at exit are not the library's: leak detection is off for it.
py() {
  if [ -n "${LIAISON_PYTHON_PRELOAD:-}" ]; then
    LD_PRELOAD=$LIAISON_PYTHON_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
      "$real_python" "$py_example" "$@"
  else
    "$real_python" "$py_example" "$@"
  fi
}
real_python=$("$python" -c 'import sys; print(sys.executable)')

# run LANGUAGE COMMAND ARGS...: one step with the example of LANGUAGE.
run() {
  local language=$1
  shift
  case $language in
    c) "$c_example" "$@" ;;
    cpp) if [ "$1" = receive ]; then "$cpp_example" receive "$2"; else "$cpp_example" "$@"; fi ;;  # it syncs once
    python) py "$@" ;;
  esac
}

case $mode in
  c | cpp | python) create_sender=$mode create_receiver=$mode sender=$mode receiver=$mode ;;
  mixed) create_sender=c create_receiver=python sender=cpp receiver=python ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

"$relay_bin" init "$work/relay" --listen "tcp://127.0.0.1:*" >/dev/null
"$relay_bin" run "$work/relay" 2>>"$work/relay.log" &
relay_pid=$!
for _ in $(seq 400); do [ -s "$work/relay/endpoint" ] && break; sleep 0.05; done
endpoint=$(cat "$work/relay/endpoint")
relay_key=$(cat "$work/relay/relay.pub")

run "$create_sender" create "$work/alice" alice/1 "$endpoint" "$relay_key" >"$work/alice.card"
run "$create_receiver" create "$work/bob" bob/1 "$endpoint" "$relay_key" >"$work/bob.card"
grep -q '^address = "alice/1"' "$work/alice.card"
"$relay_bin" register "$work/relay" "$work/alice.card" >/dev/null
"$relay_bin" register "$work/relay" "$work/bob.card" >/dev/null

run "$receiver" receive "$work/bob" 300 >/dev/null   # online once: publishes bob's keys
text="Hallo aus dem Beispiel ($mode)"
run "$sender" send "$work/alice" bob/1 "$text" | tee "$work/sent"
grep -Eq '^[0-9a-f]{32} stored$' "$work/sent"
run "$receiver" receive "$work/bob" 1500 | tee "$work/received"
if ! grep -qxF "alice/1: $text" "$work/received"; then
  echo "FAILED: the receiver did not print \"alice/1: $text\"" >&2
  cat "$work/relay.log" >&2
  exit 1
fi
echo "examples ($mode): message delivered"
