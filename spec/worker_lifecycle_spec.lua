-- Worker threads outlive their workers (runtime/worker_thread.c): a thread
-- whose worker is done boots the next spare state and runs a later worker,
-- on the same loop and allocator arena.  Each worker still starts from a
-- state of its own, and nothing a worker left behind (globals, modules,
-- handles, limits) reaches the next one on its thread.
local wt = require('worker_threads')
local child = require('spec.helpers.child')

-- The kernel's id of the thread a worker runs on (first field of
-- /proc/thread-self/stat), and the code that reports it.
local TID = "local f = io.open('/proc/thread-self/stat') local tid = tonumber(f:read('*a'):match('^%d+')) f:close() "

local function first_message(w)
  return await(Promise.new(function(r) w:once('message', r) end))
end

local function exit_of(w)
  return Promise.new(function(r) w:once('exit', r) end)
end

-- Run workers from `src` one after another (each sends one message, then is
-- terminated unless `natural`); returns their messages and exit codes.
local function one_after_another(n, src, opts, natural)
  local msgs, codes = {}, {}
  for i = 1, n do
    local w = wt.Worker(src, opts or { eval = true })
    local exited = exit_of(w)
    msgs[i] = first_message(w)
    if not natural then w:terminate() end
    codes[i] = await(exited)
  end
  return msgs, codes
end

local function count_distinct(list, key)
  local seen, n = {}, 0
  for _, m in ipairs(list) do
    if not seen[m[key]] then seen[m[key]], n = true, n + 1 end
  end
  return n
end

