-- The queues under ports (runtime/channel.c): messages go through a
-- lock-free inbox, everything else (a worker's 'exit', a port's 'close')
-- through a locked queue; one sender's order must hold across the two, and
-- senders on several threads must lose nothing.
local wt = require('worker_threads')
local Worker, MessageChannel = wt.Worker, wt.MessageChannel

local N = 20000

local function wait_for(p, ms, what)
  local timer
  local timeout = Promise.new(function(_, reject)
    timer = setTimeout(function() reject(what .. ': no answer within ' .. ms .. ' ms') end, ms)
  end)
  local v = await(Promise.race({ p, timeout }))
  clearTimeout(timer)
  return v
end

describe('a channel end', function()
  it("delivers every message a worker posts right before it ends, then 'exit'", function()
    local w = Worker(([[
      local p = require('worker_threads').parentPort
      for i = 1, %d do p:postMessage(i) end
    ]]):format(N), { eval = true })
    local got, in_order, at_exit = 0, true, nil
    w:on('message', function(i)
      got = got + 1
      if i ~= got then in_order = false end
    end)
    local code = wait_for(Promise.new(function(r)
      w:on('exit', function(c) at_exit = got; r(c) end)
    end), 20000, 'exit')
    assert.are.equal(0, code)
    assert.are.equal(N, at_exit)
    assert.is_true(in_order)
  end)

  it('wakes its owner when the sender exits while the owner was polling, worker after worker', function()
    -- The parent polls its end for a while after each delivery ('online'
    -- here), and a sender that sees it polling does not wake it.  The
    -- worker's EXIT then moves the posted messages out of the lock-free
    -- inbox under the lock (for N messages that takes a while); a parent
    -- that looked in between used to find neither list non-empty and never
    -- heard of them: a hang about one worker in a hundred.  500 of them, each
    -- with its own deadline.
    for round = 1, 500 do
      local w = Worker(([[
        local p = require('worker_threads').parentPort
        for i = 1, %d do p:postMessage(i) end
      ]]):format(N), { eval = true })
      local got = 0
      w:on('message', function() got = got + 1 end)
      local code = wait_for(Promise.new(function(r) w:on('exit', r) end), 5000,
        ('worker %d exit (%d messages delivered)'):format(round, got))
      assert.are.equal(0, code)
      assert.are.equal(N, got)
    end
  end)

  it("delivers a burst, then the sender's close, in that order", function()
    local ch = MessageChannel()
    local w = Worker(([[
      local port = require('worker_threads').workerData
      for i = 1, %d do port:postMessage(i) end
      port:close()
    ]]):format(N), { eval = true, workerData = ch.port2, transferList = { ch.port2 } })
    local got, in_order, at_close = 0, true, nil
    ch.port1:on('message', function(i)
      got = got + 1
      if i ~= got then in_order = false end
    end)
    wait_for(Promise.new(function(r)
      ch.port1:on('close', function() at_close = got; r() end)
    end), 20000, 'close')
    assert.are.equal(N, at_close)
    assert.is_true(in_order)
    wait_for(Promise.new(function(r) w:on('exit', r) end), 20000, 'exit')
  end)

  it('loses nothing from senders on several threads at once, each in its order', function()
    -- a BroadcastChannel subscriber's end is posted to by every thread that
    -- posts on its name: three workers here, flat out
    local bc = wt.BroadcastChannel('spec-channel-many')
    local K, per = 3, N / 2
    local last, got, in_order = {}, 0, true
    local done = Promise.new(function(resolve)
      bc:on('message', function(m)
        local from, i = m[1], m[2]
        if i ~= (last[from] or 0) + 1 then in_order = false end
        last[from] = i
        got = got + 1
        if got == K * per then resolve() end
      end)
    end)
    local workers, ready = {}, {}
    for k = 1, K do
      workers[k] = Worker(([[
        local wt = require('worker_threads')
        local bc = wt.BroadcastChannel('spec-channel-many')
        wt.parentPort:once('message', function()
          for i = 1, %d do bc:postMessage({ %d, i }) end
          bc:close()
        end)
        wt.parentPort:postMessage('ready')
      ]]):format(per, k), { eval = true })
      ready[k] = Promise.new(function(r) workers[k]:once('message', r) end)
    end
    wait_for(Promise.all(ready), 20000, 'ready')
    for k = 1, K do workers[k]:postMessage('go') end
    wait_for(done, 30000, 'all messages')
    assert.is_true(in_order)
    for k = 1, K do assert.are.equal(per, last[k]) end
    bc:close()
  end)
end)
