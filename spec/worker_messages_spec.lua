-- Delivery of message bursts (lua/luster/worker_port.lua delivers a run of
-- messages for a lone listener in one coroutine) keeps Node's order, and
-- workers started on a spare, pre-booted thread (runtime/worker.c) are
-- indistinguishable from others.
local wt = require('worker_threads')

local function wait_for(pred, ms)
  local deadline = os.time() + (ms or 5000) / 1000 + 1
  while not pred() and os.time() < deadline do
    await(Promise.new(function(r) setTimeout(r, 2) end))
  end
  return pred()
end

describe('a burst of messages to one listener', function()
  it('runs nextTicks, then microtasks, after each message', function()
    local mc = wt.MessageChannel()
    local log = {}
    mc.port2:on('message', function(i)
      log[#log + 1] = 'm' .. i
      queueMicrotask(function() log[#log + 1] = 'q' .. i end)
      process.nextTick(function() log[#log + 1] = 't' .. i end)
    end)
    for i = 1, 4 do mc.port1:postMessage(i) end
    assert.is_true(wait_for(function() return #log == 12 end))
    assert.are.same({ 'm1', 't1', 'q1', 'm2', 't2', 'q2', 'm3', 't3', 'q3', 'm4', 't4', 'q4' }, log)
    mc.port1:close()
  end)

  it('goes on with the next messages while a listener awaits', function()
    local mc = wt.MessageChannel()
    local log = {}
    local release
    local gate = Promise.new(function(r) release = r end)
    mc.port2:on('message', function(i)
      log[#log + 1] = 'start' .. i
      if i == 2 then await(gate) end
      log[#log + 1] = 'end' .. i
    end)
    for i = 1, 4 do mc.port1:postMessage(i) end
    assert.is_true(wait_for(function() return #log == 7 end))
    assert.are.same({ 'start1', 'end1', 'start2', 'start3', 'end3', 'start4', 'end4' }, log)
    release()
    assert.is_true(wait_for(function() return #log == 8 end))
    assert.are.equal('end2', log[8])
    -- and a later burst still arrives, in order, after the parked one finished
    for i = 5, 6 do mc.port1:postMessage(i) end
    assert.is_true(wait_for(function() return #log == 12 end))
    assert.are.same({ 'start5', 'end5', 'start6', 'end6' }, { log[9], log[10], log[11], log[12] })
    mc.port1:close()
  end)

  it('honours a listener replaced in the middle of a burst', function()
    local mc = wt.MessageChannel()
    local log = {}
    local function second(i) log[#log + 1] = 'b' .. i end
    local function first(i)
      log[#log + 1] = 'a' .. i
      if i == 2 then
        mc.port2:off('message', first)
        mc.port2:on('message', second)
      end
    end
    mc.port2:on('message', first)
    for i = 1, 4 do mc.port1:postMessage(i) end
    assert.is_true(wait_for(function() return #log == 4 end))
    assert.are.same({ 'a1', 'a2', 'b3', 'b4' }, log)
    mc.port1:close()
  end)

  it('reports an error in the listener and delivers the rest', function()
    local mc = wt.MessageChannel()
    local got, errs = {}, {}
    local function on_uncaught(e) errs[#errs + 1] = e end
    process:on('uncaughtException', on_uncaught)
    mc.port2:on('message', function(i)
      got[#got + 1] = i
      if i == 2 then error('boom at 2', 0) end
    end)
    for i = 1, 4 do mc.port1:postMessage(i) end
    assert.is_true(wait_for(function() return #got == 4 end))
    process:off('uncaughtException', on_uncaught)
    assert.are.same({ 1, 2, 3, 4 }, got)
    assert.are.equal(1, #errs)
    assert.is_truthy(tostring(errs[1]):find('boom at 2', 1, true))
    mc.port1:close()
  end)

  it('reaches a worker whole and in order', function()
    local n = 2000
    local w = wt.Worker([[
      local p = require('worker_threads').parentPort
      local want, sum, ok = 1, 0, true
      p:on('message', function(m)
        if m.id ~= want or m.vals[3] ~= m.id * 3 then ok = false end
        want = want + 1
        sum = sum + m.id
        if m.id == require('worker_threads').workerData then p:postMessage({ ok = ok, sum = sum }) end
      end)
    ]], { eval = true, workerData = n })
    for k = 1, n do w:postMessage({ id = k, name = 'x', vals = { k, k * 2, k * 3 } }) end
    local r = await(Promise.new(function(res) w:once('message', res) end))
    assert.is_true(r.ok)
    assert.are.equal(n * (n + 1) / 2, r.sum)
    await(w:terminate())
  end)
end)

describe('long bursts of messages of changing shapes', function()
  -- Past a few hundred messages the receiver hands the message blocks back
  -- to the sender in the middle of a burst (runtime/message_port.c), and the
  -- encoder walks each table once, starting over when an index turns up out
  -- of order (runtime/clone_fast.c): every shape must still arrive whole.
  local function shape(k)
    local r = k % 6
    if r == 0 then return { id = k, name = 'x', vals = { k, k * 2, k * 3 } } end
    if r == 1 then return { k, nil, k * 3, tag = 'holes' } end -- a hole
    if r == 2 then return setmetatable({ id = k, tag = 'meta' }, { __index = function() return 'no' end }) end
    if r == 3 then return { x = k, [2] = 'b', [1] = 'a', [3] = { k } } end -- indexes in the hash part
    if r == 4 then
      local t = { id = k, tag = 'cycle' }
      t.self = t
      return t
    end
    return { ['key' .. (k % 97)] = k, ['\0bin' .. (k % 5)] = -k, tag = 'many keys' }
  end

  it('arrive whole and in order, to a worker and back', function()
    local n = 6000 -- several times what the block caches hold
    local w = wt.Worker([[
      local wt = require('worker_threads')
      local p = wt.parentPort
      local want, bad = 1, nil
      local function check(k, m)
        local r = k % 6
        if r == 0 then return m.id == k and m.name == 'x' and m.vals[3] == k * 3 end
        if r == 1 then return m[1] == k and m[2] == nil and m[3] == k * 3 and m.tag == 'holes' end
        if r == 2 then return m.id == k and getmetatable(m) == nil and m.missing == nil end
        if r == 3 then return m.x == k and m[1] == 'a' and m[2] == 'b' and m[3][1] == k end
        if r == 4 then return m.id == k and m.self == m end
        return m['key' .. (k % 97)] == k and m['\0bin' .. (k % 5)] == -k
      end
      p:on('message', function(m)
        if not bad and not check(want, m) then bad = want end
        p:postMessage(m) -- the same shapes back, from blocks it received
        want = want + 1
        if want > wt.workerData then p:postMessage({ done = true, bad = bad }) end
      end)
    ]], { eval = true, workerData = n })
    local back, bad_back = 0, nil
    local done = Promise.new(function(res)
      w:on('message', function(m)
        if m.done then return res(m) end
        back = back + 1
        local want = shape(back)
        local same = m.id == rawget(want, 'id') and m.tag == rawget(want, 'tag') and m.x == rawget(want, 'x')
        if not same and not bad_back then bad_back = back end
      end)
    end)
    for k = 1, n do w:postMessage(shape(k)) end
    local r = await(done)
    assert.is_nil(r.bad)
    assert.are.equal(n, back)
    assert.is_nil(bad_back)
    await(w:terminate())
  end)
end)

describe('bursts over many ports at once', function()
  it('keep each port in order, blocks going back to the right sender', function()
    local nports, per = 12, 700 -- each burst longer than a hand-back lot
    local chans, ends = {}, {}
    for i = 1, nports do
      chans[i] = wt.MessageChannel()
      ends[i] = chans[i].port2
    end
    local w = wt.Worker([[
      local wt = require('worker_threads')
      local d = wt.workerData
      local left = #d.ports
      for i, port in ipairs(d.ports) do
        local want, ok = 1, true
        port:on('message', function(m)
          if m.port ~= i or m.seq ~= want or m.vals[2] ~= want * 2 then ok = false end
          want = want + 1
          port:postMessage({ port = i, seq = m.seq }) -- and back, on the same port
          if want > d.per then
            left = left - 1
            wt.parentPort:postMessage({ port = i, ok = ok })
          end
        end)
      end
    ]], { eval = true, workerData = { ports = ends, per = per }, transferList = ends })
    local replies, back_ok, backs = {}, true, 0
    for i = 1, nports do
      local want = 1
      chans[i].port1:on('message', function(m)
        if m.port ~= i or m.seq ~= want then back_ok = false end
        want = want + 1
        backs = backs + 1
        if want > per then chans[i].port1:close() end
      end)
    end
    local all = Promise.new(function(res)
      w:on('message', function(m)
        replies[#replies + 1] = m
        if #replies == nports then res() end
      end)
    end)
    for seq = 1, per do -- interleaved: every port's queue is busy at once
      for i = 1, nports do chans[i].port1:postMessage({ port = i, seq = seq, vals = { seq, seq * 2 } }) end
    end
    await(all)
    for _, r in ipairs(replies) do assert.is_true(r.ok, 'port ' .. r.port) end
    assert.is_true(wait_for(function() return backs == nports * per end))
    assert.is_true(back_ok)
    await(w:terminate())
  end)
end)

describe('a port handle', function()
  it('refuses what is not one in its per-message methods', function()
    local mc = wt.MessageChannel()
    local h = mc.port1._h
    for _, bad in ipairs({ io.stdout, {}, 'x', newproxy and newproxy(false) or io.stderr }) do
      assert.has_error(function() h.post(bad, 1) end)
      assert.has_error(function() h.take(bad) end)
    end
    h.post(h, 1) -- the handle itself still works
    mc.port1:close()
  end)
end)

describe('workers started one after another (spare threads)', function()
  it('each has its own threadId, workerData, environment and limits', function()
    local seen = {}
    for i = 1, 6 do
      wt.setEnvironmentData('spare', 'e' .. i)
      local w = wt.Worker([[
        local wt = require('worker_threads')
        wt.parentPort:postMessage({ id = wt.threadId, main = wt.isMainThread, data = wt.workerData,
                                    env = process.env.SPARE_SPEC, shared = wt.getEnvironmentData('spare'),
                                    limits = wt.resourceLimits })
      ]], { eval = true, workerData = { n = i }, env = { SPARE_SPEC = 'v' .. i } })
      local r = await(Promise.new(function(res) w:once('message', res) end))
      assert.are.equal(w.threadId, r.id)
      assert.is_false(r.main)
      assert.are.equal(i, r.data.n)
      assert.are.equal('v' .. i, r.env)
      assert.are.equal('e' .. i, r.shared)
      assert.are.same(w.resourceLimits, r.limits)
      assert.is_nil(seen[r.id])
      seen[r.id] = true
      await(w:terminate())
    end
  end)

  it('can be terminated inside a busy loop, several started at once', function()
    -- interpreted and allocating: ThreadSanitizer delivers the stop
    -- signal only at the calls it intercepts
    local src = "require('worker_threads').parentPort:postMessage('up') jit.off() "
      .. "local t = {} while true do t[1] = {} end"
    for _ = 1, 3 do
      local ws, ups = {}, {}
      for i = 1, 4 do
        ws[i] = wt.Worker(src, { eval = true })
        ups[i] = Promise.new(function(res) ws[i]:once('message', res) end)
      end
      await(Promise.all(ups))
      local codes = {}
      for i = 1, 4 do codes[i] = ws[i]:terminate() end
      for i = 1, 4 do assert.are.equal(1, await(codes[i])) end
    end
  end)
end)
