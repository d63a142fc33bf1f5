-- shared dictionaries and worker threads: every thread of a process sees the
-- same dictionary, and concurrent incr/cas/set from threads lose nothing.
-- (Named *_worker_spec so that scripts/test --tsan runs it.)
local wt = require('worker_threads')
local shared = require('shared')
local cluster = require('cluster')
local h = require('helpers.cluster')

-- Run `src` in a worker thread; a promise of its messages once it exits.
local function thread(src, data)
  return Promise.new(function(resolve, reject)
    local w = wt.Worker(src, { eval = true, workerData = data })
    local msgs = {}
    w:on('message', function(m) msgs[#msgs + 1] = m end)
    w:on('error', reject)
    w:on('exit', function(code) resolve({ code = code, msgs = msgs }) end)
  end)
end

describe('a shared dictionary in worker threads', function()
  it('is the same dictionary in the main thread and in a worker thread', function()
    local name = 'threads' .. process.pid
    local d = shared.dict(name, { size = '512k' })
    d:set('from_main', 'hi')
    local r = await(thread([[
      local wt = require('worker_threads')
      local d = require('shared').dict(wt.workerData)
      d:set('from_worker', d:get('from_main') .. ' back')
      wt.parentPort:postMessage(d:capacity())
    ]], name))
    assert.are.equal(0, r.code)
    assert.are.equal(512 * 1024, r.msgs[1])
    assert.are.equal('hi back', d:get('from_worker'))
  end)

  it('loses no incr or cas when four threads hammer it while it evicts', function()
    local name = 'hammer' .. process.pid
    local iters = os.getenv('LUSTER_SANITIZE') == 'thread' and 1500 or 8000
    -- room for about a third of what the threads set: they evict all along,
    -- yet what was set ages for milliseconds before it is the oldest (the
    -- hot counters are marked used far more often)
    local d = shared.dict(name, { size = iters * 4 * 400 / 3 })
    local src = [[
      local wt = require('worker_threads')
      local d = require('shared').dict(wt.workerData.name)
      local id, iters = wt.workerData.id, wt.workerData.iters
      local value = ('x'):rep(300)
      local incrs, cases, retries, forcible = 0, 0, 0, 0
      for i = 1, iters do
        assert(d:incr('hits', 1, 0))
        incrs = incrs + 1
        while true do                      -- a counter kept with cas
          local v = d:get('cas') or 0
          if d:cas('cas', v ~= 0 and v or nil, v + 1) then break end
          retries = retries + 1
        end
        cases = cases + 1
        local _, _, f = d:set(('fill%d_%d'):format(id, i), value)
        if f then forcible = forcible + 1 end
      end
      wt.parentPort:postMessage({ incrs = incrs, cases = cases, forcible = forcible })
    ]]
    local runs = {}
    for id = 1, 4 do runs[id] = thread(src, { name = name, id = id, iters = iters }) end
    local incrs, cases, forcible = 0, 0, 0
    for id = 1, 4 do
      local r = await(runs[id])
      assert.are.equal(0, r.code)
      incrs = incrs + r.msgs[1].incrs
      cases = cases + r.msgs[1].cases
      forcible = forcible + r.msgs[1].forcible
    end
    assert.are.equal(4 * iters, incrs)
    assert.are.equal(incrs, d:get('hits'))
    assert.are.equal(cases, d:get('cas'))
    assert.is_true(forcible > 0, 'the fill never evicted')
    assert.is_true(d:_check())
  end)

  it('is the primary\'s dictionary in a worker thread of a cluster worker', function()
    local name = 'nested' .. process.pid
    local d = shared.dict(name)
    -- the worker's main thread never opens it: its thread finds the scope alone
    cluster.setupPrimary({ exec = h.script(([[
      local wt = require('worker_threads')
      local w = wt.Worker([=[require('shared').dict(%q):incr('n', 1, 0)]=], { eval = true })
      w:on('exit', function() process.exit(0) end)
    ]]):format(name)), args = {} })
    local w = cluster.fork()
    local e = await(h.event(w, 'exit'))
    assert.are.equal(0, e[1])
    assert.are.equal(1, d:get('n'))
  end)
end)
