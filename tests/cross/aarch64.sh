#!/usr/bin/env bash
# Builds the coroutine layer (and what it stands on) for AArch64 with the
# Debian cross compiler and runs the coroutine tests under qemu-user, so the
# AArch64 context switch is tested on an x86-64 machine.
#   tests/cross/aarch64.sh BUILD_DIR SOURCE_DIR
# Exits 77 (skipped) when the cross compiler or qemu is missing.
set -euo pipefail
build=$1/cross-aarch64
src=$2
cc=aarch64-linux-gnu-gcc
qemu=qemu-aarch64
command -v "$cc" >/dev/null || { echo "skipped: $cc not installed (gcc-aarch64-linux-gnu)"; exit 77; }
command -v "$qemu" >/dev/null || { echo "skipped: $qemu not installed (qemu-user)"; exit 77; }
mkdir -p "$build"
flags=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I"$src/include" -I"$src/src" -I"$src/tests" -pthread)
libsrc=("$src"/src/core/*.c "$src"/src/sync/*.c "$src"/src/coro/*.c "$src"/src/coro/*.S)
for t in "$src"/tests/unit/coro_*_test.c; do
  name=$(basename "$t" .c)
  # Static, so qemu needs no AArch64 sysroot at run time.
  "$cc" "${flags[@]}" -static -o "$build/$name" "$t" "${libsrc[@]}" -lm
  echo "== $name (aarch64, qemu-user)"
  "$qemu" "$build/$name"
done
