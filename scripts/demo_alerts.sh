#!/usr/bin/env bash
# The alerts demo: a relay on loopback in roster mode; an officer, a police desk with two
# officers' devices, five associations in Dresden and the deputy of one of them. The officer
# sends an urgent alert that asks for acknowledgement to the five associations: three read and
# acknowledge it, two stay offline; the escalation rules (shortened to seconds for the demo)
# remind the two, then notify the deputy and mark both for a phone call. An association reports
# a threat letter to the desk, an officer at the desk acknowledges it with an answer, and both
# check the relay's signed submission receipts.
# Installs what is needed and builds first. Cleans up after itself.
#   LIAISON_BUILD_DIR=DIR   build and run from DIR instead of build/ (development)
#   LIAISON_SKIP_BUILD=1    use the binaries in the build directory as they are (development)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${LIAISON_BUILD_DIR:-build}
if [ "${LIAISON_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/setup.sh
  bash scripts/build.sh "$build_dir" >/dev/null
fi
bin=$(cd "$build_dir" && pwd)
relay_bin=$bin/relay/liaison-relay
cli=$bin/tools/liaison

work=$(mktemp -d -t liaison-alerts-demo-XXXXXX)
relay_pid=""
cleanup() {
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# `dev NAME ARGS...`: the liaison command line on the device NAME's state directory.
dev() {
  local name=$1
  shift
  "$cli" --state "$work/$name" "$@"
}
# The "id" field of a JSON object on stdin.
json_id() { sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'; }

start_relay() {
  rm -f "$work/relay/endpoint"
  "$relay_bin" run "$work/relay" --listen "${1}" 2>>"$work/relay.log" &
  relay_pid=$!
  for _ in $(seq 100); do [ -s "$work/relay/endpoint" ] && break; sleep 0.05; done
  endpoint=$(cat "$work/relay/endpoint")
  echo "relay (pid $relay_pid) listening on $endpoint"
}

step "1. A relay on a free loopback port, in roster mode under a fresh coordinator key"
"$relay_bin" init "$work/relay" >/dev/null
start_relay "tcp://127.0.0.1:*"
export LIAISON_ADMIN_PASSPHRASE="demo passphrase, not for real use"
admin=("$cli" admin --admin "$work/admin")
"${admin[@]}" init --relay "$endpoint" --relay-key-file "$work/relay/relay.pub" \
  --relay-config "$work/relay/relay.toml" --light-kdf >/dev/null
kill -TERM "$relay_pid"; wait "$relay_pid" || true
start_relay "$endpoint"
echo "the relay signs submission receipts with the key in relay.sign.pub: $(cat "$work/relay/relay.sign.pub")"

step "2. The coordinator admits an officer, a desk with two officers' devices, five associations and a deputy"
# admit NAME ADDRESS APPROVE-OPTIONS...: invitation, enrollment on the device, approval.
admit() {
  local name=$1 address=$2
  shift 2
  "${admin[@]}" invite --address "$address" --out "$work/$name.invitation" >/dev/null
  dev "$name" enroll --invitation "$work/$name.invitation" --out "$work/$name.request" >/dev/null
  "${admin[@]}" approve "$work/$name.request" "$@" >/dev/null
  echo "admitted $address"
}
admit officer officer-meyer/1 --role officer --name "KHK Meyer" --org "PD Dresden" --area city:dresden
admit desk1 desk-dresden/1 --role desk --name "Kontaktstelle PD Dresden" --org "PD Dresden" --area city:dresden \
  --holder "KHK Weber"
admit desk2 desk-dresden/2 --holder "POK Schmidt"   # a second device of the desk: its member exists
admit moschee moschee-dresden/1 --role association_contact --name "Herr Yilmaz" \
  --org "Moscheegemeinde Dresden e.V." --area city:dresden
admit kultur kulturverein-dresden/1 --role association_contact --name "Frau Nguyen" \
  --org "Vietnamesischer Kulturverein Dresden e.V." --area city:dresden
admit synagoge synagoge-dresden/1 --role association_contact --name "Frau Cohen" \
  --org "Juedische Gemeinde zu Dresden" --area city:dresden
admit afrikahaus afrikahaus-dresden/1 --role association_contact --name "Herr Mensah" \
  --org "Afrikahaus Dresden e.V." --area city:dresden
admit ezidi ezidi-dresden/1 --role association_contact --name "Herr Murad" \
  --org "Ezidischer Verein Dresden e.V." --area city:dresden
admit deputy afrikahaus-vertretung/1 --role deputy --name "Frau Owusu" \
  --org "Afrikahaus Dresden e.V." --area city:dresden
"${admin[@]}" roster
echo "every device goes online once to publish its keys; Afrikahaus and the Ezidi association then stay offline:"
for name in officer desk1 desk2 moschee kultur synagoge afrikahaus ezidi deputy; do dev "$name" sync >/dev/null; done

step "3. The officer alerts the five associations: urgent, acknowledgement required"
echo "(escalation shortened for the demo: remind after 2 s, deputies after 4 s; the defaults are 15 and 60 minutes)"
alert_json=$(dev officer --json alert --to 'area:city:dresden role:association_contact' --severity urgent \
  --ack-required --remind-after 2s --deputy-after 4s --title "Hinweis auf Drohlage" \
  --body "Bitte heute keine Veranstaltungen ohne Ruecksprache. Rueckfragen: 0351 483-0.")
alert_sent_at=$(date +%s)
echo "$alert_json"
alert_id=$(json_id <<<"$alert_json")

step "4. Three associations sync, read (the inbox sends the read receipt) and acknowledge"
dev moschee sync
dev moschee inbox
dev moschee ack "$alert_id" --answer "Verstanden"
for name in kultur synagoge; do
  dev "$name" sync >/dev/null
  dev "$name" inbox >/dev/null
  dev "$name" ack "$alert_id"
done

step "5. The officer syncs: the receipts arrive; three acknowledged, two pending"
dev officer sync
dev officer alert status "$alert_id"

step "6. Past the deputy interval the officer syncs again: Afrikahaus and the Ezidi association are marked CALL"
sleep $((alert_sent_at + 5 - $(date +%s) > 0 ? alert_sent_at + 5 - $(date +%s) : 0))
dev officer sync
dev officer alert status "$alert_id"
echo "Afrikahaus's deputy syncs, sees the alert and acknowledges; the officer's list:"
dev deputy sync >/dev/null
dev deputy inbox
dev deputy ack "$alert_id" --answer "Ich erreiche Herrn Mensah telefonisch."
dev officer sync >/dev/null
dev officer alert list

step "7. An association reports a threat letter to the desk"
report_json=$(dev moschee --json report --to desk-dresden --category threat-letter --place "Gemeindehaus, Hauptstrasse 1" \
  --when "heute, 08:15" --text "Drohbrief im Briefkasten gefunden, Original liegt bei uns.")
echo "$report_json"
report_id=$(json_id <<<"$report_json")

step "8. KHK Weber at the desk syncs, reads the report and acknowledges it with an answer"
dev desk1 sync
dev desk1 inbox
dev desk1 ack "$report_id" --answer "Wir kommen um 11 Uhr vorbei, bitte den Brief nicht weiter anfassen."

step "9. The association syncs and sees who at the desk acknowledged, and the answer"
dev moschee sync
dev moschee report status "$report_id"

step "10. The relay's signed submission receipts verify against relay.sign.pub"
dev officer verify-receipt "$alert_id" --relay-key-file "$work/relay/relay.sign.pub"
dev moschee verify-receipt "$report_id" --relay-key-file "$work/relay/relay.sign.pub"
echo "against another key (exit code 1):"
dev moschee verify-receipt "$report_id" --relay-key "$(printf '%064d' 0 | tr 0 a)" || echo "exit code $?"

step "11. Stop the relay; what it logged (counts, no content, no keys, not who wrote to whom)"
kill -TERM "$relay_pid"; wait "$relay_pid" || true
relay_pid=""
sed 's/^/   /' "$work/relay.log"
step "Done; the temporary directory is removed."
