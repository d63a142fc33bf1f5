-- Atomics (API.md "Shared memory and Atomics").
local ffi = require('ffi')

local function err_of(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return e
end

local function now_ms()
  local t = process.hrtime()
  return t[1] * 1e3 + t[2] / 1e6
end

describe('Atomics read-modify-write', function()
  local v
  before_each(function() v = Int32Array(SharedArrayBuffer(16)) end)

  it('add and sub return the old value and update the cell', function()
    v[1] = 10
    assert.are.equal(10, Atomics.add(v, 1, 5))
    assert.are.equal(15, Atomics.sub(v, 1, 3))
    assert.are.equal(12, v[1])
  end)

  it('and, or, xor combine bits and return the old value', function()
    v[0] = 12
    assert.are.equal(12, Atomics['and'](v, 0, 10))
    assert.are.equal(8, Atomics['or'](v, 0, 3))
    assert.are.equal(11, Atomics.xor(v, 0, 1))
    assert.are.equal(10, v[0])
  end)

  it('exchange swaps in a value and returns the old one', function()
    v[2] = 4
    assert.are.equal(4, Atomics.exchange(v, 2, 9))
    assert.are.equal(9, v[2])
  end)

  it('compareExchange only swaps when the cell holds the expected value', function()
    v[0] = 1
    assert.are.equal(1, Atomics.compareExchange(v, 0, 2, 50))
    assert.are.equal(1, v[0])
    assert.are.equal(1, Atomics.compareExchange(v, 0, 1, 50))
    assert.are.equal(50, v[0])
  end)

  it('load and store go through the same cells as indexing', function()
    Atomics.store(v, 3, -8)
    assert.are.equal(-8, v[3])
    v[2] = 6
    assert.are.equal(6, Atomics.load(v, 2))
  end)

  it('wrap around in small unsigned arrays', function()
    local u = Uint8Array(SharedArrayBuffer(1))
    u[0] = 250
    assert.are.equal(250, Atomics.add(u, 0, 10))
    assert.are.equal(4, u[0])
  end)

  it('work on every integer array kind', function()
    for _, T in ipairs({ Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array }) do
      local a = T(4)
      Atomics.store(a, 3, 7)
      assert.are.equal(7, Atomics.add(a, 3, 1))
      assert.are.equal(8, Atomics.load(a, 3))
    end
  end)

  it('handle 64-bit cells in BigInt64Array and BigUint64Array', function()
    local b = BigInt64Array(SharedArrayBuffer(16))
    b[0] = 2 ^ 40
    assert.is_true(Atomics.add(b, 0, 1) == 2 ^ 40)
    assert.is_true(Atomics.load(b, 0) == 1099511627777LL)
    assert.is_true(ffi.istype('int64_t', Atomics.load(b, 0)))
    local u = BigUint64Array(1)
    Atomics.store(u, 0, 0xffffffffffffffffULL)
    assert.is_true(Atomics.add(u, 0, 1) == 0xffffffffffffffffULL)
    assert.is_true(u[0] == 0ULL)
  end)

  it('refuse float arrays and non-views', function()
    assert.are.equal('ERR_INVALID_ARG_TYPE', err_of(Atomics.add, Float64Array(1), 0, 1).code)
    assert.are.equal('ERR_INVALID_ARG_TYPE', err_of(Atomics.load, {}, 0).code)
  end)

  it('raise on an index out of range', function()
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(Atomics.add, v, 4, 1).code)
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(Atomics.load, v, -1).code)
  end)

  it('report lock-freedom for 1, 2, 4 and 8 byte cells', function()
    assert.is_true(Atomics.isLockFree(4))
    assert.is_true(Atomics.isLockFree(8))
    assert.is_false(Atomics.isLockFree(3))
  end)
end)

