#!/usr/bin/env bash
# Installs the Debian packages weft needs to build, test and benchmark.
# Idempotent and quiet when everything is already there.
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --peers  also the peers the benchmarks compare with
#                                     (Go, oneTBB, GLib, libuv, Python, libcsv,
#                                     http-parser, pandas, Miller, datamash, nginx, wrk)
set -euo pipefail

# valgrind: its header for stack registration, and the valgrind tests;
# qemu-user and the AArch64 cross compiler: tests/cross/aarch64.sh;
# liburing-dev: the event loop's io_uring backend; clang and its runtime:
# the libFuzzer targets (tests/fuzz/run.sh); curl: tests/e2e/serve.sh;
# nginx-light: the server tests/e2e/fetch.sh fetches 10k URLs from;
# libssl-dev: TLS (weft/tls.h, https in weft fetch); wrk: tests/e2e/serve.sh.
packages=(build-essential cmake pkg-config libtsan2 libasan8 libubsan1 python3
          valgrind qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross liburing-dev
          clang libclang-rt-14-dev curl nginx-light libssl-dev wrk)
if [ "${1:-}" = "--peers" ]; then
  packages+=(golang-go libtbb-dev g++ libglib2.0-dev libuv1-dev python3-uvloop libcsv-dev libhttp-parser-dev
             python3-pandas miller datamash python3-aiohttp)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are missing or a first try fails.
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
