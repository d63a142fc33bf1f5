-- `luster -i N script.lua` (API.md "The command line"): a built-in primary
-- keeps N copies of an unmodified script running.  Each test drives a real
-- `luster -i 2` process with signals and real requests.
local h = require('helpers.cluster')

local port = h.free_port

local SERVER = [[
local http = require('http')
http.createServer(function(req, res)
  res:finish(('pid %d instance %s'):format(process.pid, process.env.LUSTER_INSTANCE))
end):listen(tonumber(process.env.PORT))
console.log('started ' .. process.env.LUSTER_INSTANCE)
]]

local function get(p)
  return await(h.curl(('http://127.0.0.1:%d/'):format(p)))
end

-- The set of worker pids answering, over n requests.
local function answering(p, n)
  local seen, count = {}, 0
  for _ = 1, n do
    local pid = get(p):match('^pid (%d+)')
    if pid and not seen[pid] then seen[pid] = true; count = count + 1 end
  end
  return seen, count
end

-- Every primary a test starts; one still running after the test (it failed
-- before stopping it) is killed, so a failure leaves no server behind.
local running = {}
after_each(function()
  for i, p in ipairs(running) do
    if p.code == nil and p.signal == nil then pcall(p.kill, 'SIGKILL') end
    running[i] = nil
  end
end)

local function start(args, env)
  local argv = { h.bin }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local p = h.start(argv, env)
  running[#running + 1] = p
  return p
end

local function started(p, n)
  return h.wait_for(function()
    local k = 0
    for _ in p.out():gmatch('started') do k = k + 1 end
    return k >= n
  end, 5000)
end

local function stop(p)
  p.kill('SIGTERM')
  return await(p.done)
end

describe('luster -i N', function()
  it('runs N copies of an unmodified server on one port, output prefixed with the worker id', function()
    local P = port()
    local p = start({ '-i', '2', h.script(SERVER) }, { PORT = tostring(P) })
    assert.is_true(started(p, 2), p.err())
    local count = 0
    h.wait_for(function() -- both listening: 'started' comes before the shared listen completes
      _, count = answering(P, 6)
      return count == 2
    end, 5000)
    assert.are.equal(2, count)
    local out = p.out()
    assert.is_truthy(out:find('%[1%] started [01]\n'))
    assert.is_truthy(out:find('%[2%] started [01]\n'))
    assert.is_truthy(out:find('started 0') and out:find('started 1'))
    local r = stop(p)
    assert.are.equal(0, r.code)
  end)

  it('replaces a worker killed with SIGKILL and the replacement serves', function()
    local P = port()
    local p = start({ '-i', '2', h.script(SERVER) }, { PORT = tostring(P) })
    assert.is_true(started(p, 2))
    -- 'started' is printed before the shared listen completes: wait for an answer
    local before
    assert.is_true(h.wait_for(function()
      before = answering(P, 4)
      return next(before) ~= nil
    end, 5000), 'no worker answered')
    local victim = next(before)
    os.execute('kill -9 ' .. victim)
    assert.is_true(started(p, 3), p.err())
    local after, count = {}, 0
    assert.is_true(h.wait_for(function()
      after, count = answering(P, 4)
      return count == 2
    end, 5000))
    assert.is_nil(after[victim])
    assert.is_truthy(p.err():find('exited with signal SIGKILL'))
    stop(p)
  end)

  it('reloads every worker on SIGHUP, one at a time, while still answering', function()
    local P = port()
    local p = start({ '-i', '2', h.script(SERVER) }, { PORT = tostring(P) })
    assert.is_true(started(p, 2))
    local before = answering(P, 4)
    p.kill('SIGHUP')
    local failures = 0
    assert.is_true(h.wait_for(function()
      if get(P) == '' then failures = failures + 1 end
      local _, reloads = p.err():gsub('replaces worker', '')
      return reloads >= 2
    end, 10000), p.err())
    local after, count = answering(P, 6)
    assert.are.equal(2, count)
    for pid in pairs(before) do assert.is_nil(after[pid]) end
    assert.are.equal(0, failures)
    stop(p)
  end)

  it('drains and exits 0 on SIGTERM, and its workers are gone', function()
    local P = port()
    local p = start({ '-i', '2', h.script(SERVER) }, { PORT = tostring(P) })
    assert.is_true(started(p, 2))
    local pids = answering(P, 4)
    local r = stop(p)
    assert.are.equal(0, r.code)
    for pid in pairs(pids) do assert.is_false(h.alive(pid)) end
  end)

  it('SIGKILLs a worker that does not exit within --kill-timeout', function()
    local p = start({ '-i', '1', '--kill-timeout', '300', h.script([[
      process:on('SIGTERM', function() end)
      setInterval(function() end, 1000)
      console.log('started')
    ]]) })
    assert.is_true(started(p, 1))
    local t0 = process.hrtime()
    local r = stop(p)
    local took = process.hrtime(t0)
    assert.are.equal(0, r.code)
    assert.is_truthy(p.err():find('SIGKILL'))
    assert.is_true(took[1] < 3)
  end)

  it('gives each worker its index in LUSTER_INSTANCE', function()
    local p = start({ '-i', '2', h.script([[
      console.log('started ' .. process.env.LUSTER_INSTANCE)
      setInterval(function() end, 1000)
    ]]) })
    assert.is_true(started(p, 2))
    assert.is_truthy(p.out():find('started 0'))
    assert.is_truthy(p.out():find('started 1'))
    stop(p)
  end)

  it('backs off a worker that crashes at start-up, then gives up on a crash loop', function()
    local p = start({ '-i', '1', h.script([[error('boom at start')]]) }, { LUSTER_MAX_RESTARTS = '4' })
    local r = await(p.done)
    assert.are.equal(1, r.code)
    local delays = {}
    for d in p.err():gmatch('restarting in (%d+) ms') do delays[#delays + 1] = tonumber(d) end
    assert.are.same({ 100, 150, 225, 337 }, delays)
    assert.is_truthy(p.err():find('giving up'))
    assert.is_truthy(p.err():find('%[1%] .*boom at start'))
  end)

  it('restarts a worker whose memory passes --max-memory', function()
    local p = start({ '-i', '1', '--max-memory', '40', h.script([[
      console.log('started')
      local hog = {}
      setInterval(function()
        hog[#hog + 1] = string.rep('x', 4 * 1024 * 1024) .. #hog
      end, 50)
    ]]) })
    assert.is_true(started(p, 1))
    assert.is_true(h.wait_for(function() return p.err():find('max%-memory') ~= nil end, 8000), p.err())
    assert.is_true(started(p, 2))
    stop(p)
  end)
end)
