#!/usr/bin/env bash
# End-to-end tests of `weft pipeline` against `weft broker`: each queue
# policy (block: nothing dropped; drop-oldest and conflate: the counts add
# up), each mode (threads, coroutines, mixed), a broker that drops
# connections (reconnects and resends; every order filled or failed), a
# broker that stalls (orders fail at their deadline), a replayed CSV of
# ticks (and a bad one, with file:line), SIGINT in the middle (the report
# still adds up), and bad options. The report's own check ("consistent")
# must hold every time: ticks in = processed + dropped + conflated,
# orders = fills + failures.
#   tests/e2e/pipeline.sh WEFT_BINARY
set -euo pipefail
weft=$1
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
dir=$(mktemp -d /tmp/weft-pipeline-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# check NAME PYTHON-CONDITION ARGS...: run, then assert on the JSON report d.
check() {
  local name=$1 cond=$2
  shift 2
  "$weft" pipeline --no-progress --json "$@" > "$dir/$name.json" 2> "$dir/$name.err" ||
    fail "$name: exit $?: $(cat "$dir/$name.err") $(cat "$dir/$name.json")"
  python3 - "$dir/$name.json" "$cond" <<'PY' || fail "$name: $(cat "$dir/$name.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["consistent"], d
assert d["ticks_in"] == d["processed"] + d["dropped"] + d["conflated"], d
assert d["orders"] == d["fills"] + d["failed_deadline"] + d["failed_reject"], d
assert d["hop_us"]["feed_strategy"]["p50"] > 0 and d["hop_us"]["strategy_oms"]["p50"] >= 0, d
assert eval(sys.argv[2]), (sys.argv[2], d)
PY
}

echo "-- block: backpressure, nothing dropped, every order filled"
# (Deadlines are long where every order must fill: the sanitizer builds
# run the broker some hundred times slower.)
check block 'd["processed"] == d["ticks_in"] == 30000 and d["fills"] == d["orders"] > 0' \
  --ticks 30000 --rate 1000000 --queue 64 --policy block --order-deadline 60000
echo "-- drop-oldest and conflate under a feed faster than the workers"
check drop 'd["dropped"] > 0 and d["fills"] == d["orders"]' \
  --ticks 100000 --rate 5000000 --queue 16 --policy drop-oldest --order-deadline 60000
check conflate 'd["conflated"] > 0 and d["fills"] == d["orders"]' \
  --ticks 100000 --rate 5000000 --symbols 20 --policy conflate --order-deadline 60000
echo "-- the coroutine and mixed modes"
check coro 'd["mode"] == "coroutines" and d["processed"] == 30000 and d["fills"] == d["orders"] > 0' \
  --mode coroutines --ticks 30000 --rate 1000000 --queue 64 --order-deadline 60000
# (Under conflate a slow machine may conflate nearly every tick and make
# no order at all: the sums must hold, not a count.)
check mixed 'd["mode"] == "mixed" and d["fills"] == d["orders"]' \
  --mode mixed --policy conflate --ticks 30000 --rate 1000000 --order-deadline 60000
echo "-- every other policy in every other mode: the sums hold"
for m in coroutines mixed; do
  for pol in block drop-oldest conflate; do
    [ "$m/$pol" = coroutines/block ] || [ "$m/$pol" = mixed/conflate ] && continue # above
    check "$m-$pol" "d['mode'] == '$m' and d['policy'] == '$pol' and d['fills'] == d['orders']" \
      --mode "$m" --policy "$pol" --ticks 30000 --rate 2000000 --queue 16 --order-deadline 60000
  done
done
echo "-- a broker that drops connections: reconnect, resend, nothing lost"
check drops 'd["reconnects"] >= 1 and d["resends"] >= 1 and d["orders"] > 0' \
  --ticks 30000 --rate 100000 --broker-args "--drop-after 300"
echo "-- a broker that stalls: orders fail at their deadline"
check stall 'd["failed_deadline"] > 0' \
  --ticks 20000 --rate 100000 --order-deadline 200 --broker-args "--stall-after 10 --stall-ms 1000"

echo "-- a replayed CSV of ticks"
python3 - "$dir/ticks.csv" <<'PY'
import random, sys
random.seed(3)
px = {"AAPL": 190.0, "MSFT": 410.0, "ES": 5000.0}
with open(sys.argv[1], "w") as f:
    f.write("ts,symbol,price\n")
    for i in range(20000):
        s = random.choice(list(px))
        px[s] *= 1 + random.uniform(-0.001, 0.001)
        f.write("%d,%s,%.4f\n" % (i, s, px[s]))
PY
check replay 'd["ticks_in"] == d["processed"] == 20000 and d["fills"] == d["orders"] > 0' \
  --replay "$dir/ticks.csv" --rate 1000000 --order-deadline 60000
printf 'symbol,price\nA,1.5\nB,abc\n' > "$dir/bad.csv"
"$weft" pipeline --replay "$dir/bad.csv" 2> "$dir/bad.err" && fail "a bad tick file accepted"
grep -q "bad.csv:3: a price that is not a positive number" "$dir/bad.err" || fail "bad file: $(cat "$dir/bad.err")"

echo "-- SIGINT in the middle: the report still adds up"
"$weft" pipeline --no-progress --json --ticks 100000000 --rate 200000 > "$dir/int.json" 2>/dev/null &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid" || fail "exit $? after SIGINT: $(cat "$dir/int.json")"
python3 - "$dir/int.json" <<'PY' || fail "SIGINT: $(cat "$dir/int.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["consistent"] and 0 < d["ticks_in"] < 100000000, d
PY

echo "-- bad options"
"$weft" pipeline --policy newest 2>/dev/null && fail "--policy newest accepted"
"$weft" pipeline --mode fibers 2>/dev/null && fail "--mode fibers accepted"
"$weft" pipeline --workers 0 2>/dev/null && fail "--workers 0 accepted"
"$weft" pipeline --broker nohost 2>/dev/null && fail "--broker without a port accepted"
echo "all passed"
