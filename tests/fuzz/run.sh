#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,
# undefined) and runs each for a few seconds from its seed corpus: a short
# CI run that catches crashes the unit tests do not reach.
#   tests/fuzz/run.sh BUILD_DIR SOURCE_DIR [SECONDS]
# Exits 77 (skipped) when clang or its fuzzer runtime is missing.
set -euo pipefail
build=$1/fuzz
src=$2
seconds=${3:-20}
command -v clang >/dev/null || { echo "skipped: clang not installed"; exit 77; }
mkdir -p "$build"
if ! clang -fsanitize=fuzzer -x c - -o "$build/probe" >/dev/null 2>&1 <<<'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }'; then
  echo "skipped: clang has no libFuzzer runtime (libclang-rt-14-dev)"
  exit 77
fi
flags=(-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -I"$src/include" -I"$src/src")
# Each target: its name, its sources, its seeds (tests/fuzz/<name>_seeds).
run_target() { # NAME SOURCES...
  local name=$1
  shift
  clang "${flags[@]}" -o "$build/${name}_fuzz" "$src/tests/fuzz/${name}_fuzz.c" "$@"
  local corpus="$build/${name}_corpus"
  mkdir -p "$corpus"
  cp "$src/tests/fuzz/${name}_seeds"/* "$corpus"/
  echo "== ${name}_fuzz for ${seconds}s"
  "$build/${name}_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 | tail -15
}
run_target csv "$src"/src/csv/*.c
run_target http "$src"/src/net/http_parse.c
