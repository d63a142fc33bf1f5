# Shared by scripts/bench.d/http_*: start one server at a time on a free
# 127.0.0.1 port, warm it up, measure it with wrk, stop it (only the pids
# started here), and print "IMPL req_per_sec N req/s higher" and
# "IMPL p99_latency N ms lower".
# shellcheck shell=bash
LUSTER="${LUSTER:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/luster}"
DURATION="${BENCH_DURATION:-10s}"
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench: nothing listens on port $1" >&2
  return 1
}

# wrk prints latencies as 812.00us, 1.23ms or 1.05s: to ms
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
    else print v }'
}

measure() { # impl port
  wrk -t1 -c64 -d2s "http://127.0.0.1:$2/" >/dev/null # warm-up (JITs, caches)
  local out rps p99
  out="$(wrk -t1 -c64 -d"$DURATION" --latency "http://127.0.0.1:$2/")"
  rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "bench: $1: $(grep 'Non-2xx\|Socket errors' <<<"$out")" >&2
  fi
  echo "$1 req_per_sec $rps req/s higher"
  echo "$1 p99_latency $(to_ms "$p99") ms lower"
  if [ -n "${FIXED_RATE:-}" ]; then measure_fixed_rate "$1" "$2"; fi
}

# wrk's p99 compares servers at different loads: each gets as many requests
# as it answers.  With FIXED_RATE set, every server also gets the same
# FIXED_RATE req/s (64 connections, one request in flight on each) from
# luster-openload (runtime/tools/openload.c), latency counted from when
# each request was due: "IMPL p99_at_RATE N ms lower".
OPENLOAD="${OPENLOAD:-$(dirname "$LUSTER")/luster-openload}"
measure_fixed_rate() { # impl port
  "$OPENLOAD" "$2" / "$FIXED_RATE" 1 >/dev/null # warm-up
  local out
  out="$("$OPENLOAD" "$2" / "$FIXED_RATE" "${FIXED_RATE_SECONDS:-4}")"
  if ! grep -q ' missing 0 ' <<<"$out"; then echo "bench: $1 at $FIXED_RATE req/s: $out" >&2; fi
  echo "$1 p99_at_${FIXED_RATE}rps $(awk '{ for (i = 1; i < NF; i++) if ($i == "p99") print $(i + 1) }' <<<"$out") ms lower"
}

stop_last() {
  local p="${pids[${#pids[@]}-1]}"
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  unset 'pids[${#pids[@]}-1]'
}

bench_server() { # impl command script  (the server takes its port as its last argument)
  local impl="$1" port
  shift
  port="$(free_port)"
  "$@" "$port" >/dev/null 2>"$tmp/$impl.err" &
  pids+=($!)
  wait_port "$port"
  measure "$impl" "$port"
  stop_last
}

bench_nginx() { # impl location-body
  local impl="$1" port dir
  port="$(free_port)"
  dir="$tmp/nginx-$impl"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  server {
    listen 127.0.0.1:$port;
    location / { $2 }
  }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" 2>/dev/null &
  pids+=($!)
  wait_port "$port"
  measure "$impl" "$port"
  stop_last
}
