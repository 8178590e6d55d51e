#!/bin/sh
# Install test driver.
#   run.sh <build dir> <consumer source dir> <cmake> <C compiler> [<sanitizers>]
# Installs <build dir> into a fresh temporary prefix, then configures, builds
# and runs the consumer project against that prefix, once through
# find_package(caio) and once through pkg-config caio, and finally compiles
# the consumer by hand from `pkg-config --cflags --libs caio` alone; the same
# for the coroutine consumer and caio::coro / caio-coro when coro is installed.
set -eu
build=$1 consumer=$2 cmake=$3 cc=$4 sanitize=${5:-}

tmp=$(mktemp -d /tmp/caio-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

flags=""
if [ -n "$sanitize" ]; then
    # a sanitized libcaio needs its runtime in the program too
    flags="-fsanitize=$sanitize"
fi

echo "== cmake --install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/aio/aio.h"

# nothing of the build tree or the source tree may leak into the consumer:
# it only knows the prefix
libdir=$(dirname "$(find "$prefix" -name 'caio.pc' | head -n 1)")/..
export PKG_CONFIG_PATH="$libdir/pkgconfig"

for via in cmake pkgconfig; do
    echo "== consumer through $via"
    "$cmake" -S "$consumer" -B "$tmp/build-$via" -DCAIO_VIA=$via \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
    "$cmake" --build "$tmp/build-$via" >/dev/null
    # the shared library is found through the RPATH CMake records
    "$tmp/build-$via/consumer"
    if [ -x "$tmp/build-$via/consumer_static" ]; then
        "$tmp/build-$via/consumer_static"
    fi
    # with coroutines installed, the coroutine consumer must build and run too
    if [ -f "$prefix/include/coro/coro.h" ]; then
        "$tmp/build-$via/consumer_coro"
    fi
done

echo "== consumer by hand: cc \$(pkg-config --cflags --libs caio)"
# shellcheck disable=SC2046
"$cc" $flags $(pkg-config --cflags caio) "$consumer/main.c" -o "$tmp/consumer-cc" \
    $(pkg-config --libs caio) -Wl,-rpath,"$(pkg-config --variable=libdir caio)"
"$tmp/consumer-cc"
if [ -f "$prefix/include/coro/coro.h" ]; then
    echo "== coroutine consumer by hand: cc \$(pkg-config --cflags --libs caio-coro)"
    # shellcheck disable=SC2046
    "$cc" $flags $(pkg-config --cflags caio-coro) "$consumer/coro_main.c" -o "$tmp/consumer-coro-cc" \
        $(pkg-config --libs caio-coro) -Wl,-rpath,"$(pkg-config --variable=libdir caio-coro)"
    "$tmp/consumer-coro-cc"
fi
echo "== install test passed"
