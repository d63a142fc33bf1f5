-- Garbage per request of the server's hello path.  Every request makes a
-- request and a response table; what else the library allocates per
-- request is work for the collector, which shows in the latency tail under
-- load (docs/performance.md).  The server runs in a child process and
-- measures itself: with the collector stopped, the heap grows by exactly
-- what the requests allocated.  The bounds leave room for one small table
-- more than the library makes today, not for a second response-sized one.
local H = require('helpers.http')

-- The handler shapes, by name (the one in scripts/bench.d/http_hello first).
local SERVER = [[
local http = require('http')
local shape, WARM, N = arg[1], 500, 2000
local handlers = {
  write_head = function(req, res)
    res:writeHead(200, { ['Content-Type'] = 'text/plain' })
    res:finish('Hello, World!')
  end,
  bare = function(req, res) res:finish() end,
  set_header = function(req, res)
    res:setHeader('Content-Type', 'text/plain')
    res:finish('Hello, World!')
  end,
  status_code = function(req, res)
    res.statusCode = 404
    res:finish('nothing here')
  end,
}
local handler, n, before = handlers[shape], 0, 0
local server = http.createServer(function(req, res)
  n = n + 1
  if n == WARM then
    collectgarbage('collect')
    collectgarbage('stop')
    before = collectgarbage('count')
  elseif n == WARM + N then
    print(('bytes %.1f'):format((collectgarbage('count') - before) * 1024 / N))
    io.stdout:flush()
    collectgarbage('restart')
  end
  handler(req, res)
end)
server:listen(0, '127.0.0.1', function() print('port ' .. server:address().port) io.stdout:flush() end)
]]

-- WARM + N requests on one keep-alive connection.
local CLIENT = [[
import http.client
c = http.client.HTTPConnection('127.0.0.1', PORT)
for i in range(2600):
    c.request('GET', '/')
    r = c.getresponse()
    r.read()
print(r.status)
]]

local function bytes_per_request(shape)
  local srv = H.serve(SERVER, shape)
  local out = H.py(srv.port, CLIENT)
  local line = srv:line()
  local err = srv:stop()
  assert.are.equal('', err)
  assert.is_truthy(out:match('^%d%d%d'), out)
  local b = tonumber(line and line:match('^bytes ([%d.]+)'))
  assert.is_number(b, line)
  return b
end

describe('http server garbage per request', function()
  -- a request and a response table (14 array slots each, 184 bytes) make
  -- 368 bytes; the handler's headers table for writeHead 112 more,
  -- setHeader's header table 160
  it('writeHead(200, headers) + finish(body), as the hello bench', function()
    local b = bytes_per_request('write_head')
    assert(b <= 540, ('%.1f bytes per request'):format(b))
  end)

  it('a bare finish()', function()
    local b = bytes_per_request('bare')
    assert(b <= 430, ('%.1f bytes per request'):format(b))
  end)

  it('statusCode set by the handler, then finish(body)', function()
    local b = bytes_per_request('status_code')
    assert(b <= 430, ('%.1f bytes per request'):format(b))
  end)

  it('setHeader + finish(body)', function()
    local b = bytes_per_request('set_header')
    assert(b <= 600, ('%.1f bytes per request'):format(b))
  end)
end)
