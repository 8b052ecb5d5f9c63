#!/usr/bin/env bash
# End-to-end tests of `weft serve`: static files from a directory (a file,
# an index, a missing file, a path that climbs out), the hello mode (and a
# second of wrk against it, without an error), bad
# command lines, and the graceful exit on SIGINT with its summary line.
#   tests/e2e/serve.sh WEFT_BINARY
set -euo pipefail
weft=$1
command -v curl >/dev/null || { echo "skipped: curl not installed"; exit 77; }
dir=$(mktemp -d /tmp/weft-serve-test.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start ARGS...: runs weft serve on a free port; sets pid and url.
start() {
  # A fresh log: the last server's address must not be read by mistake.
  rm -f "$dir/log"
  "$weft" serve --port 0 "$@" 2> "$dir/log" &
  pid=$!
  for _ in $(seq 100); do
    url=$(grep -o 'http://[0-9.:]*/' "$dir/log" || true)
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "weft serve exited: $(cat "$dir/log")"
    sleep 0.05
  done
  fail "weft serve did not say where it listens"
}

# stop: SIGINT, then the exit status must be 0 and the summary printed.
stop() {
  kill -INT "$pid"
  wait "$pid" || fail "weft serve exited with $? after SIGINT"
  pid=
  grep -q "requests on" "$dir/log" || fail "no summary line: $(cat "$dir/log")"
}

mkdir -p "$dir/www/sub"
echo "plain file" > "$dir/www/a.txt"
echo "<p>home</p>" > "$dir/www/index.html"
head -c 300000 /dev/urandom > "$dir/www/sub/big.bin"

echo "-- static files"
start "$dir/www"
[ "$(curl -s "${url}a.txt")" = "plain file" ] || fail "a.txt"
[ "$(curl -s "$url")" = "<p>home</p>" ] || fail "index.html"
curl -s "${url}sub/big.bin" -o "$dir/got.bin"
cmp -s "$dir/got.bin" "$dir/www/sub/big.bin" || fail "big.bin differs"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${url}missing")" = 404 ] || fail "missing: not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "${url}../etc/passwd")" = 400 ] || fail "climbing out: not 400"
[ "$(curl -s -I -o /dev/null -w '%{http_code}' "${url}a.txt")" = 200 ] || fail "HEAD"
# Many requests on keep-alive connections, and several clients at once.
clients=()
for i in 1 2 3 4; do
  curl -s "${url}a.txt" "${url}a.txt" "${url}a.txt" > "$dir/out$i" &
  clients+=($!)
done
wait "${clients[@]}"
for i in 1 2 3 4; do
  [ "$(grep -c 'plain file' "$dir/out$i")" = 3 ] || fail "keep-alive client $i"
done
stop

echo "-- hello, and under wrk"
start --hello
[ "$(curl -s "${url}anything?x=1")" = "Hello, World!" ] || fail "hello"
if command -v wrk >/dev/null; then
  wrk -t1 -c32 -d1s "$url" > "$dir/wrk.txt" 2>&1 || fail "wrk: $(cat "$dir/wrk.txt")"
  grep -q "Requests/sec" "$dir/wrk.txt" || fail "wrk: $(cat "$dir/wrk.txt")"
  ! grep -q "Non-2xx\|Socket errors" "$dir/wrk.txt" || fail "wrk saw errors: $(cat "$dir/wrk.txt")"
else
  echo "   (wrk not installed: skipped)"
fi
stop

echo "-- bad command lines"
"$weft" serve --bogus 2>/dev/null && fail "--bogus accepted"
"$weft" serve --hello "$dir/www" 2>/dev/null && fail "--hello with a directory accepted"
"$weft" serve "$dir/nope" --port 0 2>"$dir/err" && fail "a missing directory accepted"
grep -q "nope" "$dir/err" || fail "the error does not name the directory"
"$weft" serve --idle-timeout -1 2>/dev/null && fail "a negative timeout accepted"
echo "all passed"
