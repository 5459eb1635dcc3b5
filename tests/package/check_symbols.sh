#!/usr/bin/env bash
# ctest "package: exported symbols": the dynamic symbols libliaison.so defines are exactly the
# list in exported_symbols.txt (name@@version node, C++ names demangled if there ever were any),
# and that list is exactly the functions liaison.h declares with LIAISON_API.
#
#   check_symbols.sh LIBRARY EXPECTED_LIST HEADER
set -euo pipefail
library=$1 expected=$2 header=$3
work=$(mktemp -d -t liaison-symbols-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Every defined dynamic symbol but the version node's own (type A, "LIAISON_0").
nm -D -C --defined-only --format=posix "$library" | awk '$2 != "A" {print $1}' | sort >"$work/actual"
grep -v '^#' "$expected" | sed '/^$/d' | sort >"$work/expected"
if ! diff -u "$work/expected" "$work/actual"; then
  echo "FAILED: libliaison.so exports other symbols than $expected lists (- expected, + exported)" >&2
  exit 1
fi
grep -oE 'LIAISON_API[^(]*\b(liaison_[a-z0-9_]+)\(' "$header" | sed -E 's/.*\b(liaison_[a-z0-9_]+)\($/\1/' | sort >"$work/declared"
sed 's/@.*//' "$work/expected" | sort >"$work/listed"
if ! diff -u "$work/listed" "$work/declared"; then
  echo "FAILED: the LIAISON_API functions of liaison.h differ from $expected (- listed, + declared)" >&2
  exit 1
fi
echo "libliaison.so exports exactly the $(wc -l <"$work/actual") functions of liaison.h"
