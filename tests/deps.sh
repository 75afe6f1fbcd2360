#!/bin/sh
# Install (as root, with apt-get) the Debian packages `make check` and
# `make bench` need and do not find. Not root: print the exact apt-get line
# and fail.
set -eu
PKGS="gcc clang make pkg-config libcriterion-dev libjansson-dev libssl-dev valgrind qemu-user g++ libbenchmark-dev libsodium-dev python3 gnuplot-nox libsqlite3-dev sqlite3 softhsm2 libsofthsm2 opensc libp11-kit-dev python3-pykmip openssl"
# clang's sanitizer and libFuzzer runtimes (`make fuzz`, fuzz-smoke and
# check-asan: -fsanitize=fuzzer,address,undefined) are only Recommended by
# clang on Debian 12, which --no-install-recommends below skips.
PKGS="$PKGS libclang-rt-dev"
# Intel ipsec-mb (a benchmark peer) is packaged for amd64 only.
if [ "$(uname -m)" = x86_64 ]; then PKGS="$PKGS libipsec-mb-dev"; fi
# The aarch64 cross toolchain for `make check-aarch64` (run under qemu-user).
if [ "$(uname -m)" != aarch64 ]; then PKGS="$PKGS gcc-aarch64-linux-gnu libc6-dev-arm64-cross"; fi
# node and npm for `make check-confluent` (the real Confluent client, from
# the npm registry), only when missing: a nodejs from elsewhere (NodeSource
# bundles npm) would conflict with Debian's npm package.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "make check needs these Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
