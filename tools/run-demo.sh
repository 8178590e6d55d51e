#!/usr/bin/env bash
# Builds caio and runs the flagship demo. Installs missing Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib/common.sh
caio_ensure_packages
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DCAIO_BUILD_TESTS=OFF -DCAIO_BUILD_BENCH=OFF >/dev/null
cmake --build build/demo -j"$(caio_jobs)" >/dev/null
if [ -x build/demo/examples/coro_demo ]; then
    exec build/demo/examples/coro_demo
fi
build/demo/examples/aio_immediate
exec build/demo/examples/aio_dynamic