describe('Atomics.wait and notify', function()
  it('return not-equal at once when the cell holds another value', function()
    local v = Int32Array(SharedArrayBuffer(4))
    v[0] = 1
    assert.are.equal('not-equal', Atomics.wait(v, 0, 0, 1000))
  end)

  it('time out after the given milliseconds', function()
    local v = Int32Array(SharedArrayBuffer(4))
    local t0 = now_ms()
    assert.are.equal('timed-out', Atomics.wait(v, 0, 0, 30))
    assert.is_true(now_ms() - t0 >= 29)
  end)

  it('work on BigInt64Array cells', function()
    local b = BigInt64Array(SharedArrayBuffer(8))
    assert.are.equal('timed-out', Atomics.wait(b, 0, 0, 1))
    assert.are.equal('not-equal', Atomics.wait(b, 0, 5, 1))
  end)

  it('refuse a non-shared or non-Int32/BigInt64 array', function()
    assert.are.equal('ERR_INVALID_ARG_TYPE', err_of(Atomics.wait, Int32Array(1), 0, 0, 1).code)
    assert.are.equal('ERR_INVALID_ARG_TYPE', err_of(Atomics.wait, Uint8Array(SharedArrayBuffer(4)), 0, 0, 1).code)
  end)

  it('notify returns 0 when nobody waits', function()
    assert.are.equal(0, Atomics.notify(Int32Array(SharedArrayBuffer(4)), 0, 1))
    assert.are.equal(0, Atomics.notify(Int32Array(4), 0))
  end)

  it('a worker thread wakes the main thread blocked in wait', function()
    local Worker = require('worker_threads').Worker
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local w = Worker([[
      local wt = require('worker_threads')
      local v = Int32Array(wt.workerData.sab)
      while Atomics.load(v, 1) == 0 do end        -- main is about to wait
      local t = os.clock() + 0.02 while os.clock() < t do end
      Atomics.store(v, 0, 42)
      Atomics.notify(v, 0)
    ]], { eval = true, workerData = { sab = sab } })
    Atomics.store(v, 1, 1)
    assert.are.equal('ok', Atomics.wait(v, 0, 0, 5000))
    assert.are.equal(42, v[0])
    await(w:terminate())
  end)

  it('a worker blocked in wait with no timeout can still be terminated', function()
    local Worker = require('worker_threads').Worker
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local w = Worker([[
      local v = Int32Array(require('worker_threads').workerData.sab)
      Atomics.store(v, 1, 1)
      Atomics.wait(v, 0, 0) -- nobody notifies: forever, but for terminate()
    ]], { eval = true, workerData = { sab = sab } })
    local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end
    local deadline = os.time() + 5
    while Atomics.load(v, 1) == 0 and os.time() < deadline do sleep(1) end
    sleep(20) -- well inside the wait by now
    local exited
    w:on('exit', function(code) exited = code end)
    local t = os.time()
    assert.are.equal(1, await(w:terminate()))
    assert.is_true(os.time() - t <= 2)
    sleep(5)
    assert.are.equal(1, exited)
  end)
end)

-- A worker that waits on cell 0 of `sab` with `timeout`, after setting
-- cell 1; it posts what wait returned.
local function waiting_worker(sab, timeout)
  local Worker = require('worker_threads').Worker
  return Worker([[
    local wt = require('worker_threads')
    local v = Int32Array(wt.workerData.sab)
    Atomics.store(v, 1, 1)
    wt.parentPort:postMessage(Atomics.wait(v, 0, 0, wt.workerData.timeout))
  ]], { eval = true, workerData = { sab = sab, timeout = timeout } })
end

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

local function until_waiting(v)
  local deadline = os.time() + 5
  while Atomics.load(v, 1) == 0 and os.time() < deadline do sleep(1) end
  sleep(20) -- well inside the wait by now
end

