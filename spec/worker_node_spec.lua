-- worker_threads behaviours ported from Node's test/parallel/test-worker-*
-- (read, not copied; the test each one follows is named).  What luster
-- deliberately does differently is listed in docs/worker_threads.md.
local wt = require('worker_threads')
local Worker, MessageChannel, BroadcastChannel = wt.Worker, wt.MessageChannel, wt.BroadcastChannel
local run = require('spec.helpers.run')

local function next_event(emitter, name)
  return await(Promise.new(function(r) emitter:once(name, r) end))
end

local function sleep_ms(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

local function exit_of(w) return next_event(w, 'exit') end

describe('MessagePort (test-worker-message-port*)', function()
  it('close() twice emits one close; posting after close is silent (-close)', function()
    local ch = MessageChannel()
    local closes = 0
    ch.port1:on('close', function() closes = closes + 1 end)
    ch.port1:close()
    ch.port1:close()
    assert.is_true((pcall(ch.port1.postMessage, ch.port1, 'after close')))
    sleep_ms(10)
    assert.are.equal(1, closes)
  end)

  it('delivers messages in the order they were posted, across start() (-message-port)', function()
    local ch = MessageChannel()
    for i = 1, 50 do ch.port1:postMessage(i) end
    local got = {}
    local done = Promise.new(function(resolve)
      ch.port2:on('message', function(v)
        got[#got + 1] = v
        if #got == 100 then resolve() end
      end)
    end)
    for i = 51, 100 do ch.port1:postMessage(i) end
    await(done)
    for i = 1, 100 do assert.are.equal(i, got[i]) end
    ch.port1:close()
  end)

  it('start() delivers without a listener change; queued messages wait until then', function()
    local ch = MessageChannel()
    ch.port1:postMessage('a')
    local got
    ch.port2:once('message', function(v) got = v end) -- starts the port
    sleep_ms(10)
    assert.are.equal('a', got)
    ch.port1:close()
  end)

  it('ref()/unref()/hasRef(): a port is ref\'d while it listens, unref() lets go (-ref, -hasref)', function()
    local ch = MessageChannel()
    assert.is_false(ch.port1:hasRef())
    ch.port1:on('message', function() end)
    assert.is_true(ch.port1:hasRef())
    ch.port1:unref()
    assert.is_false(ch.port1:hasRef())
    ch.port1:ref()
    assert.is_true(ch.port1:hasRef())
    ch.port1:close()
    local out, _, code = run.script([[
      local ch = require('worker_threads').MessageChannel()
      ch.port1:on('message', function() end)
      ch.port1:unref()
      print('exits')
    ]])
    assert.are.equal('exits\n', out)
    assert.are.equal(0, code)
  end)

  it("a listener that keeps its port busy does not starve timers (-message-port-infinite-message-loop)", function()
    local ch = MessageChannel()
    local count, timer_at = 0, nil
    await(Promise.new(function(resolve)
      ch.port1:on('message', function()
        if count == 0 then
          setTimeout(function() timer_at = count; ch.port1:close(); resolve() end, 0)
        end
        count = count + 1
        if count > 20000 then ch.port1:close(); resolve() return end
        ch.port2:postMessage(0)
      end)
      ch.port2:postMessage(0)
    end))
    assert.is_truthy(timer_at, 'the timer never ran')
    assert.is_true(timer_at < 10000, 'the timer waited ' .. tostring(timer_at) .. ' messages')
  end)

  it('onmessage receives {data = value} (-onmessage)', function()
    local ch = MessageChannel()
    local ev = await(Promise.new(function(r) ch.port2.onmessage = r; ch.port1:postMessage({ n = 4 }) end))
    assert.are.equal(4, ev.data.n)
    ch.port1:close()
  end)

  it('moves the bytes of a transferred ArrayBuffer and detaches the source (-message-port-arraybuffer)', function()
    local ch = MessageChannel()
    local ab = ArrayBuffer(8)
    Uint8Array(ab)[3] = 42
    ch.port1:postMessage(ab, { ab })
    assert.are.equal(0, ab.byteLength)
    local got = next_event(ch.port2, 'message')
    assert.are.equal(8, got.byteLength)
    assert.are.equal(42, Uint8Array(got)[3])
    ch.port1:close()
  end)

  it('refuses a buffer or a port listed twice, and sends nothing (-message-port-transfer-duplicate)', function()
    local ch = MessageChannel()
    local other = MessageChannel()
    local got = 0
    ch.port2:on('message', function() got = got + 1 end)
    local ab = ArrayBuffer(4)
    assert.is_false((pcall(ch.port1.postMessage, ch.port1, ab, { ab, ab })))
    assert.is_false((pcall(ch.port1.postMessage, ch.port1, other.port1, { other.port1, other.port1 })))
    assert.are.equal(4, ab.byteLength)
    sleep_ms(10)
    assert.are.equal(0, got)
    ch.port1:close()
    other.port1:close()
  end)

  it('receiveMessageOnPort takes nothing from a closed port (-message-port-receive-message)', function()
    local ch = MessageChannel()
    ch.port1:postMessage('x')
    assert.are.same({ message = 'x' }, wt.receiveMessageOnPort(ch.port2))
    assert.is_nil(wt.receiveMessageOnPort(ch.port2))
    ch.port2:close()
    assert.is_nil(wt.receiveMessageOnPort(ch.port2))
  end)
end)

describe('BroadcastChannel (test-worker-broadcastchannel)', function()
  it('raises ERR_INVALID_STATE when posting after close', function()
    local bc = BroadcastChannel('node-port')
    bc:close()
    local ok, e = pcall(bc.postMessage, bc, 1)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_STATE', e.code)
  end)

  it('reaches every other channel of the name once, in order', function()
    local a, b, c = BroadcastChannel('node-order'), BroadcastChannel('node-order'), BroadcastChannel('node-order')
    local got_b, got_c = {}, {}
    b:on('message', function(v) got_b[#got_b + 1] = v end)
    c:on('message', function(v) got_c[#got_c + 1] = v end)
    for i = 1, 5 do a:postMessage(i) end
    sleep_ms(20)
    assert.are.same({ 1, 2, 3, 4, 5 }, got_b)
    assert.are.same({ 1, 2, 3, 4, 5 }, got_c)
    a:close(); b:close(); c:close()
  end)
end)

describe('Worker identity (test-worker-thread-id, test-worker-is-main-thread)', function()
  it('isMainThread, threadId 0 and no parentPort in the main thread', function()
    assert.is_true(wt.isMainThread)
    assert.are.equal(0, wt.threadId)
    assert.is_nil(wt.parentPort)
    assert.is_nil(wt.workerData)
  end)

  it('threadId is unique, the same inside and out, and -1 once exited', function()
    local ws, ids, msgs, exits, seen = {}, {}, {}, {}, {}
    for i = 1, 3 do
      ws[i] = Worker([[
        local wt = require('worker_threads')
        wt.parentPort:postMessage({ wt.threadId, wt.isMainThread, wt.parentPort ~= nil })
      ]], { eval = true })
      ids[i] = ws[i].threadId
      msgs[i] = Promise.new(function(r) ws[i]:once('message', r) end)
      exits[i] = Promise.new(function(r) ws[i]:once('exit', r) end)
    end
    for i, w in ipairs(ws) do
      local id = ids[i]
      assert.is_true(id > 0)
      assert.is_nil(seen[id])
      seen[id] = true
      assert.are.same({ id, false, true }, await(msgs[i]))
      await(exits[i])
      assert.are.equal(-1, w.threadId)
    end
  end)
end)

describe('workerData and environment data (test-worker-workerdata*, test-worker-environmentdata)', function()
  it('workerData is a copy taken at construction; a SharedArrayBuffer in it is shared', function()
    local sab = SharedArrayBuffer(4)
    local data = { x = 1, sab = sab }
    local w = Worker([[
      local wt = require('worker_threads')
      Int32Array(wt.workerData.sab)[0] = 99
      wt.parentPort:postMessage(wt.workerData.x)
    ]], { eval = true, workerData = data })
    data.x = 2
    assert.are.equal(1, next_event(w, 'message'))
    exit_of(w)
    assert.are.equal(99, Int32Array(sab)[0])
  end)

  it('environment data reaches nested workers, with what each level adds', function()
    wt.setEnvironmentData('node-k', 'from main')
    local w = Worker([[
      local wt = require('worker_threads')
      wt.setEnvironmentData('node-k2', 'from worker')
      local inner = wt.Worker("local wt = require('worker_threads') wt.parentPort:postMessage({ wt.getEnvironmentData('node-k'), wt.getEnvironmentData('node-k2') })", { eval = true })
      inner:on('message', function(m) wt.parentPort:postMessage(m) end)
    ]], { eval = true })
    assert.are.same({ 'from main', 'from worker' }, next_event(w, 'message'))
    exit_of(w)
    wt.setEnvironmentData('node-k', nil)
    assert.is_nil(wt.getEnvironmentData('node-k'))
  end)
end)

describe("a Worker's life (test-worker-exit-code, -terminate*, -online, -nested)", function()
  it("emits 'online' before any message", function()
    local w = Worker("require('worker_threads').parentPort:postMessage(1)", { eval = true })
    local order = {}
    w:on('message', function() order[#order + 1] = 'message' end)
    w:on('online', function() order[#order + 1] = 'online' end)
    exit_of(w)
    assert.are.same({ 'online', 'message' }, order)
  end)

  it('exits with process.exitCode, process.exit(n), 1 after an uncaught error, 0 otherwise', function()
    local cases = {
      { 'process.exitCode = 3', 3 },
      { 'process.exit(42)', 42 },
      { 'process.exitCode = 5; process.exit()', 5 },
      { "error('x')", 1 },
      { 'local x = 1', 0 },
    }
    for _, c in ipairs(cases) do
      local w = Worker(c[1], { eval = true })
      w:on('error', function() end)
      assert.are.equal(c[2], exit_of(w), c[1])
    end
  end)

  it('terminate() resolves with the exit code; after exit, with nil', function()
    local w = Worker('setInterval(function() end, 1000)', { eval = true })
    next_event(w, 'online')
    assert.are.equal(1, await(w:terminate()))
    assert.is_nil(await(w:terminate()))
  end)

  it('terminate() of an unref\'d worker keeps the loop until it resolves (-terminate-unref)', function()
    local out, _, code = run.script([[
      local w = require('worker_threads').Worker('setInterval(function() end, 1000)', { eval = true })
      w:unref()
      w:terminate():next(function(c) print('terminated ' .. tostring(c)) end)
    ]])
    assert.are.equal('terminated 1\n', out)
    assert.are.equal(0, code)
  end)

  it('hasRef() is true while running, false after unref() and after exit', function()
    local w = Worker("require('worker_threads').parentPort:once('message', function() end)", { eval = true })
    assert.is_true(w:hasRef())
    w:unref()
    assert.is_false(w:hasRef())
    w:ref()
    w:postMessage('go')
    exit_of(w)
    assert.is_false(w:hasRef())
  end)

  it("reports a nested worker's uncaught error to its parent worker, which can go on", function()
    local w = Worker([[
      local wt = require('worker_threads')
      local inner = wt.Worker("error('inner failure', 0)", { eval = true })
      inner:on('error', function(e) wt.parentPort:postMessage(e.message) end)
    ]], { eval = true })
    assert.are.equal('inner failure', next_event(w, 'message'))
    assert.are.equal(0, exit_of(w))
  end)

  it('SHARE_ENV: environment changes go both ways (test-worker-process-env-shared)', function()
    process.env.NODE_PORT_SHARED = 'parent'
    local w = Worker([[
      local wt = require('worker_threads')
      local seen = process.env.NODE_PORT_SHARED
      process.env.NODE_PORT_SHARED = 'worker'
      wt.parentPort:postMessage(seen)
    ]], { eval = true, env = wt.SHARE_ENV })
    assert.are.equal('parent', next_event(w, 'message'))
    exit_of(w)
    assert.are.equal('worker', process.env.NODE_PORT_SHARED)
    process.env.NODE_PORT_SHARED = nil
  end)
end)

describe('worker output (test-worker-stdio)', function()
  it("goes to the process's stdout and stderr, all of it before 'exit'", function()
    local out, err, code = run.script([[
      local w = require('worker_threads').Worker([=[
        print('print line')
        console.log('console line')
        process.stdout:write('stdout write\n')
        console.error('console error')
        process.stderr:write('stderr write\n')
      ]=], { eval = true })
      w:on('exit', function(c) print('exit ' .. c) end)
    ]])
    assert.are.equal('print line\nconsole line\nstdout write\nexit 0\n', out)
    assert.are.equal('console error\nstderr write\n', err)
    assert.are.equal(0, code)
  end)
end)
