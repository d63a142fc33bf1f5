-- Shared dictionaries in whole apps: examples/rate_limit.lua (a cluster app
-- limiting requests per client IP across its workers) and an unmodified
-- script under `luster -i`, whose instances share one dictionary that
-- outlives a rolling reload.
local h = require('helpers.cluster')

local root = os.getenv('LUSTER_SOURCE_DIR') or '.'

local running = {}
after_each(function()
  for i, p in ipairs(running) do
    if p.code == nil and p.signal == nil then pcall(p.kill, 'SIGKILL') end
    running[i] = nil
  end
end)

local function start(argv, env)
  local p = h.start(argv, env)
  running[#running + 1] = p
  return p
end

local function count(s, pattern)
  local _, n = s:gsub(pattern, '')
  return n
end

-- GET with curl: status code and the X-Worker header.
local function request(port)
  local body, r = await(h.curl(('http://127.0.0.1:%d/'):format(port), { '-i' }))
  return tonumber(body:match('^HTTP/1%.1 (%d+)')), body:match('[Xx]%-[Ww]orker: (%d+)'), r
end

local function shm_objects_of(pid)
  local p = io.popen('ls /dev/shm 2>/dev/null')
  local n = 0
  for line in p:lines() do
    if line:find('^luster%-dict%-' .. pid .. '%-') then n = n + 1 end
  end
  p:close()
  return n
end

describe('examples/rate_limit.lua', function()
  it('holds the limit per client across all worker processes', function()
    local port = h.free_port()
    local p = start({ h.bin, root .. '/examples/rate_limit.lua' },
      { PORT = tostring(port), WORKERS = '2', LIMIT = '10', WINDOW = '60' })
    assert.is_true(h.wait_for(function() return count(p.out(), 'listening') >= 2 end, 5000), p.err())
    local ok, limited, workers, nworkers = 0, 0, {}, 0
    for _ = 1, 30 do
      local status, worker = request(port)
      if status == 200 then ok = ok + 1 elseif status == 429 then limited = limited + 1 end
      if worker and not workers[worker] then workers[worker] = true; nworkers = nworkers + 1 end
    end
    -- each worker alone would have let 10 through
    assert.are.equal(10, ok)
    assert.are.equal(20, limited)
    assert.are.equal(2, nworkers)
    p.kill('SIGTERM')
    await(p.done)
    assert.are.equal(0, p.code)
    assert.are.equal(0, shm_objects_of(p.pid)) -- the primary took its dictionary along
  end)

  it('lets a client in again once its window has passed', function()
    local port = h.free_port()
    local p = start({ h.bin, root .. '/examples/rate_limit.lua' },
      { PORT = tostring(port), WORKERS = '2', LIMIT = '2', WINDOW = '1' })
    assert.is_true(h.wait_for(function() return count(p.out(), 'listening') >= 2 end, 5000), p.err())
    local statuses = {}
    for i = 1, 3 do statuses[i] = request(port) end
    assert.are.equal(429, statuses[3])
    await(h.sleep(1300))
    assert.are.equal(200, (request(port)))
    p.kill('SIGTERM')
    await(p.done)
  end)
end)

local COUNTER = [[
local http = require('http')
local cache = require('shared').dict('cache')
http.createServer(function(req, res)
  res:finish(('%d %d'):format(cache:incr('hits', 1, 0), process.pid))
end):listen(tonumber(process.env.PORT), function() console.log('listening') end)
]]

describe('a shared dictionary under luster -i', function()
  it('is one dictionary for every instance of an unmodified script, kept across a reload', function()
    local port = h.free_port()
    local p = start({ h.bin, '-i', '2', h.script(COUNTER) }, { PORT = tostring(port) })
    assert.is_true(h.wait_for(function() return count(p.out(), 'listening') >= 2 end, 5000), p.err())
    local pids, last = {}, 0
    for _ = 1, 8 do
      local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
      local n, pid = body:match('^(%d+) (%d+)$')
      assert.is_truthy(n, body)
      last = tonumber(n)
      pids[pid] = true
    end
    assert.are.equal(8, last) -- one counter, whichever instance answered
    local nb = 0
    for _ in pairs(pids) do nb = nb + 1 end
    assert.are.equal(2, nb)
    p.kill('SIGHUP')
    assert.is_true(h.wait_for(function() return count(p.err(), 'replaces worker') >= 2 end, 10000), p.err())
    assert.is_true(h.wait_for(function() return count(p.out(), 'listening') >= 4 end, 5000), p.err())
    local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
    local n, pid = body:match('^(%d+) (%d+)$')
    assert.are.equal(9, tonumber(n))     -- the new instances see what the old ones counted
    assert.is_nil(pids[pid])
    p.kill('SIGTERM')
    await(p.done)
  end)
end)