describe('Atomics.wait with a timeout beyond the clock', function()
  -- 2^63 ms, 1e300 ms: no deadline the clock can represent, so forever
  -- (as math.huge and NaN are); the waiter sleeps, notify() wakes it.
  for _, t in ipairs({ { 2 ^ 63, '2^63' }, { 1e22, '1e22' }, { 1e300, '1e300' },
                       { math.huge, 'math.huge' }, { 0 / 0, 'NaN' } }) do
    it('waits forever with ' .. t[2] .. ' ms, idle, until notify() from main', function()
      local sab = SharedArrayBuffer(8)
      local v = Int32Array(sab)
      local w = waiting_worker(sab, t[1])
      local answer = Promise.new(function(r) w:on('message', r) end)
      until_waiting(v)
      -- the waiting thread must sleep: the process's CPU time over 300 ms
      -- of waiting stays far below the 300 ms a spinning thread burns
      local cpu0 = os.clock()
      sleep(300)
      local cpu = os.clock() - cpu0
      assert.is_true(cpu < 0.15, ('%.0f ms of CPU while waiting'):format(cpu * 1000))
      assert.are.equal(1, Atomics.notify(v, 0))
      assert.are.equal('ok', await(answer))
      await(Promise.new(function(r) w:on('exit', r) end))
    end)
  end

  it('a worker waiting with 1e300 ms is ended by terminate()', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local w = waiting_worker(sab, 1e300)
    until_waiting(v)
    local t = os.time()
    assert.are.equal(1, await(w:terminate()))
    assert.is_true(os.time() - t <= 2)
  end)

  it('treats a negative timeout as 0', function()
    local v = Int32Array(SharedArrayBuffer(4))
    local t0 = now_ms()
    assert.are.equal('timed-out', Atomics.wait(v, 0, 0, -5))
    assert.are.equal('timed-out', Atomics.wait(v, 0, 0, -math.huge))
    assert.is_true(now_ms() - t0 < 1000)
  end)

  it('waitAsync with 1e300 ms stays pending until notified', function()
    local v = Int32Array(SharedArrayBuffer(4))
    local r = Atomics.waitAsync(v, 0, 0, 1e300)
    assert.is_true(r.async)
    local settled
    r.value:next(function(x) settled = x end)
    sleep(30)
    assert.is_nil(settled)
    assert.are.equal(1, Atomics.notify(v, 0))
    assert.are.equal('ok', await(r.value))
  end)
end)

