#!/usr/bin/env bash
# luster-openload (the bench's fixed-rate load generator) sends exactly
# RATE x SECONDS requests and sees every answer, also from a server that
# closes the connection after every 50th response (the requests queued on
# it go on a new one, as after nginx's keepalive_requests).
set -euo pipefail
build="$1"
tmp="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
cat > "$tmp/server.lua" <<'LUA'
local n = 0
local server = require('http').createServer(function(req, res)
  n = n + 1
  if n % 50 == 0 then res:setHeader('Connection', 'close') end
  res:finish('ok')
end)
server:listen(0, '127.0.0.1', function()
  io.stdout:write(server:address().port, '\n')
  io.stdout:flush()
end)
process:on('SIGTERM', function() print('served ' .. n) process.exit(0) end)
LUA
"$build/luster" "$tmp/server.lua" > "$tmp/out" &
server=$!
for _ in $(seq 100); do [ -s "$tmp/out" ] && break; sleep 0.05; done
port="$(head -1 "$tmp/out")"
out="$("$build/luster-openload" "$port" / 2000 1 8)"
echo "$out"
grep -q '^sent 2000 done 2000 missing 0 ' <<<"$out"
kill "$server"; wait "$server" || true; server=""
grep -q '^served 2000$' "$tmp/out"
