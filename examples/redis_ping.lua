-- A tiny RESP (Redis protocol) exchange over `net`, in the coroutine style a
-- database driver is written in: await(sock:readline()) for a reply line,
-- await(sock:read(n)) for a bulk string.
--   redis-server --port 6379 &      luster examples/redis_ping.lua
-- REDIS_PORT / REDIS_HOST pick another server.
local net = require('net')

-- Encode a command as a RESP array of bulk strings.
local function command(...)
  local parts = { '*' .. select('#', ...) .. '\r\n' }
  for i = 1, select('#', ...) do
    local a = tostring((select(i, ...)))
    parts[#parts + 1] = '$' .. #a .. '\r\n' .. a .. '\r\n'
  end
  return table.concat(parts)
end

-- Read one reply: simple string, error, integer, bulk string or array.
local function reply(sock)
  local line = await(sock:readline())
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == '+' then return rest end
  if kind == '-' then error('redis: ' .. rest, 0) end
  if kind == ':' then return tonumber(rest) end
  if kind == '$' then
    local n = tonumber(rest)
    if n < 0 then return nil end
    local data = await(sock:read(n + 2))  -- the value and its \r\n
    return data:sub(1, n)
  end
  if kind == '*' then
    local list = {}
    for i = 1, tonumber(rest) do list[i] = reply(sock) end
    return list
  end
  error('redis: unexpected reply ' .. line, 0)
end

local function call(sock, ...)
  sock:write(command(...))
  return reply(sock)
end

local sock = net.connect(tonumber(process.env.REDIS_PORT) or 6379, process.env.REDIS_HOST or '127.0.0.1')
await(sock:connected())
console.log('PING ->', call(sock, 'PING'))
console.log('SET greeting ->', call(sock, 'SET', 'greeting', 'hello from luster'))
console.log('GET greeting ->', call(sock, 'GET', 'greeting'))
console.log('INCR visits ->', call(sock, 'INCR', 'luster:visits'))
-- pipelining: send three commands, then read three replies in order
sock:write(command('RPUSH', 'luster:list', 'a') .. command('RPUSH', 'luster:list', 'b') .. command('LRANGE', 'luster:list', 0, -1))
reply(sock); reply(sock)
console.log('LRANGE ->', table.concat(reply(sock), ','))
call(sock, 'DEL', 'luster:list', 'luster:visits')
sock:finish()
