# Shared by tools/run-demo.sh and tools/run-tests.sh: installs what a fresh
# Debian 12 machine lacks (as root, with apt), and knows how to build.

# Debian packages the build, the tests and the benchmarks need.
CAIO_PACKAGES="build-essential cmake clang pkg-config python3 liburing-dev libcriterion-dev libboost-context-dev strace valgrind"

caio_ensure_packages() {
    local missing=()
    for p in $CAIO_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "caio: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

caio_jobs() { nproc 2>/dev/null || echo 2; }