describe('workers started one after another', function()
  it('run on a few reused threads, not on a new thread each', function()
    local msgs, codes = one_after_another(12,
      TID .. "local p = require('worker_threads').parentPort p:on('message', function() end) p:postMessage({ tid = tid })")
    for i = 1, 12 do assert.are.equal(1, codes[i]) end
    assert.is_true(count_distinct(msgs, 'tid') <= 4, count_distinct(msgs, 'tid') .. ' threads for 12 workers')
  end)

  it('each start from a fresh state: nothing the previous one on the thread set is there', function()
    local msgs, codes = one_after_another(8, TID .. [[
      local wt = require('worker_threads')
      local events = require('events')
      local seen = { tid = tid, global = rawget(_G, 'LEAK'), loaded = package.loaded['leak.mod'],
                     lib = string.leak, builtin = events.leak, env = process.env.LEAK_SPEC,
                     exit_code = process.exitCode }
      _G.LEAK, package.loaded['leak.mod'], string.leak, events.leak = 1, {}, 2, 3
      process.env.LEAK_SPEC = 'leaked'
      process.exitCode = 7
      wt.parentPort:postMessage(seen)
    ]], nil, true)
    local reused = false
    for i = 1, #msgs do
      local m = msgs[i]
      assert.is_nil(m.global)
      assert.is_nil(m.loaded)
      assert.is_nil(m.lib)
      assert.is_nil(m.builtin)
      assert.is_nil(m.env)
      assert.is_nil(m.exit_code)
      assert.are.equal(7, codes[i]) -- its own process.exitCode
      for j = 1, i - 1 do reused = reused or msgs[j].tid == m.tid end
    end
    assert.is_true(reused, 'no worker ran on a thread used before')
  end)

  it('see their own workerData, threadId and environment data on a reused thread', function()
    local ids = {}
    for i = 1, 6 do
      wt.setEnvironmentData('lifecycle', i)
      local w = wt.Worker([[
        local wt = require('worker_threads')
        wt.parentPort:postMessage({ n = wt.workerData, id = wt.threadId, env = wt.getEnvironmentData('lifecycle') })
      ]], { eval = true, workerData = i * 10 })
      local m = first_message(w)
      assert.are.same({ n = i * 10, id = w.threadId, env = i }, m)
      assert.is_nil(ids[m.id])
      ids[m.id] = true
      await(exit_of(w))
    end
    wt.setEnvironmentData('lifecycle', nil)
  end)

  it('end by themselves after a terminated worker left an interval and a server open on the thread', function()
    for _ = 1, 3 do
      local w = wt.Worker([[
        setInterval(function() end, 1000)
        require('net').createServer(function() end):listen(0, '127.0.0.1', function()
          require('worker_threads').parentPort:postMessage('up')
        end)
      ]], { eval = true })
      local exited = exit_of(w)
      first_message(w)
      w:terminate()
      assert.are.equal(1, await(exited))
    end
    -- each would never end if what the ones before left open were still on its loop
    local msgs, codes = one_after_another(4, "require('worker_threads').parentPort:postMessage('hi')", nil, true)
    for i = 1, 4 do
      assert.are.equal('hi', msgs[i])
      assert.are.equal(0, codes[i])
    end
  end)

  it('can wait in Atomics.wait on a thread whose previous worker was terminated inside one', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    for _ = 1, 2 do
      Atomics.store(v, 1, 0)
      local w = wt.Worker([[
        local v = Int32Array(require('worker_threads').workerData.sab)
        Atomics.store(v, 1, 1)
        Atomics.notify(v, 1)
        Atomics.wait(v, 0, 0) -- nobody notifies: forever, but for terminate()
      ]], { eval = true, workerData = { sab = sab } })
      local exited = exit_of(w)
      while Atomics.load(v, 1) == 0 do
        await(Promise.new(function(r) setTimeout(r, 1) end))
      end
      await(Promise.new(function(r) setTimeout(r, 20) end)) -- inside the wait by now
      w:terminate()
      assert.are.equal(1, await(exited))
    end
    -- the stop request marked the thread, not the threads' next workers
    local msgs = one_after_another(4, [[
      local t0 = process.hrtime()
      local r = Atomics.wait(Int32Array(SharedArrayBuffer(4)), 0, 0, 40)
      local d = process.hrtime(t0)
      require('worker_threads').parentPort:postMessage({ r = r, ms = d[1] * 1e3 + d[2] / 1e6 })
    ]], nil, true)
    for i = 1, 4 do
      assert.are.equal('timed-out', msgs[i].r)
      assert.is_true(msgs[i].ms >= 35, 'the 40 ms wait returned after ' .. msgs[i].ms .. ' ms')
    end
  end)

  it('keep their timers right on a reused loop', function()
    for _ = 1, 3 do
      local w = wt.Worker([[
        local t0 = process.hrtime()
        setTimeout(function()
          local d = process.hrtime(t0)
          require('worker_threads').parentPort:postMessage(d[1] * 1e3 + d[2] / 1e6)
        end, 60)
      ]], { eval = true })
      local exited = exit_of(w)
      local ms = first_message(w)
      assert.is_true(ms >= 55, 'the 60 ms timer fired after ' .. ms .. ' ms')
      assert.are.equal(0, await(exited))
    end
  end)

  it("keep 'online', messages and 'exit' in order, with each one's exit code", function()
    local srcs = {
      { "require('worker_threads').parentPort:postMessage(1)", 0 },
      { "require('worker_threads').parentPort:postMessage(2) process.exit(3)", 3 },
      { "process.exit(4)", 4 },
      { "require('worker_threads').parentPort:postMessage(5) error('boom')", 1 },
      { "require('worker_threads').parentPort:postMessage(6)", 0 },
    }
    for _, case in ipairs(srcs) do
      local ev = await(Promise.new(function(resolve)
        local w = wt.Worker(case[1], { eval = true })
        local log = {}
        w:on('online', function() log[#log + 1] = 'online' end)
        w:on('message', function(v) log[#log + 1] = 'message ' .. v end)
        w:on('error', function() log[#log + 1] = 'error' end)
        w:on('exit', function(code) log[#log + 1] = 'exit ' .. code resolve(log) end)
      end))
      assert.are.equal('online', ev[1])
      assert.are.equal('exit ' .. case[2], ev[#ev])
    end
  end)
end)

describe('the collector in a new state', function()
  -- the boot holds the first cycle back until the heap has grown by the
  -- pause; from then on it runs as anywhere
  local CHURN = "jit.off() local peak = 0 for i = 1, 300000 do local t = { i, i } "
    .. "if i % 1000 == 0 then peak = math.max(peak, collectgarbage('count')) end end "
  it('collects garbage in a worker on a reused thread', function()
    local msgs = one_after_another(3, CHURN .. "require('worker_threads').parentPort:postMessage(peak)", nil, true)
    for i = 1, 3 do -- 300 000 tables of garbage are ~20 MB
      assert.is_true(msgs[i] < 6 * 1024, ('the heap reached %.0f KB'):format(msgs[i]))
    end
  end)
end)

describe('resourceLimits on reused threads', function()
  local GROW = "local t = {} for i = 1, 150000 do t[i] = ('x'):rep(100) .. i end " -- ~20 MB
  it('still apply to a limited worker started among pooled ones, and never to the ones after it', function()
    one_after_another(2, "require('worker_threads').parentPort:postMessage(1)")
    for _ = 1, 2 do
      local w = wt.Worker(GROW, { eval = true, resourceLimits = { maxOldGenerationSizeMb = 8 } })
      local err
      w:on('error', function(e) err = e end)
      assert.are.equal(1, await(exit_of(w)))
      assert.are.equal('ERR_WORKER_OUT_OF_MEMORY', err and err.code)
      local msgs, codes = one_after_another(3, GROW .. "require('worker_threads').parentPort:postMessage(#t)",
        nil, true)
      for i = 1, 3 do
        assert.are.equal(150000, msgs[i])
        assert.are.equal(0, codes[i])
      end
    end
  end)
end)

describe('spare worker threads', function()
  it('never delay process exit', function()
    -- a spare waits a second for a spawn before it ends; the process does
    -- not.  (ThreadSanitizer sleeps a second at exit by default.)
    local env = require('native.worker').tsan
      and { TSAN_OPTIONS = (os.getenv('TSAN_OPTIONS') or '') .. ':atexit_sleep_ms=0' } or nil
    local r = child.run([[
      local wt = require('worker_threads')
      for _ = 1, 3 do
        local w = wt.Worker("require('worker_threads').parentPort:postMessage('up')", { eval = true })
        await(Promise.new(function(res) w:once('message', res) end))
        await(w:terminate())
      end
      local t = process.hrtime()
      print(t[1] * 1e3 + t[2] / 1e6)
    ]], { timeout = 30, env = env })
    local now = process.hrtime()
    local done_ms = now[1] * 1e3 + now[2] / 1e6
    assert.are.equal(0, r.code, r.err)
    local last_ms = tonumber(r.out:match('^(%S+)'))
    assert.is_true(done_ms - last_ms < 900, ('exited %.0f ms after its last line'):format(done_ms - last_ms))
  end)
end)

describe('a worker state closing', function()
  it('still serves the runtime to finalizers that run as it closes', function()
    -- lua_close runs every finalizer left; one that reaches a native needing
    -- the state (here the loop clock, whose timer is made on first use)
    -- must find it, not the allocator's bare arena
    local seen = Float64Array(SharedArrayBuffer(16))
    local main_ms = require('timers')._loop_now()
    local w = wt.Worker([[
      local seen = require('worker_threads').workerData
      local timers = require('timers')
      _G.keep = newproxy(true)
      getmetatable(_G.keep).__gc = function()
        seen[0] = timers._loop_now()
        seen[1] = timers.setTimeout(function() end, 10) and 1 or 0
      end
    ]], { eval = true, workerData = seen })
    assert.are.equal(0, await(exit_of(w)))
    assert.is_true(math.abs(seen[0] - main_ms) < 60000, 'loop clock at close: ' .. seen[0] .. ' vs ' .. main_ms)
    assert.are.equal(1, seen[1])
  end)

  it("is done before the worker's 'exit': what its finalizers wrote and the unclosed files they flushed are there", function()
    local seen = Int32Array(SharedArrayBuffer(4))
    local path = os.tmpname()
    local w = wt.Worker([[
      local d = require('worker_threads').workerData
      local f = io.open(d.path, 'w')
      f:write('flushed at close') -- buffered: only its finalizer writes it out
      _G.f = f
      _G.keep = newproxy(true)
      getmetatable(_G.keep).__gc = function()
        local t0 = os.clock()
        while os.clock() - t0 < 0.05 do end -- a slow finalizer
        d.seen[0] = 1
      end
    ]], { eval = true, workerData = { seen = seen, path = path } })
    assert.are.equal(0, await(exit_of(w)))
    assert.are.equal(1, seen[0])
    local f = io.open(path)
    local text = f:read('*a')
    f:close()
    os.remove(path)
    assert.are.equal('flushed at close', text)
  end)
end)
