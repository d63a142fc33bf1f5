-- A rate limiter for a cluster app: at most LIMIT requests per client IP in
-- each WINDOW seconds, counted across every worker process at once with one
-- shared dictionary (incr + ttl), as OpenResty apps do with ngx.shared.DICT.
--   luster examples/rate_limit.lua        then  curl -i http://127.0.0.1:3000/
-- PORT, WORKERS, LIMIT and WINDOW override 3000, 2, 5 and 10.
local cluster = require('cluster')
local http = require('http')
local shared = require('shared')

local LIMIT = tonumber(process.env.LIMIT) or 5
local WINDOW = tonumber(process.env.WINDOW) or 10

if cluster.isPrimary then
  -- created here or by the first worker: the same dictionary either way
  shared.dict('rate_limit', { size = '1m' })
  for _ = 1, tonumber(process.env.WORKERS) or 2 do cluster.fork() end
  -- exit cleanly on SIGTERM/SIGINT: the primary's dictionaries go with it
  process:on('SIGTERM', function() process.exit(0) end)
  process:on('SIGINT', function() process.exit(0) end)
else
  local hits = shared.dict('rate_limit')
  http.createServer(function(req, res)
    local key = 'ip:' .. tostring(req.socket.remoteAddress)
    -- the first request of a window creates the counter with the window's ttl
    local count, err = hits:incr(key, 1, 0, WINDOW)
    if not count then
      res:writeHead(503, { ['Content-Type'] = 'text/plain' })
      return res:finish('rate limiter unavailable: ' .. err .. '\n')
    end
    local headers = {
      ['Content-Type'] = 'text/plain',
      ['X-RateLimit-Limit'] = tostring(LIMIT),
      ['X-RateLimit-Remaining'] = tostring(math.max(0, LIMIT - count)),
      ['X-Worker'] = tostring(process.pid),
    }
    if count > LIMIT then
      headers['Retry-After'] = tostring(math.ceil(hits:ttl(key) or WINDOW))
      res:writeHead(429, headers)
      return res:finish('Too Many Requests\n')
    end
    res:writeHead(200, headers)
    res:finish(('Hello from worker %d (%d of %d)\n'):format(process.pid, count, LIMIT))
  end):listen(tonumber(process.env.PORT) or 3000, function()
    console.log(('Worker %d listening'):format(process.pid))
  end)
end
