#!/usr/bin/env bash
# End-to-end tests of `weft fetch`: every file of a `weft serve` directory
# downloaded (-o) and identical; 10k URLs from nginx with a generated
# config (skipped without nginx); failures (404, refused) listed with their
# reasons and a non-zero exit; the JSON summary; --total cutting a run
# short; bad command lines.
#   tests/e2e/fetch.sh WEFT_BINARY
set -euo pipefail
weft=$1
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
dir=$(mktemp -d /tmp/weft-fetch-test.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

mkdir -p "$dir/www" "$dir/out"
for i in $(seq 1 500); do head -c $((i * 37)) /dev/urandom > "$dir/www/f$i.bin"; done
"$weft" serve "$dir/www" --port 0 2> "$dir/serve.log" &
pids+=($!)
for _ in $(seq 100); do
  url=$(grep -o 'http://[0-9.:]*/' "$dir/serve.log" || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || fail "weft serve did not start"

echo "-- every file of a weft serve directory, saved and identical"
for i in $(seq 1 500); do echo "${url}f$i.bin"; done > "$dir/urls.txt"
"$weft" fetch -i "$dir/urls.txt" -o "$dir/out" -c 50 --json > "$dir/s.json" 2> "$dir/err" || fail "exit $?: $(cat "$dir/err")"
[ "$(json "$dir/s.json" 'd["ok"]')" = 500 ] || fail "not 500 ok: $(cat "$dir/s.json")"
for i in $(seq 1 500); do cmp -s "$dir/www/f$i.bin" "$dir/out/f$i.bin" || fail "f$i.bin differs"; done
# The same names again: saved beside them, never over them.
"$weft" fetch --quiet "${url}f1.bin" -o "$dir/out" 2>/dev/null
cmp -s "$dir/www/f1.bin" "$dir/out/f1.bin.1" || fail "a second f1.bin was not saved as f1.bin.1"

echo "-- failures: listed with their reasons, exit 1"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
set +e
"$weft" fetch --json --retries 0 "${url}f2.bin" "${url}missing" "http://127.0.0.1:$port/refused" "https://x/" > "$dir/f.json" 2>/dev/null
rc=$?
set -e
[ "$rc" = 1 ] || fail "exit $rc with failures"
python3 - "$dir/f.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["urls"] == 4 and d["ok"] == 1 and d["failed"] == 3, d
reasons = {f["url"].rsplit("/", 1)[-1]: f["reason"] for f in d["failures"]}
assert reasons["missing"] == "HTTP 404", reasons
assert "refused" in reasons["refused"].lower(), reasons
assert d["status"] == {"200": 1, "404": 1} and d["errors"] == 2, d
PY
"$weft" fetch --retries 0 "${url}missing" 2> "$dir/text.txt" && fail "a 404 exited 0"
grep -q "failed: ${url}missing: HTTP 404" "$dir/text.txt" || fail "text summary: $(cat "$dir/text.txt")"
grep -q "latency: p50" "$dir/text.txt" || fail "no latency line"

echo "-- --total: a server that never answers fails every URL by the run's deadline"
silent=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', $silent)); s.listen(64); time.sleep(60)" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$silent) 2>/dev/null && break; sleep 0.05; done
t0=$(date +%s%N)
set +e
"$weft" fetch --json --total 0.5 --timeout 30 "http://127.0.0.1:$silent/a" "http://127.0.0.1:$silent/b" > "$dir/t.json" 2>/dev/null
rc=$?
set -e
took=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 1 ] || fail "--total: exit $rc"
[ "$took" -lt 5000 ] || fail "--total 0.5 took $took ms"
[ "$(json "$dir/t.json" 'd["failed"]')" = 2 ] || fail "--total: $(cat "$dir/t.json")"
grep -q "deadline" "$dir/t.json" || fail "--total: no deadline reason: $(cat "$dir/t.json")"

nginx=$(command -v nginx || true)
[ -z "$nginx" ] && [ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx
if [ -n "$nginx" ]; then
  echo "-- 10k URLs from nginx"
  mkdir -p "$dir/ng/www" "$dir/ng/tmp"
  python3 - "$dir/ng/www" <<'PY'
import os, sys
for i in range(10000):
    with open(os.path.join(sys.argv[1], "n%d.txt" % i), "w") as f:
        f.write("nginx file %d\n" % i)
PY
  chmod -R a+rX "$dir"
  nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$dir/ng/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/ng/nginx.pid;
error_log $dir/ng/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/ng/tmp;
  proxy_temp_path $dir/ng/tmp;
  fastcgi_temp_path $dir/ng/tmp;
  uwsgi_temp_path $dir/ng/tmp;
  scgi_temp_path $dir/ng/tmp;
  server { listen 127.0.0.1:$nport; root $dir/ng/www; }
}
CONF
  "$nginx" -p "$dir/ng" -c "$dir/ng/nginx.conf" &
  pids+=($!)
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$nport) 2>/dev/null && break
    sleep 0.05
  done
  for i in $(seq 0 9999); do echo "http://127.0.0.1:$nport/n$i.txt"; done > "$dir/nurls.txt"
  "$weft" fetch -i "$dir/nurls.txt" -c 100 --json > "$dir/n.json" 2>/dev/null || fail "nginx run: $(cat "$dir/n.json")"
  [ "$(json "$dir/n.json" 'd["status"]')" = "{'200': 10000}" ] || fail "nginx: $(cat "$dir/n.json")"
else
  echo "-- (nginx not installed: the 10k URLs from nginx skipped)"
fi

echo "-- bad command lines"
"$weft" fetch 2>/dev/null && fail "no URL accepted"
"$weft" fetch -c 0 http://x/ 2>/dev/null && fail "-c 0 accepted"
"$weft" fetch -o "$dir/nope" http://x/ 2>/dev/null && fail "-o to a missing directory accepted"
"$weft" fetch -i "$dir/nope.txt" 2>/dev/null && fail "a missing list accepted"
echo "all passed"
