#!/usr/bin/env bash
# `weft etl summarize` and `weft etl transform` side by side with the tools
# a data engineer would otherwise use, on the same files.
# Summarize: the same summary from every tool (rows; count, sum,
# mean, min, max and standard deviation of order_id, amount and
# customer_id; the number of distinct customer_id):
#   pandas (python3-pandas: read_csv + agg + nunique, the seeds' approach),
#   Miller (mlr stats1; its distinct_count applies to all three columns),
#   GNU datamash (one pass over the rows, headers stripped for many files).
# Transform: the seeds' exercise 3 on orders (amount doubled, a column
# processed=true added, one output per input): pandas (read_csv, two column
# assignments, to_csv) and Miller (mlr put).
# Workloads: one 1 GB orders file, and 1000 small orders files (100 KB).
# Prints wall seconds and peak RSS of each, and weft's speedup over each.
#
#   bench/etl_bench.sh [WEFT_BINARY] [DATA_DIR]
# ETL_BENCH=summarize or ETL_BENCH=transform runs only that half.
# The data is generated once (weft etl gen, seeded) and kept in DATA_DIR
# (default /tmp/weft-etl-bench). Peers that are not installed are skipped:
# scripts/install-deps.sh --peers installs them.
set -euo pipefail
weft=${1:-./build/release/weft}
dir=${2:-/tmp/weft-etl-bench}
py=/usr/bin/python3 # Debian's: python3-pandas is installed for it
mkdir -p "$dir"
if [ ! -s "$dir/big/orders_0.csv" ]; then
  echo "generating 1 GB in $dir/big ..." >&2
  "$weft" etl gen --files 1 --size 1G -o "$dir/big" 2>/dev/null
fi
if [ ! -s "$dir/small/orders_999.csv" ]; then
  echo "generating 1000 files in $dir/small ..." >&2
  "$weft" etl gen --files 1000 --size 100k -o "$dir/small" 2>/dev/null
fi

# run CMD...: one timed run; prints "seconds rss_kb", or "- 0" if it failed.
times=$(mktemp)
trap 'rm -f "$times"' EXIT
run() {
  if /usr/bin/time -f "%e %M" -o "$times" "$@" >/dev/null 2>&1; then
    cat "$times"
  else
    echo "- 0"
  fi
}

pandas_script='
import sys, pandas as pd
frames = [pd.read_csv(f) for f in sys.argv[1:]]
df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
cols = ["order_id", "amount", "customer_id"]
s = df[cols].agg(["count", "sum", "mean", "min", "max", "std"])
print(len(df), s.to_dict(), df["customer_id"].nunique())
'
datamash_args=(-t, count 1 sum 1 mean 1 min 1 max 1 sstdev 1 sum 2 mean 2 min 2 max 2 sstdev 2
               sum 3 mean 3 min 3 max 3 sstdev 3 countunique 3)

ratio() { awk -v a="$1" -v b="$wt" 'BEGIN { if (a == "-" || b == 0) print "-"; else printf "%.1fx\n", a / b }'; }

for workload in big small; do
  [ "${ETL_BENCH:-all}" = transform ] && break
  files=("$dir/$workload"/orders_*.csv)
  bytes=$(cat "${files[@]}" | wc -c)
  echo "== $workload: ${#files[@]} file(s), $((bytes / 1000000)) MB"
  printf "%-10s %10s %12s %10s\n" tool seconds "peak RSS" "weft is"
  read -r wt wm < <(run "$weft" etl summarize --no-progress --distinct customer_id "${files[@]}")
  printf "%-10s %10s %10s MB %10s\n" weft "$wt" "$((wm / 1024))" "-"
  # One core: the per-core speed (target: 1 GB/s).
  read -r t1 m1 < <(run "$weft" etl summarize --no-progress --jobs 1 --distinct customer_id "${files[@]}")
  printf "%-10s %10s %10s MB %10s\n" "weft -j1" "$t1" "$((m1 / 1024))" \
    "$(awk -v b="$bytes" -v t="$t1" 'BEGIN { if (t > 0) printf "%.2f GB/s", b / t / 1e9 }')"
  if "$py" -c 'import pandas' 2>/dev/null; then
    read -r t m < <(run "$py" -c "$pandas_script" "${files[@]}")
    printf "%-10s %10s %10s MB %10s\n" pandas "$t" "$((m / 1024))" "$(ratio "$t")"
  fi
  if command -v mlr >/dev/null; then
    read -r t m < <(run mlr --icsv --ojson stats1 -a count,sum,mean,min,max,stddev,distinct_count \
                      -f order_id,amount,customer_id "${files[@]}")
    printf "%-10s %10s %10s MB %10s\n" mlr "$t" "$((m / 1024))" "$(ratio "$t")"
  fi
  if command -v datamash >/dev/null; then
    read -r t m < <(run sh -c 'tail -q -n +2 "$@" | datamash '"${datamash_args[*]}" sh "${files[@]}")
    printf "%-10s %10s %10s MB %10s\n" datamash "$t" "$((m / 1024))" "$(ratio "$t")"
  fi
done

pandas_transform='
import os, sys, pandas as pd
out = sys.argv[1]
for f in sys.argv[2:]:
    df = pd.read_csv(f)
    df["amount"] = df["amount"] * 2
    df["processed"] = True
    df.to_csv(os.path.join(out, os.path.basename(f)), index=False)
'
mlr_transform() { # OUT FILES...
  local out=$1
  shift
  for f in "$@"; do
    mlr --csv put '$amount = $amount * 2; $processed = "true"' "$f" > "$out/$(basename "$f")" || return 1
  done
}
export -f mlr_transform

for workload in big small; do
  [ "${ETL_BENCH:-all}" = summarize ] && break
  files=("$dir/$workload"/orders_*.csv)
  echo "== transform, $workload: ${#files[@]} file(s)"
  printf "%-10s %10s %12s %10s\n" tool seconds "peak RSS" "weft is"
  out="$dir/out-$workload"
  rm -rf "$out" && mkdir -p "$out"
  read -r wt wm < <(run "$weft" etl transform --no-progress --set 'amount=amount*2' --set processed=true -o "$out" "${files[@]}")
  printf "%-10s %10s %10s MB %10s\n" weft "$wt" "$((wm / 1024))" "-"
  if "$py" -c 'import pandas' 2>/dev/null; then
    rm -rf "$out" && mkdir -p "$out"
    read -r t m < <(run "$py" -c "$pandas_transform" "$out" "${files[@]}")
    printf "%-10s %10s %10s MB %10s\n" pandas "$t" "$((m / 1024))" "$(ratio "$t")"
  fi
  if command -v mlr >/dev/null; then
    rm -rf "$out" && mkdir -p "$out"
    read -r t m < <(run bash -c 'mlr_transform "$@"' bash "$out" "${files[@]}")
    printf "%-10s %10s %10s MB %10s\n" mlr "$t" "$((m / 1024))" "$(ratio "$t")"
  fi
  rm -rf "$out"
done
