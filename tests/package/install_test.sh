#!/usr/bin/env bash
# ctest "package: install, find_package and pkg-config": installs the build into a temporary
# prefix, checks what is there (and that no internal or C++ header is), then builds and runs
# external consumers against it: a CMake project with find_package(liaison) (and a request for
# a newer major version, which must fail), the examples/ directory as a standalone project, and
# a program compiled with `pkg-config --cflags --libs liaison` alone.
#
#   install_test.sh BUILD_DIR SOURCE_DIR LIBDIR VERSION CC CXX SANITIZE
#
# LIBDIR is CMAKE_INSTALL_LIBDIR; SANITIZE the build's LIAISON_SANITIZE: a sanitized library
# needs sanitized programs, so the consumers are compiled with the same -fsanitize flags.
set -euo pipefail
build_dir=$1 source_dir=$2 libdir=$3 version=$4 cc=$5 cxx=$6 sanitize=${7:-}
major=${version%%.*}

work=$(mktemp -d -t liaison-package-XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
flags=""
[ -n "$sanitize" ] && flags="-fsanitize=$sanitize -fno-omit-frame-pointer"

fail() { echo "FAILED: $*" >&2; exit 1; }

echo "== cmake --install into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log"
for f in "$libdir/libliaison.so.$version" "$libdir/libliaison.so.$major" "$libdir/libliaison.so" \
         include/liaison/liaison.h include/liaison/version.h \
         "$libdir/cmake/liaison/liaisonConfig.cmake" "$libdir/cmake/liaison/liaisonConfigVersion.cmake" \
         "$libdir/cmake/liaison/liaisonTargets.cmake" "$libdir/pkgconfig/liaison.pc"; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$prefix/$libdir/libliaison.so.$major")" = "libliaison.so.$version" ] || fail "SONAME link"
soname=$(objdump -p "$prefix/$libdir/libliaison.so.$version" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libliaison.so.$major" ] || fail "SONAME is $soname"
headers=$(cd "$prefix/include" && find . -type f | sort | tr '\n' ' ')
[ "$headers" = "./liaison/liaison.h ./liaison/version.h " ] || fail "installed headers: $headers"
grep -q "#define LIAISON_VERSION_STRING \"$version\"" "$prefix/include/liaison/version.h" || fail "version.h"

echo "== find_package(liaison) from an external CMake project"
cmake -S "$source_dir/tests/package/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$work/cmake.log"
cmake --build "$work/cmake" >>"$work/cmake.log"
[ "$("$work/cmake/consumer")" = "$version" ] || fail "the CMake consumer printed something else"
echo "consumer (find_package) prints $version"
if cmake -S "$source_dir/tests/package/consumer" -B "$work/cmake-newer" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_C_COMPILER="$cc" -DLIAISON_REQUIRED_VERSION=$((major + 1)).0 >"$work/newer.log" 2>&1; then
  fail "find_package(liaison $((major + 1)).0) accepted version $version"
fi
echo "find_package(liaison $((major + 1)).0) refuses $version, as it must"

echo "== examples/ as a standalone project against the package"
cmake -S "$source_dir/examples" -B "$work/examples" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$work/examples.log"
cmake --build "$work/examples" -j 2 >>"$work/examples.log"
# Without arguments it prints the library's version and its usage, and exits 2.
if "$work/examples/send_receive_c" 2>"$work/usage" >/dev/null; then fail "send_receive_c without arguments succeeded"; fi
grep -q "liaison $version (built against $version)" "$work/usage" || fail "examples: $(cat "$work/usage")"
echo "examples built against the package"

echo "== pkg-config"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
[ "$(pkg-config --modversion liaison)" = "$version" ] || fail "pkg-config --modversion"
[ "$(cd "$(pkg-config --variable=prefix liaison)" && pwd -P)" = "$(cd "$prefix" && pwd -P)" ] \
  || fail "liaison.pc does not locate its prefix: $(pkg-config --variable=prefix liaison)"
# shellcheck disable=SC2046  # word splitting of the flags is intended
"$cc" $flags -o "$work/consumer-pc" "$source_dir/tests/package/consumer/consumer.c" \
  $(pkg-config --cflags --libs liaison) -Wl,-rpath,"$(pkg-config --variable=libdir liaison)"
[ "$("$work/consumer-pc")" = "$version" ] || fail "the pkg-config consumer printed something else"
echo "consumer (pkg-config) prints $version"
pkg-config --print-requires-private liaison | grep -q libsodium || fail "Requires.private"
echo "package: all checks passed"
