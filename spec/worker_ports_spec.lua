-- worker_threads: MessageChannel, MessagePort, BroadcastChannel,
-- receiveMessageOnPort, environment data, markAsUntransferable.
local wt = require('worker_threads')
local Worker, MessageChannel = wt.Worker, wt.MessageChannel

local function next_event(emitter, name)
  return await(Promise.new(function(r) emitter:once(name, r) end))
end

local function sleep_ms(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

describe('a MessageChannel', function()
  it('carries messages both ways between port1 and port2, in order', function()
    local ch = MessageChannel()
    local got = {}
    local done = Promise.new(function(resolve)
      ch.port2:on('message', function(v)
        got[#got + 1] = v
        if #got == 100 then resolve() end
      end)
    end)
    for i = 1, 100 do ch.port1:postMessage({ i = i }) end
    await(done)
    for i = 1, 100 do assert.are.equal(i, got[i].i) end
    ch.port2:postMessage('back')
    assert.are.equal('back', next_event(ch.port1, 'message'))
    ch.port1:close()
  end)

  it('is built by MessageChannel() and MessageChannel.new()', function()
    local a, b = MessageChannel(), MessageChannel.new()
    assert.is_table(a.port1)
    assert.is_table(b.port2)
    a.port1:close()
    b.port1:close()
  end)

  it("emits 'close' on both ports when one is closed", function()
    local ch = MessageChannel()
    local c1 = Promise.new(function(r) ch.port1:on('close', r) end)
    local c2 = Promise.new(function(r) ch.port2:on('close', r) end)
    ch.port2:on('message', function() end)
    ch.port1:close()
    await(c1)
    await(c2)
  end)

  it("emits 'close' on port1 when port2 closes, whatever listeners port1 has", function()
    -- only a 'close' listener, no 'message' one
    local a = MessageChannel()
    local closed = Promise.new(function(r) a.port1:on('close', r) end)
    a.port2:close()
    await(closed)
    -- a 'close' listener added by once, with messages still queued on port1
    local b = MessageChannel()
    b.port2:postMessage('never read')
    local closed2 = Promise.new(function(r) b.port1:once('close', r) end)
    b.port2:close()
    await(closed2)
    -- a 'message' listener that was removed again
    local c = MessageChannel()
    local function on_message() end
    c.port1:on('message', on_message)
    c.port1:off('message', on_message)
    local closed3 = Promise.new(function(r) c.port1:on('close', r) end)
    c.port2:close()
    await(closed3)
  end)

  it('does not keep the loop alive for a close listener alone', function()
    local out, _, code = require('spec.helpers.run').script([[
      local ch = require('worker_threads').MessageChannel()
      ch.port1:on('close', function() print('closed') end)
      print('end of script')
    ]])
    assert.are.equal('end of script\n', out)
    assert.are.equal(0, code)
  end)

  it('keeps messages queued until a listener starts the port', function()
    local ch = MessageChannel()
    ch.port1:postMessage('early')
    sleep_ms(10)
    assert.are.equal('early', next_event(ch.port2, 'message'))
    ch.port1:close()
  end)
end)

describe('receiveMessageOnPort', function()
  it('takes queued messages one by one, oldest first, then nil', function()
    local ch = MessageChannel()
    ch.port1:postMessage('a')
    ch.port1:postMessage({ b = 2 })
    assert.are.same({ message = 'a' }, wt.receiveMessageOnPort(ch.port2))
    assert.are.same({ message = { b = 2 } }, wt.receiveMessageOnPort(ch.port2))
    assert.is_nil(wt.receiveMessageOnPort(ch.port2))
    ch.port1:close()
  end)

  it('leaves the port closable with messages still queued', function()
    local ch = wt.MessageChannel()
    for i = 1, 3 do ch.port1:postMessage(i) end
    assert.are.same({ message = 1 }, wt.receiveMessageOnPort(ch.port2))
    ch.port2:close() -- frees 2 and 3, not 1 again
    ch.port1:close()
    collectgarbage()
  end)

  it('rejects what is not a port', function()
    local ok, e = pcall(wt.receiveMessageOnPort, {})
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)

describe('a MessagePort in a transferList', function()
  it('moves to a worker, which then talks over it directly', function()
    local ch = MessageChannel()
    local w = Worker([[
      local wt = require('worker_threads')
      local port = wt.workerData.port
      port:on('message', function(m)
        port:postMessage('worker got ' .. m)
        port:close()
      end)
    ]], { eval = true, workerData = { port = ch.port2 }, transferList = { ch.port2 } })
    local exited = Promise.new(function(r) w:on('exit', r) end)
    ch.port1:postMessage('ping')
    assert.are.equal('worker got ping', next_event(ch.port1, 'message'))
    await(exited)
  end)

  it('moves through postMessage too, keeping messages queued before the move', function()
    local ch = MessageChannel()
    ch.port1:postMessage('queued before the move')
    local w = Worker([[
      local port = require('worker_threads').parentPort
      port:on('message', function(m)
        m.port:on('message', function(v)
          port:postMessage(v)
          m.port:close()
          port:close()
        end)
      end)
    ]], { eval = true })
    w:postMessage({ port = ch.port2 }, { ch.port2 })
    assert.are.equal('queued before the move', next_event(w, 'message'))
    assert.is_false(ch.port2._h:is_open())
  end)

  for _, n in ipairs({ 1000, 100000 }) do
    it(("delivers all %d messages a worker posts on it before the worker's 'exit'"):format(n), function()
      local ch = MessageChannel()
      local w = Worker([[
        local wt = require('worker_threads')
        local port = wt.workerData.port
        for i = 1, wt.workerData.n do port:postMessage(i) end
      ]], { eval = true, workerData = { port = ch.port2, n = n }, transferList = { ch.port2 } })
      local got, last = 0, 0
      ch.port1:on('message', function(v) got = got + 1; if v == last + 1 then last = v end end)
      local at_exit = await(Promise.new(function(r) w:on('exit', function() r({ got, last }) end) end))
      assert.are.same({ n, n }, at_exit)
      ch.port1:close()
    end)
  end

  it("delivers what a worker posts on a port it received by message before 'exit'", function()
    local ch = MessageChannel()
    local w = Worker([[
      local port = require('worker_threads').parentPort
      port:once('message', function(m)
        for i = 1, 1000 do m.port:postMessage(i) end
        port:close()
      end)
    ]], { eval = true })
    local got = 0
    ch.port1:on('message', function() got = got + 1 end)
    w:postMessage({ port = ch.port2 }, { ch.port2 })
    local at_exit = await(Promise.new(function(r) w:on('exit', function() r(got) end) end))
    assert.are.equal(1000, at_exit)
    ch.port1:close()
  end)

  it('listed in its own transferList raises DataCloneError, and the channel stays usable', function()
    local ch = MessageChannel()
    local ok, e = pcall(ch.port1.postMessage, ch.port1, nil, { ch.port1 })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    assert.are.equal('Transfer list contains source port', e.message)
    -- nothing was transferred, not even a buffer listed with it
    local buf = ArrayBuffer(8)
    ok = pcall(ch.port1.postMessage, ch.port1, buf, { buf, ch.port1 })
    assert.is_false(ok)
    assert.are.equal(8, buf.byteLength)
    ch.port1:postMessage(2)
    assert.are.equal(2, next_event(ch.port2, 'message'))
    ch.port2:postMessage(3)
    assert.are.equal(3, next_event(ch.port1, 'message'))
    ch.port1:close()
  end)

  it('posted to itself is lost with its channel: the buffers move, the sender closes', function()
    local ch = MessageChannel()
    local got
    ch.port2:on('message', function(v) got = v end)
    local c2 = Promise.new(function(r) ch.port2:on('close', r) end)
    local buf = ArrayBuffer(10)
    ch.port2:postMessage(nil, { ch.port1, buf })
    assert.are.equal(0, buf.byteLength)
    await(c2)
    assert.is_nil(got)
    assert.is_false(ch.port1._h:is_open())
  end)

  it('must be listed in the transferList', function()
    local ch = MessageChannel()
    local ok, e = pcall(ch.port1.postMessage, ch.port1, { p = ch.port2 })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    ch.port1:close()
  end)

  it('cannot be moved once closed', function()
    local ch = MessageChannel()
    local other = MessageChannel()
    ch.port2:close()
    local ok, e = pcall(other.port1.postMessage, other.port1, ch.port2, { ch.port2 })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    other.port1:close()
  end)
end)

describe('a BroadcastChannel', function()
  it('reaches every other channel of its name, in this thread and in workers, not itself', function()
    local bc = wt.BroadcastChannel('spec-news')
    local mine = wt.BroadcastChannel('spec-news')
    local other = wt.BroadcastChannel('other-news')
    local self_got, other_got = 0, 0
    bc:on('message', function() self_got = self_got + 1 end)
    other:on('message', function() other_got = other_got + 1 end)
    local w = Worker([[
      local wt = require('worker_threads')
      local bc = wt.BroadcastChannel('spec-news')
      bc:on('message', function(m)
        bc:postMessage('worker heard ' .. m)
        bc:close()
      end)
      wt.parentPort.postMessage('ready')
    ]], { eval = true })
    assert.are.equal('ready', next_event(w, 'message'))
    local heard = Promise.new(function(r) mine:on('message', function(m) if m:find('worker') then r(m) end end) end)
    bc:postMessage('hello')
    assert.are.equal('worker heard hello', await(heard))
    sleep_ms(10)
    assert.are.equal(1, self_got) -- bc heard the worker, not itself
    assert.are.equal(0, other_got)
    bc:close(); mine:close(); other:close()
  end)
end)

describe('environment data', function()
  it('set in the parent is seen by workers started later', function()
    wt.setEnvironmentData('config', { mode = 'fast' })
    assert.are.same({ mode = 'fast' }, wt.getEnvironmentData('config'))
    local w = Worker([[
      local wt = require('worker_threads')
      wt.parentPort.postMessage(wt.getEnvironmentData('config'))
    ]], { eval = true })
    assert.are.same({ mode = 'fast' }, next_event(w, 'message'))
    wt.setEnvironmentData('config', nil)
  end)
end)

describe('markAsUntransferable', function()
  it('makes a transfer of that buffer a DataCloneError', function()
    local ab = ArrayBuffer(8)
    wt.markAsUntransferable(ab)
    local ch = MessageChannel()
    local ok, e = pcall(ch.port1.postMessage, ch.port1, ab, { ab })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    assert.are.equal(8, ab.byteLength)
    ch.port1:close()
  end)
end)
