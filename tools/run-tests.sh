#!/usr/bin/env bash
# Builds caio and runs every test: gcc and clang with -Werror, then the whole
# suite under ASan+UBSan, then the threaded tests under TSan. Installs missing
# Debian packages. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib/common.sh
caio_ensure_packages
jobs=$(caio_jobs)
passed=0
failed=0

# run_suite <name> <ctest args> -- <cmake args>
run_suite() {
    local name=$1; shift
    local ctest_args=()
    while [ "$1" != "--" ]; do ctest_args+=("$1"); shift; done
    shift
    local dir=build/ci-$name
    echo "=== $name: configure and build"
    cmake -S . -B "$dir" -DCAIO_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" 2>&1 | grep -E "warning|error" || true
    cmake --build "$dir" -j"$jobs" >/dev/null
    echo "=== $name: test"
    local log=$dir/ctest.log
    set +e
    (cd "$dir" && ctest --output-on-failure -j"$jobs" "${ctest_args[@]}") 2>&1 | tee "$log"
    set -e
    local line
    line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -n 1)
    if [ -z "$line" ]; then echo "=== $name: ctest did not finish"; failed=$((failed + 1)); return; fi
    local total f
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - f))
    failed=$((failed + f))
}

run_suite gcc -- -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite clang -- -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite asan -- -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DCAIO_SANITIZE=address,undefined -DCAIO_BUILD_BENCH=OFF
# TSan: the tests that run threads carry the "threads" label.
if grep -rqs "LABELS.*threads" tests; then
    run_suite tsan -L threads -- -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
        -DCAIO_SANITIZE=thread -DCAIO_BUILD_BENCH=OFF
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
