-- A handler that awaits an upstream API through fetch (issue 9): the route
-- GET /weather/:city asks an upstream JSON service and answers with a
-- summary; the loop keeps serving other requests while the upstream answers.
--   luster examples/fetch_json.lua          (PORT=0 picks a free port)
--   curl -s localhost:3000/weather/paris
-- UPSTREAM=http://host:port points it at a real service; without it, the
-- script starts a small stand-in upstream of its own on a free port.
local app = require('router')()

local function start_stand_in()
  local upstream = require('router')()
  local temps = { paris = 14, oslo = -3, lima = 22 }
  upstream:get('/v1/current/:city', function(req, res)
    local t = temps[req.params.city]
    if not t then return res:status(404):json({ error = 'unknown city' }) end
    -- a slow upstream: the front server keeps serving meanwhile
    await(Promise.new(function(r) setTimeout(r, 50) end))
    res:json({ city = req.params.city, celsius = t, source = 'stand-in' })
  end)
  return Promise.new(function(resolve)
    upstream:listen(0, '127.0.0.1', function()
      resolve('http://127.0.0.1:' .. upstream.server:address().port)
    end)
  end)
end

local UPSTREAM = process.env.UPSTREAM or await(start_stand_in())

app:get('/weather/:city', function(req, res)
  local r = await(fetch(UPSTREAM .. '/v1/current/' .. req.params.city,
    { signal = AbortSignal.timeout(2000) }))
  if not r.ok then return res:status(r.status == 404 and 404 or 502):json({ error = 'upstream ' .. r.status }) end
  local data = await(r:json())
  res:json({ city = data.city, celsius = data.celsius,
             fahrenheit = data.celsius * 9 / 5 + 32, via = data.source })
end)

app:get('/health', function(req, res) res:json({ ok = true }) end)

-- a failed fetch (upstream down, timeout) reaches the error handler
app:use(function(err, req, res, nxt)
  res:status(502):json({ error = err.message, cause = err.cause and err.cause.code or err.name })
end)

app:listen(tonumber(process.env.PORT) or 3000, '127.0.0.1', function()
  console.log(('weather API listening on port %d (upstream %s)'):format(app.server:address().port, UPSTREAM))
end)