describe('Atomics.waitAsync', function()
  it('answers synchronously not-equal when the value differs', function()
    local v = Int32Array(SharedArrayBuffer(4))
    v[0] = 3
    local r = Atomics.waitAsync(v, 0, 0)
    assert.are.same({ async = false, value = 'not-equal' }, r)
  end)

  it('answers synchronously timed-out for a zero timeout', function()
    local r = Atomics.waitAsync(Int32Array(SharedArrayBuffer(4)), 0, 0, 0)
    assert.are.same({ async = false, value = 'timed-out' }, r)
  end)

  it('resolves its promise with timed-out without blocking the loop', function()
    local v = Int32Array(SharedArrayBuffer(4))
    local ticked = false
    setTimeout(function() ticked = true end, 5)
    local r = Atomics.waitAsync(v, 0, 0, 40)
    assert.is_true(r.async)
    assert.are.equal('timed-out', await(r.value))
    assert.is_true(ticked)
  end)

  it('resolves its promise with ok when notified', function()
    local v = Int32Array(SharedArrayBuffer(8))
    local r = Atomics.waitAsync(v, 1, 0)
    assert.is_true(r.async)
    assert.are.equal(1, Atomics.notify(v, 1, 1))
    assert.are.equal('ok', await(r.value))
  end)

  it('wakes waiters in the order they started waiting', function()
    local v = Int32Array(SharedArrayBuffer(4))
    local order = {}
    local a = Atomics.waitAsync(v, 0, 0, 1000)
    local b = Atomics.waitAsync(v, 0, 0, 1000)
    a.value:next(function() order[#order + 1] = 'a' end)
    b.value:next(function() order[#order + 1] = 'b' end)
    assert.are.equal(1, Atomics.notify(v, 0, 1))
    await(a.value)
    assert.are.same({ 'a' }, order)
    assert.are.equal(1, Atomics.notify(v, 0))
    await(b.value)
    assert.are.same({ 'a', 'b' }, order)
  end)
end)

-- Memory shared with another process (API.md "Shared memory across
-- processes"): sync waits sleep on a process-shared futex.  Threads and
-- cluster processes together.
describe('Atomics.wait across threads and processes', function()
  local cluster = require('cluster')
  local h = require('helpers.cluster')

  -- A cluster worker that, for each SAB it is sent, notifies cell 0 until
  -- somebody was woken (for m.patience seconds), then answers how many.
  local function notifier()
    cluster.setupPrimary({ exec = h.script([[
      process:on('message', function(m)
        local v = Int32Array(m.sab)
        local deadline, n = os.time() + m.patience, 0
        repeat n = Atomics.notify(v, 0) until n > 0 or os.time() > deadline
        process.send(n)
      end)
    ]]), args = {} })
    return cluster.fork()
  end

  local function message_of(w)
    return await(Promise.new(function(r) w:once('message', r) end))
  end

  it('a thread already waiting when the memory first leaves the process is woken from the other process', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local t = waiting_worker(sab, 10000) -- asleep on this process's lock before the send
    until_waiting(v)
    local p = notifier()
    -- listen to both before either can answer
    local answer = Promise.new(function(r) p:once('message', r) end)
    local woken = Promise.new(function(r) t:once('message', r) end)
    p:send({ sab = sab, patience = 10 })
    assert.are.equal('ok', await(woken))
    assert.are.equal(1, await(answer))
    p:kill()
    await(t:terminate())
  end)

  it('a thread waits on the futex once the memory is shared, woken by a thread or a process', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local p = notifier()
    p:send({ sab = sab, patience = 0 })
    assert.are.equal(0, message_of(p)) -- it has mapped the memory; nobody waited yet
    local t = waiting_worker(sab, 10000)
    until_waiting(v)
    assert.are.equal(1, Atomics.notify(v, 0)) -- from this process's main thread
    assert.are.equal('ok', await(Promise.new(function(r) t:once('message', r) end)))
    await(t:terminate())
    p:kill()
  end)

  it('a SAB a process received goes on to its worker threads: one memory for all', function()
    cluster.setupPrimary({ exec = h.script([[
      local Worker = require('worker_threads').Worker
      process:on('message', function(m)
        local t = Worker([=[
          local wt = require('worker_threads')
          local v = Int32Array(wt.workerData.sab)
          for _ = 1, 1000 do Atomics.add(v, 0, 1) end
          Atomics.store(v, 1, 1)
          Atomics.notify(v, 1)                  -- wakes the primary, another process
        ]=], { eval = true, workerData = { sab = m.sab } })
        t:on('exit', function() process.send('done') end)
      end)
    ]]), args = {} })
    local p = cluster.fork()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    p:send({ sab = sab })
    local r = Atomics.wait(v, 1, 0, 20000)
    assert.is_true(r == 'ok' or r == 'not-equal')
    assert.are.equal('done', message_of(p))
    assert.are.equal(1000, Atomics.load(v, 0))
    p:kill()
  end)

  it('waitAsync on shared memory is resolved by a notify from another process, or times out', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local p = notifier()
    p:send({ sab = sab, patience = 0 })
    assert.are.equal(0, message_of(p)) -- mapped there: the memory is shared now
    local late = Atomics.waitAsync(v, 1, 0, 50)
    local r = Atomics.waitAsync(v, 0, 0, 10000)
    assert.is_true(r.async)
    p:send({ sab = sab, patience = 10 })
    assert.are.equal(1, message_of(p))
    assert.are.equal('ok', await(r.value))
    assert.are.equal('timed-out', await(late.value))
    p:kill()
  end)

  it('waitAsync in another process is resolved by a notify from this one', function()
    cluster.setupPrimary({ exec = h.script([[
      process:on('message', function(m)
        local v = Int32Array(m.sab)
        local r = Atomics.waitAsync(v, 0, 0, 10000)
        Atomics.store(v, 1, 1)
        r.value:next(function(x) process.send(x) end)
      end)
    ]]), args = {} })
    local p = cluster.fork()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    p:send({ sab = sab })
    assert.is_true(h.wait_for(function() return Atomics.load(v, 1) == 1 end, 10000))
    assert.is_true(h.wait_for(function() return Atomics.notify(v, 0, 1) == 1 end, 10000))
    assert.are.equal('ok', message_of(p))
    p:kill()
  end)

  it('a worker thread with a waitAsync pending on shared memory can be terminated', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local p = notifier()
    p:send({ sab = sab, patience = 0 })
    assert.are.equal(0, message_of(p))
    local t = require('worker_threads').Worker([[
      local v = Int32Array(require('worker_threads').workerData.sab)
      Atomics.waitAsync(v, 0, 0)      -- forever: keeps this thread's loop
      Atomics.store(v, 1, 1)
    ]], { eval = true, workerData = { sab = sab } })
    until_waiting(v)
    assert.are.equal(1, await(t:terminate()))
    sleep(120) -- the futex thread has seen it within a slice and left
    assert.are.equal(0, Atomics.notify(v, 0))
    p:kill()
  end)

  it('terminate() still ends a thread waiting forever on shared memory', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    local p = notifier()
    p:send({ sab = sab, patience = 0 })
    assert.are.equal(0, message_of(p))
    local t = waiting_worker(sab, math.huge)
    until_waiting(v)
    local t0 = os.time()
    assert.are.equal(1, await(t:terminate()))
    assert.is_true(os.time() - t0 <= 2)
    p:kill()
  end)
end)
