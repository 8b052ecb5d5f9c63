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
clang "${flags[@]}" -o "$build/csv_fuzz" "$src/tests/fuzz/csv_fuzz.c" "$src"/src/csv/*.c
corpus="$build/csv_corpus"
mkdir -p "$corpus"
cp "$src"/tests/fuzz/csv_seeds/* "$corpus"/
echo "== csv_fuzz for ${seconds}s"
"$build/csv_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 | tail -15
