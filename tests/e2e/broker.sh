#!/usr/bin/env bash
# End-to-end tests of `weft broker`, the simulated exchange: every order
# acknowledged and filled exactly once; a broker that drops connections,
# with a client that reconnects and resends until every order is filled
# (the broker counts no duplicate); a stall that delays the answers; bad
# lines rejected with their reasons; SIGINT prints the counters.
#   tests/e2e/broker.sh WEFT_BINARY
set -euo pipefail
weft=$1
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
dir=$(mktemp -d /tmp/weft-broker-test.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start ARGS...: a broker on a free port; sets pid and port.
start() {
  # A fresh log: the last broker's port must not be read by mistake.
  rm -f "$dir/log"
  "$weft" broker --port 0 "$@" > "$dir/out" 2> "$dir/log" &
  pid=$!
  for _ in $(seq 100); do
    port=$(grep -o '127.0.0.1:[0-9]*' "$dir/log" | cut -d: -f2 || true)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  fail "the broker did not start: $(cat "$dir/log")"
}
stop() {
  kill -INT "$pid"
  wait "$pid" || fail "exit $? after SIGINT"
  pid=
}

client='
import socket, sys, time
port, n, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ids = ["%s%d" % (prefix, i) for i in range(n)]
acks, fills = {}, {}
deadline = time.time() + 20
while len(fills) < n and time.time() < deadline:
    s = socket.create_connection(("127.0.0.1", port))
    # Send (or resend) every order not filled yet.
    s.sendall("".join("NEW %s SYM B 1 10.5\n" % i for i in ids if i not in fills).encode())
    s.settimeout(1.0)
    buf = b""
    try:
        while len(fills) < n:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                kind, oid = line.decode().split()[:2]
                book = acks if kind == "ACK" else fills
                book[oid] = book.get(oid, 0) + 1
    except socket.timeout:
        pass
    s.close()
assert len(fills) == n and len(acks) == n, (len(acks), len(fills))
print("ok", sum(acks.values()), sum(fills.values()))
'

echo "-- every order acknowledged and filled once"
start --ack-ms 1 --fill-ms 1
out=$(python3 -c "$client" "$port" 200 a)
[ "$out" = "ok 200 200" ] || fail "one connection: $out"
stop
grep -q "^orders 200 resends 0 acks 200 fills 200 rejects 0" "$dir/out" || fail "counters: $(cat "$dir/out")"

echo "-- dropped connections: resent until filled, never duplicated"
start --ack-ms 1 --fill-ms 1 --drop-after 7
python3 -c "$client" "$port" 60 d > "$dir/client" || fail "the client did not get every fill"
stop
python3 - "$dir/out" <<'PY'
import sys
f = open(sys.argv[1])
c = dict(zip(*[iter(f.read().split())] * 2))
assert c["orders"] == "60" and c["acks"] == "60" and c["fills"] == "60", c
assert int(c["drops"]) >= 1 and int(c["resends"]) >= 1, c
PY

echo "-- a stall delays the answers"
start --ack-ms 1 --fill-ms 1 --stall-after 3 --stall-ms 600
python3 - "$port" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.time()
s.sendall(b"".join(b"NEW s%d SYM S 1 1\n" % i for i in range(5)))
s.settimeout(5)
buf = b""
while buf.count(b"FILL") < 5:
    buf += s.recv(4096)
took = time.time() - t0
assert took >= 0.5, took
PY
stop

echo "-- bad lines"
start
python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"HELLO\nNEW x1 SYM X 1 1\nNEW x2 SYM B 0 1\nNEW x3 SYM B 1 -2\nNEW " + b"y" * 70 + b" S B 1 1\n")
s.settimeout(2)
buf = b""
while buf.count(b"\n") < 5:
    buf += s.recv(4096)
lines = buf.decode().splitlines()
assert lines[0].startswith("REJECT - expected: NEW"), lines
assert lines[1] == "REJECT x1 side must be B or S", lines
assert lines[2] == "REJECT x2 quantity must be positive", lines
assert lines[3] == "REJECT x3 price must be positive", lines
assert lines[4] == "REJECT - bad order id", lines
PY
stop
grep -q "rejects 5" "$dir/out" || fail "rejects: $(cat "$dir/out")"

echo "-- bad command lines"
"$weft" broker --ack-ms -1 2>/dev/null && fail "a negative latency accepted"
"$weft" broker --bogus 2>/dev/null && fail "--bogus accepted"
echo "all passed"
