#!/usr/bin/env bash
# The demo: a relay on loopback with its default configuration, an officer and an association
# contact, a message to the offline contact, a relay restart, delivery, and a reply.
# Installs what is needed and builds first. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
bin=$PWD/build
relay_bin=$bin/relay/liaison-relay
cli=$bin/tools/liaison

work=$(mktemp -d -t liaison-demo-XXXXXX)
relay_pid=""
cleanup() {
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

start_relay() {
  rm -f "$work/relay/endpoint"
  "$relay_bin" run "$work/relay" --listen "${1}" 2>>"$work/relay.log" &
  relay_pid=$!
  for _ in $(seq 100); do [ -s "$work/relay/endpoint" ] && break; sleep 0.05; done
  endpoint=$(cat "$work/relay/endpoint")
  echo "relay (pid $relay_pid) listening on $endpoint"
}

step "1. Create a relay data directory with the default configuration and fresh CURVE keys"
"$relay_bin" init "$work/relay"
echo "(the demo binds a free loopback port instead of the default 7400)"
start_relay "tcp://127.0.0.1:*"

step "2. Create two devices and register them with the relay (the coordinator's job)"
"$cli" --state "$work/officer" init --address officer-meyer/1 --relay "$endpoint" \
  --relay-key-file "$work/relay/relay.pub" --card "$work/officer.card"
"$cli" --state "$work/mosque" init --address moschee-dresden/1 --relay "$endpoint" \
  --relay-key-file "$work/relay/relay.pub" --card "$work/mosque.card"
"$relay_bin" register "$work/relay" "$work/officer.card"
"$relay_bin" register "$work/relay" "$work/mosque.card"
echo "the association contact goes online once to publish its keys, then goes offline:"
"$cli" --state "$work/mosque" sync

step "3. The officer writes to the association contact, who is offline"
"$cli" --state "$work/officer" send --to moschee-dresden/1 \
  --text "Guten Tag, bitte rufen Sie uns wegen der Veranstaltung am Freitag an."

step "4. Restart the relay (the message is on its disk, fsync'd before it was acknowledged)"
kill -TERM "$relay_pid"; wait "$relay_pid" || true
start_relay "$endpoint"
"$relay_bin" status "$work/relay" | sed 's/^/   /'

step "5. The association contact comes online, syncs and reads"
"$cli" --state "$work/mosque" sync
"$cli" --state "$work/mosque" inbox

step "6. The contact replies; the officer syncs and reads"
"$cli" --state "$work/mosque" send --to officer-meyer/1 --text "Wir rufen heute um 15 Uhr an."
"$cli" --state "$work/officer" sync
"$cli" --state "$work/officer" inbox

step "7. Stop the relay; what it logged (counts, no content, no keys, not who wrote to whom)"
kill -TERM "$relay_pid"; wait "$relay_pid" || true
relay_pid=""
sed 's/^/   /' "$work/relay.log"
step "Done; the temporary directory is removed."
