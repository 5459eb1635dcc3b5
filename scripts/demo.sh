#!/usr/bin/env bash
# The demo: a relay on loopback with its default configuration, a coordinator who admits an
# officer and an association contact by invitation into a signed roster, a message to the offline
# contact, a relay restart, delivery, a reply, safety numbers, and a revocation.
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

step "2. The coordinator creates its key (sealed under a passphrase) and names it in relay.toml"
# A real coordinator types the passphrase; the demo passes it in the environment.
export LIAISON_ADMIN_PASSPHRASE="demo passphrase, not for real use"
admin=("$cli" admin --admin "$work/admin")
"${admin[@]}" init --relay "$endpoint" --relay-key-file "$work/relay/relay.pub" --relay-config "$work/relay/relay.toml"
kill -TERM "$relay_pid"; wait "$relay_pid" || true
start_relay "$endpoint"

step "3. Invitation, enrollment, approval: each device joins the coordinator-signed roster"
"${admin[@]}" invite --address officer-meyer/1 --out "$work/officer.invitation" >/dev/null
"${admin[@]}" invite --address moschee-dresden/1 --out "$work/mosque.invitation" >/dev/null
"$cli" --state "$work/officer" enroll --invitation "$work/officer.invitation" --out "$work/officer.request" >/dev/null
"$cli" --state "$work/mosque" enroll --invitation "$work/mosque.invitation" --out "$work/mosque.request" >/dev/null
"${admin[@]}" approve "$work/officer.request" --role officer --name "KHK Meyer" --org "PD Dresden" --area city:dresden
"${admin[@]}" approve "$work/mosque.request" --role association_contact --name "Herr Yilmaz" \
  --org "Moscheegemeinde Dresden e.V." --area city:dresden
echo "a second approval with the same invitation is refused:"
"${admin[@]}" approve "$work/mosque.request" --role association_contact || true
"${admin[@]}" roster
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

step "7. Both compare their safety number face to face; the officer records the match"
"$cli" --state "$work/mosque" verify officer-meyer
number=$("$cli" --state "$work/mosque" --json verify officer-meyer | sed 's/.*"safety_number":"\([0-9 ]*\)".*/\1/')
"$cli" --state "$work/officer" verify moschee-dresden --confirm "$number"

step "8. The coordinator revokes the association's device; its next send is refused"
"${admin[@]}" revoke moschee-dresden/1
"$cli" --state "$work/mosque" --timeout-ms 2000 send --to officer-meyer/1 --text "noch da?" || true

step "9. Stop the relay; what it logged (counts, no content, no keys, not who wrote to whom)"
kill -TERM "$relay_pid"; wait "$relay_pid" || true
relay_pid=""
sed 's/^/   /' "$work/relay.log"
step "Done; the temporary directory is removed."
