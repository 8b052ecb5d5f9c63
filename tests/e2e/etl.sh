#!/usr/bin/env bash
# End-to-end tests of `weft etl` (gen, summarize, transform): results
# against Python's csv module, chunked runs against one-chunk runs (quoted
# line breaks across the cuts included, and a cut guessed wrong), both
# backends, every --on-error mode with the line numbers
# and reasons of bad records, the output formats, group-by, and the errors
# of bad command lines.
#   tests/e2e/etl.sh WEFT_BINARY
set -euo pipefail
weft=$1
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
dir=$(mktemp -d /tmp/weft-etl-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "-- gen is seeded and writes every file"
"$weft" etl gen --files 3 --rows 500 -o "$dir/orders" 2>/dev/null
"$weft" etl gen --files 3 --rows 500 -o "$dir/again" 2>/dev/null
cmp -s "$dir/orders/orders_2.csv" "$dir/again/orders_2.csv" || fail "gen is not deterministic"
[ "$(head -1 "$dir/orders/orders_0.csv")" = "order_id,amount,customer_id,date" ] || fail "orders header"
[ "$(wc -l < "$dir/orders/orders_1.csv")" = 501 ] || fail "500 rows and a header"

echo "-- summarize agrees with Python's csv module"
"$weft" etl summarize --json --distinct customer_id "$dir"/orders/*.csv > "$dir/s.json"
python3 - "$dir" <<'EOF'
import csv, glob, json, math, sys
d = sys.argv[1]
rows = []
for f in sorted(glob.glob(d + "/orders/*.csv")):
    rows += list(csv.DictReader(open(f, newline="")))
amounts = [float(r["amount"]) for r in rows]
got = json.load(open(d + "/s.json"))
t = got["total"]
assert t["rows"] == len(rows) == 1500, t["rows"]
a = t["columns"]["amount"]
assert abs(a["sum"] - math.fsum(amounts)) < 1e-6, (a["sum"], math.fsum(amounts))
mean = math.fsum(amounts) / len(amounts)
std = math.sqrt(math.fsum((x - mean) ** 2 for x in amounts) / (len(amounts) - 1))
assert abs(a["mean"] - mean) < 1e-9 and abs(a["std"] - std) < 1e-9, (a, mean, std)
assert a["min"] == min(amounts) and a["max"] == max(amounts)
assert t["distinct"]["customer_id"] == len({r["customer_id"] for r in rows})
assert "date" not in t["columns"]  # text
assert got["rows_in"] == got["rows_out"] + got["rejected"] == 1500
assert len(got["files"]) == 3 and all(f["rows"] == 500 for f in got["files"])
EOF

echo "-- numbers of every form: decimals at changing scales, exponents, large and missing values"
python3 - "$dir/numbers.csv" <<'EOF'
import random, sys
random.seed(11)
decimals = [lambda: str(random.randint(-999, 999)),
            lambda: "%.2f" % random.uniform(-1000, 1000),
            lambda: "%.5f" % random.uniform(-10, 10),
            lambda: "-.5", lambda: "7.", lambda: "+3"]
others = [lambda: "%de%d" % (random.randint(1, 9), random.randint(-3, 3)),
          lambda: str(random.randint(10**12, 10**15)), lambda: ""]
with open(sys.argv[1], "w") as f:
    f.write("g,x,y\n")
    for i in range(30000):
        # Runs of one form, so that chunks and groups start at every scale
        # and change scale in the middle.
        if i % 50 == 0:
            fx = random.choice(decimals)
            fy = random.choice(decimals + others)
        f.write("%s,%s,%s\n" % ("ab"[i % 2], fx(), fy()))
EOF
"$weft" etl summarize --json --chunk 4k --group-by g "$dir/numbers.csv" > "$dir/n-many.json"
"$weft" etl summarize --json --chunk 4k --backend processes "$dir/numbers.csv" > "$dir/n-procs.json"
python3 - "$dir" <<'EOF'
import csv, json, math, sys
from fractions import Fraction
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/numbers.csv", newline="")))
def check(what, got, col, keep):
    vals = [Fraction(r[col]) for r in rows if r[col] != "" and keep(r)]
    n = len(vals)
    s = sum(vals, Fraction(0))
    mean = s / n
    std = math.sqrt(sum(((v - mean) ** 2 for v in vals), Fraction(0)) / (n - 1))
    # Decimals are added exactly: x's figures are the exact ones, rounded.
    rel = 1e-15 if col == "x" else 1e-12
    close = lambda a, b: abs(a - b) <= rel * abs(b)
    assert got["count"] == n and close(got["sum"], float(s)) and close(got["mean"], float(mean)), (what, col, got, float(s), float(mean))
    assert close(got["std"], std) and got["min"] == float(min(vals)) and got["max"] == float(max(vals)), (what, col, got, std)
for name in ("n-many", "n-procs"):
    got = json.load(open(d + "/%s.json" % name))
    for col in "xy":
        check(name, got["total"]["columns"][col], col, lambda r: True)
got = json.load(open(d + "/n-many.json"))
assert sorted(got["groups"]) == ["a", "b"]
for key, g in got["groups"].items():
    for col in "xy":
        check("group " + key, g["columns"][col], col, lambda r: r["g"] == key)
EOF

echo "-- chunks give what one chunk gives, quoted line breaks across cuts included"
python3 - "$dir/quoted.csv" <<'EOF'
import csv, random, sys
random.seed(7)
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "note", "value"])
    for i in range(20000):
        note = random.choice(['plain', 'a, comma', 'two\nlines', 'say ""hi""', 'cr\r\nlf', ''])
        w.writerow([i, note, round(random.uniform(-5, 5), 3)])
EOF
"$weft" etl summarize --json --chunk 4k --distinct note "$dir/quoted.csv" > "$dir/many.json"
"$weft" etl summarize --json --chunk 1G --distinct note "$dir/quoted.csv" > "$dir/one.json"
python3 - "$dir" <<'EOF'
import json, sys
d = sys.argv[1]
a = json.load(open(d + "/many.json"))["total"]
b = json.load(open(d + "/one.json"))["total"]
assert a["rows"] == b["rows"] == 20000, (a["rows"], b["rows"])
assert a["distinct"] == b["distinct"] and a["rejected"] == b["rejected"] == 0
for col in b["columns"]:
    for k, v in b["columns"][col].items():
        assert abs(a["columns"][col][k] - v) <= 1e-9 * max(1, abs(v)), (col, k, a["columns"][col][k], v)
EOF

echo "-- the processes backend gives what the threads give"
"$weft" etl summarize --json --backend processes --chunk 4k --distinct note "$dir/quoted.csv" > "$dir/procs.json"
python3 - "$dir" <<'EOF2'
import json, sys
d = sys.argv[1]
a = json.load(open(d + "/procs.json")); b = json.load(open(d + "/many.json"))
for k in ("seconds",):
    a.pop(k); b.pop(k)
assert a == b, (a["total"], b["total"])
EOF2

echo "-- bad records: fail, skip, quarantine"
printf 'id,amount,name\n1,10.5,ok\n2,abc,text in a number\n3,7\n4,"1"x,after quote\n5,2.5,fine\n6,1,"open' > "$dir/bad.csv"
if "$weft" etl summarize "$dir/bad.csv" > "$dir/out.txt" 2> "$dir/err.txt"; then
  fail "fail mode succeeded on bad input"
fi
grep -q "bad.csv:3: text in numeric column 'amount'" "$dir/err.txt" || fail "fail mode message: $(cat "$dir/err.txt")"
"$weft" etl summarize --json --on-error skip "$dir/bad.csv" > "$dir/skip.json"
"$weft" etl summarize --json --backend processes --on-error skip "$dir/bad.csv" > "$dir/skip-procs.json"
[ "$(json "$dir/skip-procs.json" "d['rows_out'], d['rejected']")" = "(2, 4)" ] || fail "processes skip counts"
[ "$(json "$dir/skip.json" "d['rows_out'], d['rejected'], d['rows_in']")" = "(2, 4, 6)" ] || fail "skip counts: $(cat "$dir/skip.json")"
[ "$(json "$dir/skip.json" "float(d['total']['columns']['amount']['sum'])")" = "13.0" ] || fail "skip sum"
"$weft" etl summarize --on-error "quarantine=$dir/q.csv" "$dir/bad.csv" > "$dir/q.txt"
grep -q "rows in 6 = rows out 2 + rejected 4" "$dir/q.txt" || fail "quarantine report: $(cat "$dir/q.txt")"
printf '2,abc,text in a number\n3,7\n4,"1"x,after quote\n6,1,"open\n' | cmp -s - "$dir/q.csv" || fail "quarantine file: $(cat "$dir/q.csv")"

echo "-- group-by, CSV output, another delimiter"
"$weft" etl gen --kind data --files 2 --rows 300 -o "$dir/data" 2>/dev/null
"$weft" etl summarize --json --group-by category "$dir"/data/*.csv > "$dir/g.json"
[ "$(json "$dir/g.json" "sorted(d['groups'])")" = "['A', 'B', 'C']" ] || fail "groups"
[ "$(json "$dir/g.json" "sum(g['rows'] for g in d['groups'].values())")" = 600 ] || fail "group rows"
"$weft" etl summarize --csv "$dir"/data/*.csv > "$dir/c.csv"
head -1 "$dir/c.csv" | grep -q '^scope,rows,rejected,id_count' || fail "csv header: $(head -1 "$dir/c.csv")"
[ "$(wc -l < "$dir/c.csv")" = 4 ] || fail "csv: a row per file and the total"
tr ',' ';' < "$dir/data/data_0.csv" > "$dir/semi.csv"
"$weft" etl summarize --json --delimiter ';' "$dir/semi.csv" > "$dir/semi.json"
[ "$(json "$dir/semi.json" "d['total']['rows']")" = 300 ] || fail "delimiter"

echo "-- transform: the seeds' exercise 3, filters, selection"
"$weft" etl transform --no-progress --set 'value=value*2' --set processed=true -o "$dir/t1" "$dir"/data/*.csv > "$dir/t1.txt"
python3 - "$dir" <<'EOF2'
import csv, sys
d = sys.argv[1]
for i in range(2):
    a = list(csv.DictReader(open(f"{d}/data/data_{i}.csv", newline="")))
    b = list(csv.DictReader(open(f"{d}/t1/data_{i}.csv", newline="")))
    assert len(a) == len(b) == 300
    assert list(b[0].keys()) == ["id", "value", "category", "processed"], list(b[0].keys())
    for x, y in zip(a, b):
        assert float(y["value"]) == float(x["value"]) * 2 and y["processed"] == "true"
        assert x["id"] == y["id"] and x["category"] == y["category"]
EOF2
"$weft" etl transform --no-progress --json --filter 'value > 0.5' --filter "category!='C'" --select category,id,double \
  --set 'double = (value + 1) * 2' -o "$dir/t2" "$dir/data/data_0.csv" > "$dir/t2.json"
python3 - "$dir" <<'EOF2'
import csv, json, sys
d = sys.argv[1]
a = list(csv.DictReader(open(f"{d}/data/data_0.csv", newline="")))
want = [r for r in a if float(r["value"]) > 0.5 and r["category"] != "C"]
b = list(csv.reader(open(f"{d}/t2/data_0.csv", newline="")))
assert b[0] == ["category", "id", "double"], b[0]
assert [r[1] for r in b[1:]] == [r["id"] for r in want]
for r, w in zip(b[1:], want):
    assert abs(float(r[2]) - (float(w["value"]) + 1) * 2) < 1e-12
rep = json.load(open(f"{d}/t2.json"))
assert rep["rows_in"] == 300 and rep["rows_out"] == len(want)
assert rep["rows_in"] == rep["rows_out"] + rep["filtered"] + rep["rejected"]
EOF2

echo "-- transform: chunks write what one chunk writes; quoted fields survive"
"$weft" etl transform --no-progress --chunk 4k --set 'value=value+1' -o "$dir/tq1" "$dir/quoted.csv" > /dev/null
"$weft" etl transform --no-progress --chunk 1G --set 'value=value+1' -o "$dir/tq2" "$dir/quoted.csv" > /dev/null
cmp -s "$dir/tq1/quoted.csv" "$dir/tq2/quoted.csv" || fail "chunked transform differs"
"$weft" etl transform --no-progress --backend processes --chunk 4k --set 'value=value+1' -o "$dir/tq3" "$dir/quoted.csv" > /dev/null
cmp -s "$dir/tq1/quoted.csv" "$dir/tq3/quoted.csv" || fail "the processes backend writes otherwise"
python3 - "$dir" <<'EOF2'
import csv, sys
d = sys.argv[1]
a = list(csv.reader(open(f"{d}/quoted.csv", newline="")))
b = list(csv.reader(open(f"{d}/tq1/quoted.csv", newline="")))
assert len(a) == len(b) == 20001
for x, y in zip(a[1:], b[1:]):
    assert x[0] == y[0] and x[1] == y[1] and abs(float(y[2]) - float(x[2]) - 1) < 1e-9, (x, y)
EOF2

echo "-- a quote inside an unquoted field breaks the cuts' guess: the file is read again whole"
python3 - "$dir/stray.csv" <<'EOF2'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,name,amount\n")
    for i in range(20000):
        if i % 997 == 5:
            f.write(f'{i},ab"c,{i}\n')  # read as text: a quote that opens nothing
        elif i % 13 == 0:
            f.write(f'{i},"x\ny, ""q""",{i}\n')
        else:
            f.write(f"{i},n{i},{i}\n")
EOF2
for backend in threads processes; do
  "$weft" etl summarize --json --backend $backend --chunk 4k "$dir/stray.csv" > "$dir/st-$backend.json"
  [ "$(json "$dir/st-$backend.json" "d['rows_out'], d['rejected'], d['total']['columns']['amount']['sum']")" = "(20000, 0, 199990000)" ] \
    || fail "summarize --backend $backend after a wrong cut: $(cat "$dir/st-$backend.json")"
  "$weft" etl transform --no-progress --json --backend $backend --chunk 4k --set 'a=amount*2' -o "$dir/sc-$backend" "$dir/stray.csv" > "$dir/sc-$backend.json"
  [ "$(json "$dir/sc-$backend.json" "d['rows_in'], d['rows_out'], d['rejected']")" = "(20000, 20000, 0)" ] \
    || fail "transform --backend $backend after a wrong cut: $(cat "$dir/sc-$backend.json")"
  [ -z "$(ls -A "$dir/sc-$backend" | grep -v '^stray.csv$')" ] || fail "transform left parts: $(ls -A "$dir/sc-$backend")"
done
"$weft" etl transform --no-progress --chunk 1G --set 'a=amount*2' -o "$dir/sc-whole" "$dir/stray.csv" > /dev/null
cmp -s "$dir/sc-threads/stray.csv" "$dir/sc-whole/stray.csv" || fail "transform after a wrong cut differs"
cmp -s "$dir/sc-processes/stray.csv" "$dir/sc-whole/stray.csv" || fail "transform (processes) after a wrong cut differs"

echo "-- transform: a failure leaves no output; bad records skipped or quarantined"
mkdir -p "$dir/t3"
if "$weft" etl transform --no-progress --set 'amount=amount*2' -o "$dir/t3" "$dir/orders/orders_0.csv" "$dir/bad.csv" 2> "$dir/e3"; then
  fail "transform succeeded on bad input"
fi
grep -q "bad.csv:3: --set amount: text where arithmetic needs a number" "$dir/e3" || fail "transform fail message: $(cat "$dir/e3")"
[ -z "$(ls -A "$dir/t3")" ] || fail "a failed transform left files: $(ls -A "$dir/t3")"
"$weft" etl transform --no-progress --json --on-error "quarantine=$dir/tq.csv" --set 'amount=amount*2' -o "$dir/t4" "$dir/bad.csv" > "$dir/t4.json"
"$weft" etl transform --no-progress --json --backend processes --on-error skip --set 'amount=amount*2' -o "$dir/t6" "$dir/bad.csv" > "$dir/t6.json"
[ "$(json "$dir/t6.json" "d['rows_in'], d['rows_out'], d['rejected']")" = "(6, 2, 4)" ] || fail "transform processes counts"
cmp -s "$dir/t4/bad.csv" "$dir/t6/bad.csv" || fail "transform processes output"
[ "$(json "$dir/t4.json" "d['rows_in'], d['rows_out'], d['rejected']")" = "(6, 2, 4)" ] || fail "transform quarantine counts"
[ "$(cat "$dir/t4/bad.csv")" = "$(printf 'id,amount,name\n1,21,ok\n5,5,fine')" ] || fail "transform output: $(cat "$dir/t4/bad.csv")"
[ "$(wc -l < "$dir/tq.csv")" = 4 ] || fail "transform quarantine file"
if "$weft" etl transform --set x=1 -o "$dir/data" "$dir/data/data_0.csv" 2>/dev/null; then
  fail "transform wrote over its input"
fi
set +e
"$weft" etl transform --set 'x=nope+1' -o "$dir/t5" "$dir/data/data_0.csv" 2>"$dir/e5"; [ $? = 2 ] || fail "unknown column in --set: exit 2"
"$weft" etl transform --set 'x=(1' -o "$dir/t5" "$dir/data/data_0.csv" 2>/dev/null; [ $? = 2 ] || fail "malformed --set: exit 2"
"$weft" etl transform --filter 'value' -o "$dir/t5" "$dir/data/data_0.csv" 2>/dev/null; [ $? = 2 ] || fail "malformed --filter: exit 2"
"$weft" etl transform "$dir/data/data_0.csv" 2>/dev/null; [ $? = 2 ] || fail "no -o: exit 2"
set -e

echo "-- bad command lines"
set +e
"$weft" etl summarize --bogus x "$dir/semi.csv" 2>/dev/null; [ $? = 2 ] || fail "unknown option: exit 2"
"$weft" etl summarize --backend gpu "$dir/semi.csv" 2>/dev/null; [ $? = 2 ] || fail "unknown backend: exit 2"
"$weft" etl summarize "$dir/missing.csv" 2>"$dir/e1"; [ $? = 1 ] || fail "missing file: exit 1"
grep -q "missing.csv" "$dir/e1" || fail "missing file named"
"$weft" etl summarize --distinct nope "$dir/semi.csv" 2>"$dir/e2"; [ $? = 2 ] || fail "missing column: exit 2"
grep -q "no column 'nope'" "$dir/e2" || fail "missing column named"
"$weft" etl summarize --on-error maybe "$dir/semi.csv" 2>/dev/null; [ $? = 2 ] || fail "bad mode"
set -e
echo "all passed"
