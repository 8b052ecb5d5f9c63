#!/usr/bin/env bash
# End-to-end test of `weft compare --quick`: it finishes, its table has
# every row with a time for every model that applies, a best model and a
# reason; the JSON form agrees; --with-python adds the seeds' Python
# timings; bad options are refused.
#   tests/e2e/compare.sh WEFT_BINARY
set -euo pipefail
weft=$1
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
dir=$(mktemp -d /tmp/weft-compare-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "-- the table"
"$weft" compare --quick --no-progress > "$dir/table.txt" 2> "$dir/err.txt" || fail "exit $?: $(cat "$dir/err.txt")"
for r in io http cpu mixed files; do
  grep -q "^$r " "$dir/table.txt" || fail "no row $r: $(cat "$dir/table.txt")"
  grep -q "^  $r " "$dir/table.txt" || fail "no reason for $r"
done
# The CPU row states the fact about C whichever model won this run.
grep -q "no GIL" "$dir/table.txt" || fail "the CPU row does not say why threads compute in parallel"

echo "-- JSON"
"$weft" compare --quick --json --no-progress > "$dir/c.json" 2>/dev/null || fail "--json exit $?"
python3 - "$dir/c.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["quick"] is True and d["cpus"] >= 1
rows = {r["name"]: r for r in d["rows"]}
assert list(rows) == ["io", "http", "cpu", "mixed", "files"], list(rows)
for name, r in rows.items():
    s = r["seconds"]
    for m in ("sequential", "threads", "processes", "coroutines"):
        if name == "files" and m == "coroutines":
            assert s[m] is None, r
        else:
            assert isinstance(s[m], float) and s[m] > 0, (name, m, s)
    assert r["best"] in s and s[r["best"]] == min(v for v in s.values() if v is not None), r
    assert r["why"].startswith(r["best"]), r
# Waiting overlaps (a property of the models, not a speed: the calls are
# sleeps, so this holds on a loaded machine and under the sanitizers).
io = rows["io"]["seconds"]
assert io["coroutines"] < io["sequential"] / 2, io
PY

echo "-- --with-python: the seeds' Python side by side"
"$weft" compare --quick --json --no-progress --with-python > "$dir/p.json" 2>/dev/null || fail "--with-python exit $?"
python3 - "$dir/p.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
py = d["python"]
for row in ("io", "http", "cpu"):
    for m in ("sequential", "threads", "processes"):
        assert isinstance(py[row][m], float) and py[row][m] > 0, (row, m, py[row])
assert py["mixed"]["sequential"] is None and py["files"]["sequential"] is None, py
PY

echo "-- bad options"
"$weft" compare --bogus 2>/dev/null && fail "--bogus accepted"
echo "all passed"
