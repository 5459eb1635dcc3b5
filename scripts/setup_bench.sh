#!/usr/bin/env bash
# Installs the Debian packages that the broker comparison (bench/run.sh) needs on top of
# scripts/setup.sh: Mosquitto and libmosquitto, Redis and hiredis. Safe to run twice.
# Needs root (or sudo). The packaged services are not used: bench/run.sh starts its own
# brokers on loopback with data in a temporary directory.
set -euo pipefail
bash "$(dirname "$0")/setup.sh"
packages=(mosquitto libmosquitto-dev redis-server libhiredis-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_bench: all ${#packages[@]} packages already installed"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "setup_bench: installing ${missing[*]}"
# policy-rc.d 101: do not start the packaged mosquitto/redis services during installation.
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
