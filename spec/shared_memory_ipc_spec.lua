-- SharedArrayBuffer across processes (API.md "Shared memory across
-- processes"): a SAB sent over cluster IPC, at any depth of a message, is
-- the same memory in the receiver; Atomics (wait/notify included) work
-- across the process boundary; the memory outlives its creator; nothing is
-- left behind once every process has let go.  This spec's process is the
-- primary; workers run small scripts.
local cluster = require('cluster')
local h = require('helpers.cluster')

local function fork_script(src)
  cluster.setupPrimary({ exec = h.script(src), args = {} })
  return cluster.fork()
end

-- With a deadline: a worker that dies must fail the spec, not leave it
-- waiting on an empty loop.  Listeners and the timer go once it is over (a
-- pending one would keep the message, and its SABs, alive).
local function next_message(worker)
  local got = await(Promise.new(function(resolve)
    local on_message, on_exit, timer
    local function done(v)
      worker:off('message', on_message)
      worker:off('exit', on_exit)
      clearTimeout(timer)
      resolve(v)
    end
    on_message = function(m) done({ m }) end
    on_exit = function() done(false) end
    timer = setTimeout(function() done(false) end, 20000)
    worker:on('message', on_message)
    worker:on('exit', on_exit)
  end))
  assert(got, 'the worker sent nothing (it exited or took over 20 s)')
  return got[1]
end

local function exit_of(worker)
  if worker:isDead() then return worker.process.exitCode end
  return await(h.event(worker, 'exit'))[1]
end

-- The SABs' memfds this process holds, and its mappings of them.
local function sab_fds(pid)
  local p = io.popen(('readlink /proc/%d/fd/* 2>/dev/null'):format(pid))
  local n = 0
  for line in p:lines() do if line:find('memfd:luster-sab', 1, true) then n = n + 1 end end
  p:close()
  return n
end

local function sab_maps(pid)
  local f = assert(io.open(('/proc/%d/maps'):format(pid)))
  local n = 0
  for line in f:lines() do if line:find('memfd:luster-sab', 1, true) then n = n + 1 end end
  f:close()
  return n
end

-- Every worker answers { fds =, maps = } for itself when asked 'count'.
local COUNT = [[
  local function count(path, pat)
    local n = 0
    for line in assert(io.popen(path)):lines() do if line:find(pat, 1, true) then n = n + 1 end end
    return n
  end
  local function counts()
    collectgarbage(); collectgarbage()
    return {
      fds = count(('readlink /proc/%d/fd/* 2>/dev/null'):format(process.pid), 'memfd:luster-sab'),
      maps = count(('cat /proc/%d/maps'):format(process.pid), 'memfd:luster-sab'),
    }
  end
]]

describe('SharedArrayBuffer between cluster processes', function()
  it('is the same memory in the worker, nested deep in a message, views and all', function()
    local w = fork_script([[
      process:on('message', function(m)
        local sab = m.a[1].b.c.sab
        local v = Int32Array(sab)
        Atomics.add(v, 0, 41)                       -- seen by the primary
        m.a[1].b.c.f64[0] = 2.5                     -- a Float64Array over bytes 8..15
        process.send({ same = m.a[1].b.c.f64.buffer == sab, seen = Atomics.load(v, 1),
                       len = sab.byteLength, back = v:subarray(2) })
      end)
    ]])
    local sab = SharedArrayBuffer(64)
    local v = Int32Array(sab)
    Atomics.store(v, 0, 1)
    Atomics.store(v, 1, 7)
    w:send({ a = { { b = { c = { sab = sab, f64 = Float64Array(sab, 8, 1) } } } } })
    local r = next_message(w)
    assert.are.equal(42, Atomics.load(v, 0))
    assert.are.equal(2.5, Float64Array(sab)[1]) -- bytes 8..15
    assert.is_true(r.same)
    assert.are.equal(7, r.seen)
    assert.are.equal(64, r.len)
    -- a view sent back comes over the primary's own block
    assert.is_true(r.back.buffer == sab)
    assert.are.equal(2, r.back.byteOffset / 4)
    Atomics.store(v, 2, 9)
    assert.are.equal(9, r.back[0])
    w:kill()
    exit_of(w)
  end)

  it('outlives the process that created it', function()
    local w = fork_script([[
      local sab = SharedArrayBuffer(16)
      Atomics.store(Int32Array(sab), 0, 1234)
      process.send({ sab = sab })
      process.disconnect()
    ]])
    local sab = next_message(w).sab
    exit_of(w)
    assert.is_false(h.alive(w.process.pid))
    local v = Int32Array(sab)
    assert.are.equal(1234, Atomics.load(v, 0))
    Atomics.add(v, 0, 1)
    assert.are.equal(1235, v[0])
  end)

  it('wakes a worker in Atomics.wait with a notify from the primary', function()
    local w = fork_script([[
      process:on('message', function(m)
        local v = Int32Array(m.sab)
        Atomics.store(v, 1, 1)                          -- about to wait
        local t0 = os.clock()
        local r = Atomics.wait(v, 0, 0, 20000)
        process.send({ r = r, value = Atomics.load(v, 0) })
      end)
    ]])
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    w:send({ sab = sab })
    assert.is_true(h.wait_for(function() return Atomics.load(v, 1) == 1 end, 10000))
    local woken = 0
    assert.is_true(h.wait_for(function()
      woken = Atomics.notify(v, 0, 1)
      return woken == 1
    end, 10000))
    local r = next_message(w)
    assert.are.equal('ok', r.r)
    assert.are.equal(0, r.value)
    w:kill()
    exit_of(w)
  end)

  it('wakes the primary in Atomics.wait with a notify from a worker', function()
    local w = fork_script([[
      process:on('message', function(m)
        local v = Int32Array(m.sab)
        local deadline = os.time() + 20
        -- the primary is blocked in wait: notify until somebody was woken
        while Atomics.notify(v, 0) == 0 and os.time() < deadline do end
        process.send('notified')
      end)
    ]])
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    w:send({ sab = sab })
    local r = Atomics.wait(v, 0, 0, 20000)
    assert.are.equal('ok', r)
    assert.are.equal('notified', next_message(w))
    w:kill()
    exit_of(w)
  end)

  it('times out and compares across processes as within one', function()
    local w = fork_script([[
      process:on('message', function(m)
        local v = Int32Array(m.sab)
        local b = BigInt64Array(m.sab)
        process.send({
          ne = Atomics.wait(v, 0, 5, 1000),             -- the primary stored 3
          to = Atomics.wait(v, 1, 0, 50),
          to64 = Atomics.wait(b, 1, 0, 50),
        })
      end)
    ]])
    local sab = SharedArrayBuffer(16)
    Atomics.store(Int32Array(sab), 0, 3)
    w:send({ sab = sab })
    assert.are.same({ ne = 'not-equal', to = 'timed-out', to64 = 'timed-out' }, next_message(w))
    w:kill()
    exit_of(w)
  end)

  it('refuses more than 252 SharedArrayBuffers in one message, sending nothing', function()
    local w = fork_script([[
      process:on('message', function(m) process.send(#m) end)
    ]])
    local many = {}
    for i = 1, 253 do many[i] = SharedArrayBuffer(4) end
    local ok, e = pcall(w.send, w, many)
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    many[253] = many[1] -- the same one twice travels once
    w:send(many)
    assert.are.equal(253, next_message(w))
    w:kill()
    exit_of(w)
  end)

  it('leaves no descriptor or mapping behind once every process lets go', function()
    collectgarbage(); collectgarbage()
    local fds0, maps0 = sab_fds(process.pid), sab_maps(process.pid)
    local w = fork_script(COUNT .. [[
      local kept = {}
      process:on('message', function(m)
        if m == 'count' then process.send(counts()); return end
        if m == 'drop' then kept = {}; process.send(counts()); return end
        kept[#kept + 1] = m.sab
        -- a SAB of its own, sent to the primary, who drops it
        process.send({ n = #kept, mine = SharedArrayBuffer(4096), echo = m.sab })
      end)
    ]])
    local N = 100
    for i = 1, N do
      local sab = SharedArrayBuffer(i * 100)
      Int8Array(sab)[0] = i
      w:send({ sab = sab })
      local r = next_message(w)
      assert.are.equal(i, r.n)
      assert.is_true(r.echo == sab) -- found again by the primary, not mapped twice
    end
    local during = next_message((function() w:send('count'); return w end)())
    assert.are.equal(N, during.fds)  -- the worker holds the N it keeps
    local dropped = next_message((function() w:send('drop'); return w end)())
    assert.are.same({ fds = 0, maps = 0 }, dropped)
    collectgarbage(); collectgarbage()
    assert.are.equal(fds0, sab_fds(process.pid))
    assert.are.equal(maps0, sab_maps(process.pid))
    w:kill()
    exit_of(w)
  end)
end)

describe('shared memory examples', function()
  local root = os.getenv('LUSTER_SOURCE_DIR') or '.'

  it('examples/shared_counter.lua: every worker adds to one cell, the total is exact', function()
    local r = await(h.run({ h.bin, root .. '/examples/shared_counter.lua' }, { WORKERS = '3', ADDS = '200000' }))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(3 * 200000, tonumber(r.out:match('total (%d+)')), r.out .. r.err)
  end)

  it("examples/shared_memory_cluster.lua: the seed's SAB snippet across a process boundary", function()
    local r = await(h.run({ h.bin, root .. '/examples/shared_memory_cluster.lua' }))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('100\nmain sees 101\n', r.out)
  end)
end)

describe('SharedArrayBuffer without a descriptor left', function()
  it('still works in the process, and sending it to another is a DataCloneError', function()
    local path = h.script([[
      local cluster = require('cluster')
      if cluster.isWorker then
        process:on('message', function(m) process.send(Atomics.add(Int32Array(m.sab), 0, 1)) end)
        return
      end
      local w = cluster.fork()
      local kept, heap = {}, nil
      for i = 1, 200 do                       -- the descriptor limit is 64
        kept[i] = SharedArrayBuffer(8)
        Atomics.store(Int32Array(kept[i]), 0, i)
      end
      local ok, e = pcall(w.send, w, { sab = kept[200] })
      local sum = 0
      for i = 1, 200 do sum = sum + Atomics.load(Int32Array(kept[i]), 0) end
      for i = 2, 200 do kept[i] = nil end
      collectgarbage(); collectgarbage()        -- descriptors again: a memfd one goes
      w:send({ sab = kept[1] })
      w:on('message', function(old)
        print(ok, e and e.code, sum, old, Atomics.load(Int32Array(kept[1]), 0))
        w:kill()
      end)
    ]])
    local r = await(h.run({ '/bin/sh', '-c', 'ulimit -n 64 && exec "$0" "$1"', h.bin, path }))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(('false\tDataCloneError\t%d\t1\t2\n'):format(200 * 201 / 2), r.out)
  end)
end)
