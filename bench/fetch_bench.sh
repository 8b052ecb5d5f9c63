#!/usr/bin/env bash
# `weft fetch` against the seeds' Python aiohttp and against curl: the same
# 10k small files from a local nginx (one worker), 100 requests in flight,
# side by side in one run: seconds, requests per second, and the ratios.
# The peers come from Debian: scripts/install-deps.sh --peers.
#   bench/fetch_bench.sh [WEFT_BINARY] [FILES] [IN_FLIGHT]
set -euo pipefail
weft=${1:-./build/release/weft}
files=${2:-10000}
conc=${3:-100}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "nginx not installed (scripts/install-deps.sh --peers)"; exit 77; }
dir=$(mktemp -d /tmp/weft-fetch-bench.XXXXXX)
npid=
trap '[ -n "$npid" ] && kill "$npid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

mkdir -p "$dir/www" "$dir/nginx"
python3 - "$dir/www" "$files" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
body = b"x" * 1000 + b"\n"
for i in range(n):
    with open(os.path.join(d, "f%d.txt" % i), "wb") as f:
        f.write(body)
PY
chmod -R a+rX "$dir"
port=18290
cat > "$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $dir/nginx;
  proxy_temp_path $dir/nginx;
  fastcgi_temp_path $dir/nginx;
  uwsgi_temp_path $dir/nginx;
  scgi_temp_path $dir/nginx;
  server { listen 127.0.0.1:$port; root $dir/www; }
}
CONF
"$nginx" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" &
npid=$!
sleep 0.5
for i in $(seq 0 $((files - 1))); do echo "http://127.0.0.1:$port/f$i.txt"; done > "$dir/urls.txt"
awk '{ printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 }' "$dir/urls.txt" > "$dir/curl.cfg"

# run NAME CMD...: wall seconds of one run (or "-" if it failed).
run() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  if "$@" > "$dir/$name.out" 2>&1; then
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
  else
    echo "-"
    tail -3 "$dir/$name.out" >&2
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2fx\n", a / b }'; }
rate() { awk -v t="$1" -v n="$files" 'BEGIN { if (t == "-") print "-"; else printf "%.1f k\n", n / t / 1000 }'; }

echo "fetch $files files of 1 KB from nginx (1 worker), $conc in flight"
printf "%-8s %10s %10s %10s\n" client seconds "req/s" "weft is"
wt=$(run weft "$weft" fetch -i "$dir/urls.txt" -c "$conc" --quiet --retries 0)
printf "%-8s %10s %10s %10s\n" weft "$wt" "$(rate "$wt")" "-"
py=/usr/bin/python3 # Debian's: python3-aiohttp is installed for it
if "$py" -c 'import aiohttp' 2>/dev/null; then
  at=$(run aiohttp "$py" - "$dir/urls.txt" "$conc" <<'PY'
import asyncio, sys, aiohttp
async def main(path, conc):
    urls = [u.strip() for u in open(path) if u.strip()]
    sem = asyncio.Semaphore(conc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:
        async def one(u):
            async with sem:
                async with s.get(u) as r:
                    await r.read()
                    return r.status
        st = await asyncio.gather(*(one(u) for u in urls))
    assert all(x == 200 for x in st), "not all 200"
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
PY
)
  printf "%-8s %10s %10s %10s\n" aiohttp "$at" "$(rate "$at")" "$(ratio "$at" "$wt")"
fi
if command -v curl >/dev/null; then
  ct=$(run curl curl -s --fail -Z --parallel-max "$conc" -K "$dir/curl.cfg")
  printf "%-8s %10s %10s %10s\n" curl "$ct" "$(rate "$ct")" "$(ratio "$ct" "$wt")"
fi
