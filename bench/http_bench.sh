#!/usr/bin/env bash
# `weft serve --hello` against nginx (one worker process, the same fixed
# response) under wrk on loopback, side by side in one run: requests per
# second, latency, and the ratio. The peers (nginx, wrk) come from Debian:
# scripts/install-deps.sh --peers.
#   bench/http_bench.sh [WEFT_BINARY] [SECONDS] [CONNECTIONS]
set -euo pipefail
weft=${1:-./build/release/weft}
secs=${2:-10}
conns=${3:-64}
command -v wrk >/dev/null || { echo "wrk not installed (scripts/install-deps.sh --peers)"; exit 77; }
dir=$(mktemp -d /tmp/weft-http-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# run NAME URL: one wrk run; prints "NAME req/s mean-latency".
run() {
  wrk -t1 -c"$conns" -d"${secs}s" "$2" > "$dir/$1.txt" 2>&1
  local rps lat
  rps=$(awk '/Requests\/sec/ { print $2 }' "$dir/$1.txt")
  lat=$(awk '/Latency/ { print $2; exit }' "$dir/$1.txt")
  if grep -q "Non-2xx\|Socket errors" "$dir/$1.txt"; then
    echo "$1: errors:" >&2
    grep "Non-2xx\|Socket errors" "$dir/$1.txt" >&2
  fi
  echo "$rps $lat"
}

"$weft" serve --hello --port 18181 --quiet &
pids+=($!)
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  mkdir -p "$dir/nginx/logs"
  cat > "$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/nginx;
  proxy_temp_path $dir/nginx;
  fastcgi_temp_path $dir/nginx;
  uwsgi_temp_path $dir/nginx;
  scgi_temp_path $dir/nginx;
  server {
    listen 127.0.0.1:18182;
    location / { default_type text/plain; return 200 "Hello, World!\n"; }
  }
}
CONF
  "$nginx" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" &
  pids+=($!)
fi
sleep 0.5
echo "wrk -t1 -c$conns -d${secs}s, Hello World, loopback"
printf "%-8s %12s %12s %10s\n" server "req/s" "mean lat" "weft is"
read -r wr wl < <(run weft http://127.0.0.1:18181/)
printf "%-8s %12s %12s %10s\n" weft "$wr" "$wl" "-"
if [ -n "${nginx:-}" ]; then
  read -r nr nl < <(run nginx http://127.0.0.1:18182/)
  printf "%-8s %12s %12s %10s\n" nginx "$nr" "$nl" "$(awk -v a="$wr" -v b="$nr" 'BEGIN { printf "%.2fx", a / b }')"
fi
