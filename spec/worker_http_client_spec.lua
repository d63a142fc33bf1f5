-- HTTP clients in worker threads (API.md "HTTP client and fetch", "in
-- every state"): three workers each make 200 requests, half fetch, half
-- http.get, against a server in the main thread.  Named worker_* so that
-- `scripts/test --tsan` runs it.
local wt = require('worker_threads')
local http = require('http')

local CLIENT = [[
local wt = require('worker_threads')
local http = require('http')
local d = wt.workerData
local ok, seen = 0, {}
for i = 1, d.n do
  local path = ('/w%d/%d'):format(d.id, i)
  local body
  if i % 2 == 0 then
    local r = await(fetch(d.base .. path, { method = i % 4 == 0 and 'POST' or 'GET', body = i % 4 == 0 and path or nil }))
    body = await(r:text())
  else
    body = await(Promise.new(function(resolve, reject)
      http.get(d.base .. path, function(res)
        local b = ''
        res:on('data', function(x) b = b .. tostring(x) end)
        res:on('end', function() resolve(b) end)
      end):on('error', reject)
    end))
  end
  local want = (i % 4 == 0 and 'POST ' or 'GET ') .. path .. (i % 4 == 0 and (' ' .. path) or ' ')
  if body == want then ok = ok + 1 else seen[#seen + 1] = body end
end
wt.parentPort:postMessage({ id = d.id, ok = ok, bad = seen[1] })
]]

describe('http clients in worker threads', function()
  it('three workers make 200 requests each against the main thread', function()
    local per_conn = {}
    local server = http.createServer(function(req, res)
      per_conn[req.socket.remotePort] = true
      res:finish(req.method .. ' ' .. req.url .. ' ' .. await(req:body()))
    end)
    await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
    local base = 'http://127.0.0.1:' .. server:address().port
    local results = {}
    local waits = {}
    for id = 1, 3 do
      waits[id] = Promise.new(function(resolve)
        local w = wt.Worker(CLIENT, { eval = true, workerData = { id = id, n = 200, base = base } })
        w:on('message', function(m) results[m.id] = m end)
        w:on('error', function(e) results[id] = { id = id, ok = 0, bad = tostring(e.message or e) } end)
        w:on('exit', resolve)
      end)
    end
    for id = 1, 3 do assert.are.equal(0, await(waits[id])) end
    server:close()
    for id = 1, 3 do
      assert.is_table(results[id], 'worker ' .. id .. ' sent nothing')
      assert.are.equal(200, results[id].ok, results[id].bad)
    end
    -- each worker's keep-alive pool: a connection or two each, not 600
    local n = 0
    for _ in pairs(per_conn) do n = n + 1 end
    assert.is_true(n <= 12, n .. ' connections')
  end)
end)
