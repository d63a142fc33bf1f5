-- worker_threads (API.md "worker_threads"): Worker, its events, messages,
-- terminate, limits.  Ports, channels and pools: worker_ports_spec.lua,
-- worker_pool_spec.lua.
local wt = require('worker_threads')
local Worker = wt.Worker
local run = require('spec.helpers.run')

-- Start a worker and collect its events until 'exit'.
local function events_of(what, opts, setup)
  return await(Promise.new(function(resolve)
    local w = Worker(what, opts)
    local ev = {}
    for _, name in ipairs({ 'online', 'message', 'messageerror', 'error' }) do
      w:on(name, function(v) ev[#ev + 1] = { name, v } end)
    end
    w:on('exit', function(code) ev[#ev + 1] = { 'exit', code }; resolve(ev) end)
    if setup then setup(w) end
  end))
end

local function names(ev)
  local t = {}
  for i, e in ipairs(ev) do t[i] = e[1] end
  return table.concat(t, ' ')
end

local function messages(ev)
  local t = {}
  for _, e in ipairs(ev) do if e[1] == 'message' then t[#t + 1] = e[2] end end
  return t
end

local function tmpfile(src)
  local p = os.tmpname() .. '.lua'
  local f = io.open(p, 'w')
  f:write(src)
  f:close()
  return p
end

local function sleep_ms(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

-- ThreadSanitizer runs a signal handler only when the thread next calls an
-- intercepted C function: a pure Lua loop never does, so it cannot be
-- preempted in a TSan build.
local function needs_preemption()
  if require('native.worker').tsan then
    pending('ThreadSanitizer defers signal handlers until the thread calls into libc')
    return true
  end
end

describe('a Worker', function()
  it('runs a file with workerData and sees itself as a worker', function()
    local p = tmpfile([[
      local wt = require('worker_threads')
      wt.parentPort.postMessage({ main = wt.isMainThread, data = wt.workerData, id = wt.threadId,
                                  file = __filename })
    ]])
    local ev = events_of(p, { workerData = { num = 42, list = { 1, 2 } } })
    os.remove(p)
    assert.are.equal('online message exit', names(ev))
    local m = ev[2][2]
    assert.is_false(m.main)
    assert.are.same({ num = 42, list = { 1, 2 } }, m.data)
    assert.is_true(m.id > 0)
    assert.are.equal(p, m.file)
    assert.are.equal(0, ev[3][2])
    assert.is_true(wt.isMainThread)
    assert.are.equal(0, wt.threadId)
  end)

  it('runs Lua source with eval = true', function()
    local ev = events_of("require('worker_threads').parentPort:postMessage(6 * 7)", { eval = true })
    assert.are.same({ 42 }, messages(ev))
  end)

  it('runs a Lua function without upvalues, called with workerData', function()
    local ev = events_of(function(data)
      require('worker_threads').parentPort.postMessage(data.a + data.b)
    end, { workerData = { a = 40, b = 2 } })
    assert.are.same({ 42 }, messages(ev))
  end)

  it('refuses a function with upvalues', function()
    local up = 1
    local ok, e = pcall(Worker, function() return up end)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_VALUE', e.code)
  end)

  it('is built by Worker(...) and by Worker.new(...)', function()
    local a = events_of("require('worker_threads').parentPort.postMessage('a')", { eval = true })
    local b = await(Promise.new(function(resolve)
      local w = Worker.new("require('worker_threads').parentPort.postMessage('b')", { eval = true })
      w:on('message', resolve)
    end))
    assert.are.same({ 'a' }, messages(a))
    assert.are.equal('b', b)
  end)

  it('gives each worker its own threadId, the same on both sides', function()
    local w1 = Worker("require('worker_threads').parentPort.postMessage(require('worker_threads').threadId)", { eval = true })
    local w2 = Worker("require('worker_threads').parentPort.postMessage(require('worker_threads').threadId)", { eval = true })
    local t1, t2 = w1.threadId, w2.threadId
    local p1 = Promise.new(function(r) w1:on('message', r) end)
    local p2 = Promise.new(function(r) w2:on('message', r) end)
    local id1, id2 = await(p1), await(p2)
    assert.are.equal(t1, id1)
    assert.are.equal(t2, id2)
    assert.are_not.equal(id1, id2)
  end)

  it("emits 'exit' last, after every message the worker sent", function()
    local ev = events_of([[
      local port = require('worker_threads').parentPort
      for i = 1, 2000 do port.postMessage(i) end
    ]], { eval = true })
    local m = messages(ev)
    assert.are.equal(2000, #m)
    for i = 1, 2000 do assert.are.equal(i, m[i]) end
    assert.are.equal('exit', ev[#ev][1])
    assert.are.equal('online', ev[1][1])
  end)

  it("reports an uncaught error as 'error' with message and traceback, then exits 1", function()
    local ev = events_of([[
      local function deep() error({ code = 'E_DEEP', message = 'it broke' }) end
      deep()
    ]], { eval = true })
    assert.are.equal('online error exit', names(ev))
    local e = ev[2][2]
    assert.are.equal('E_DEEP', e.code)
    assert.are.equal('it broke', e.message)
    assert.are.equal('E_DEEP: it broke', tostring(e))
    assert.is_truthy(e.stack:find('traceback', 1, true))
    assert.is_truthy(e.stack:find('deep', 1, true))
    assert.are.equal(1, ev[3][2])
  end)

  it("reports a stack overflow with its message in 'error', in every one of 50 workers", function()
    local N, done, good = 50, 0, 0
    local bad = {}
    await(Promise.new(function(resolve)
      for _ = 1, N do
        local w = Worker('local function f() f() end f()', { eval = true })
        local msg
        w:on('error', function(e) msg = e.message end)
        w:on('exit', function(code)
          done = done + 1
          if type(msg) == 'string' and msg:find('stack overflow', 1, true) and code == 1 then good = good + 1
          else bad[#bad + 1] = tostring(msg) .. ' / ' .. tostring(code) end
          if done == N then resolve() end
        end)
      end
    end))
    assert.are.same({}, bad)
    assert.are.equal(N, good)
  end)

  it('reports an error raised later, in a callback', function()
    local ev = events_of("setTimeout(function() error('late failure') end, 5)", { eval = true })
    assert.are.equal('online error exit', names(ev))
    assert.is_truthy(ev[2][2].message:find('late failure', 1, true))
  end)

  it('ends only that worker on process.exit(n)', function()
    local ev = events_of([[
      require('worker_threads').parentPort.postMessage('before')
      process.exit(7)
      require('worker_threads').parentPort.postMessage('after')
    ]], { eval = true })
    assert.are.same({ 'before' }, messages(ev))
    assert.are.equal(7, ev[#ev][2])
  end)

  it('passes argv, name, and a private copy of env', function()
    process.env.LUSTER_WT_SPEC = 'parent'
    local ev = events_of([[
      local wt = require('worker_threads')
      local before = process.env.LUSTER_WT_SPEC
      process.env.LUSTER_WT_SPEC = 'changed in worker'
      wt.parentPort.postMessage({ argv = { process.argv[3], process.argv[4] }, name = wt.threadName,
                                  env = before, own = process.env.OWN })
    ]], { eval = true, argv = { 'x', 'y' }, name = 'sum-worker' })
    local m = messages(ev)[1]
    assert.are.same({ 'x', 'y' }, m.argv)
    assert.are.equal('sum-worker', m.name)
    assert.are.equal('parent', m.env)
    assert.are.equal('parent', process.env.LUSTER_WT_SPEC)
    local ev2 = events_of("require('worker_threads').parentPort.postMessage({ process.env.OWN, process.env.PATH })",
      { eval = true, env = { OWN = 'mine' } })
    assert.are.same({ 'mine' }, messages(ev2)[1])
  end)

  it('ends a worker over resourceLimits.maxHeapSizeMb with ERR_WORKER_OUT_OF_MEMORY; the process lives on', function()
    local ev = events_of([[
      local t = {}
      while true do t[#t + 1] = ('x'):rep(200) .. #t end
    ]], { eval = true, resourceLimits = { maxHeapSizeMb = 8 } })
    assert.are.equal('online error exit', names(ev))
    assert.are.equal('ERR_WORKER_OUT_OF_MEMORY', ev[2][2].code)
    assert.are.equal(1, ev[3][2])
    -- and the next worker runs normally
    assert.are.same({ 'fine' }, messages(events_of("require('worker_threads').parentPort.postMessage('fine')", { eval = true })))
  end)

  it("reports a missing file or a syntax error as 'error', then exits 1", function()
    local ev = events_of('./no_such_worker_file.lua')
    assert.is_truthy(names(ev):find('error exit$'))
    assert.are.equal('ERR_MODULE_NOT_FOUND', ev[#ev - 1][2].code)
    assert.are.equal(1, ev[#ev][2])
    local ev2 = events_of('this is not Lua', { eval = true })
    assert.is_truthy(names(ev2):find('error exit$'))
    assert.is_truthy(ev2[#ev2 - 1][2].message:find('expected', 1, true))
  end)

  it('can start workers from a worker (nested)', function()
    local ev = events_of([[
      local wt = require('worker_threads')
      local inner = wt.Worker("local wt = require('worker_threads'); wt.parentPort.postMessage('inner ' .. wt.workerData)",
        { eval = true, workerData = 'hello' })
      inner:on('message', function(m) wt.parentPort.postMessage(m) end)
      inner:on('exit', function(c) wt.parentPort.postMessage('inner exit ' .. c) end)
    ]], { eval = true })
    assert.are.same({ 'inner hello', 'inner exit 0' }, messages(ev))
  end)

  it('shares a SharedArrayBuffer and moves a transferred ArrayBuffer', function()
    local sab = SharedArrayBuffer(8)
    local ab = ArrayBuffer(4)
    Uint8Array(ab)[0] = 9
    local ev = events_of([[
      local wt = require('worker_threads')
      local v = Int32Array(wt.workerData.sab)
      Atomics.store(v, 1, 1234)
      wt.parentPort.postMessage(Uint8Array(wt.workerData.ab)[0])
    ]], { eval = true, workerData = { sab = sab, ab = ab }, transferList = { ab } })
    assert.are.same({ 9 }, messages(ev))
    assert.are.equal(1234, Atomics.load(Int32Array(sab), 1))
    assert.are.equal(0, ab.byteLength)
  end)
end)

describe('Worker options', function()
  local function raises(opts, filename)
    local ok, e = pcall(Worker, filename or 'return 1', opts)
    assert.is_false(ok, 'expected Worker(...) to raise')
    if ok then e:terminate() end
    return e.code, e.message
  end

  it('are checked by the constructor with ERR_INVALID_ARG_TYPE, before anything starts', function()
    local cases = {
      { argv = 'x' }, { argv = 5 }, { env = 'x' }, { env = 5 }, { name = 5 }, { eval = 'yes' },
      { eval = true, transferList = 5 }, { eval = true, resourceLimits = 5 },
      { eval = true, resourceLimits = { maxOldGenerationSizeMb = 'a' } },
      { eval = true, resourceLimits = { maxHeapSizeMb = {} } },
      { eval = true, resourceLimits = { stackSizeMb = true } },
      { eval = true, stdout = 'no' }, { eval = true, stderr = 1 },
    }
    for i, opts in ipairs(cases) do
      local code = raises(opts)
      assert.are.equal('ERR_INVALID_ARG_TYPE', code, 'case ' .. i)
    end
    assert.are.equal('ERR_INVALID_ARG_TYPE', (raises(5)))
    assert.are.equal('ERR_INVALID_ARG_TYPE', (raises({}, 42)))
  end)

  it('name the option in the message', function()
    local _, msg = raises({ eval = true, argv = 'x' })
    assert.is_truthy(msg:find('options.argv', 1, true))
    _, msg = raises({ eval = true, resourceLimits = { stackSizeMb = 'big' } })
    assert.is_truthy(msg:find('options.resourceLimits.stackSizeMb', 1, true))
  end)

  it('refuse a negative limit with ERR_OUT_OF_RANGE', function()
    assert.are.equal('ERR_OUT_OF_RANGE', (raises({ eval = true, resourceLimits = { maxOldGenerationSizeMb = -1 } })))
  end)

  it('raise DataCloneError for a workerData that cannot be cloned', function()
    assert.are.equal('DataCloneError', (raises({ eval = true, workerData = { f = print } })))
  end)

  it('accept SHARE_ENV, a table env and nil for every option', function()
    for _, opts in ipairs({ { eval = true, env = wt.SHARE_ENV }, { eval = true, env = { A = 1 } }, { eval = true } }) do
      local w = Worker('return 1', opts)
      assert.are.equal(0, await(Promise.new(function(r) w:on('exit', r) end)))
    end
  end)
end)

describe('resourceLimits', function()
  it('are {} in the main thread', function()
    assert.are.same({}, wt.resourceLimits)
  end)

  it("show the worker's limits with Node's field names, inside it and on the Worker", function()
    local w = Worker([[
      require('worker_threads').parentPort:postMessage(require('worker_threads').resourceLimits)
      require('worker_threads').parentPort:once('message', function() end)
    ]], { eval = true, resourceLimits = { maxOldGenerationSizeMb = 64, stackSizeMb = 2 } })
    local inside = await(Promise.new(function(r) w:once('message', r) end))
    local want = { maxOldGenerationSizeMb = 64, maxHeapSizeMb = 64, stackSizeMb = 2,
      maxYoungGenerationSizeMb = 0, codeRangeSizeMb = 0 }
    assert.are.same(want, inside)
    assert.are.same(want, w.resourceLimits)
    w:postMessage('done')
    await(Promise.new(function(r) w:on('exit', r) end))
    assert.are.same({}, w.resourceLimits) -- as in Node, once it has exited
  end)

  it('take maxHeapSizeMb as another name for maxOldGenerationSizeMb, and default the stack to 4 MB', function()
    local w = Worker('return 1', { eval = true, resourceLimits = { maxHeapSizeMb = 32 } })
    assert.are.equal(32, w.resourceLimits.maxOldGenerationSizeMb)
    assert.are.equal(4, w.resourceLimits.stackSizeMb)
    await(Promise.new(function(r) w:on('exit', r) end))
  end)

  it('size the worker thread stack with stackSizeMb: small and large stacks run Lua that nests C calls', function()
    local src = [[
      local function dive(n) if n > 0 then return (('x'):gsub('x', function() return dive(n - 1) end)) end return 'x' end
      local ok, err = pcall(dive, 50)
      require('worker_threads').parentPort:postMessage(ok and 'ok' or tostring(err))
    ]]
    for _, mb in ipairs({ 1, 64 }) do
      local w = Worker(src, { eval = true, resourceLimits = { stackSizeMb = mb } })
      assert.are.equal('ok', await(Promise.new(function(r) w:on('message', r) end)))
    end
  end)
end)

describe('messages to and from a worker', function()
  it('arrive in order, and the worker answers each', function()
    local got = await(Promise.new(function(resolve)
      local w = Worker([[
        local port = require('worker_threads').parentPort
        port:on('message', function(m)
          if m == 'done' then port:close() return end
          port:postMessage(m * 2)
        end)
      ]], { eval = true })
      local t = {}
      w:on('message', function(v) t[#t + 1] = v end)
      w:on('exit', function() resolve(t) end)
      for i = 1, 500 do w:postMessage(i) end
      w:postMessage('done')
    end))
    assert.are.equal(500, #got)
    for i = 1, 500 do assert.are.equal(i * 2, got[i]) end
  end)

  it('raise DataCloneError for a function, and nothing is sent', function()
    local w = Worker([[
      local port = require('worker_threads').parentPort
      port:on('message', function(m) port:postMessage(m); port:close() end)
    ]], { eval = true })
    local ok, e = pcall(w.postMessage, w, { ok = 1, handlers = { 1, function() end } })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    assert.is_truthy(e.message:find('handlers', 1, true))
    w:postMessage('second')
    local m = await(Promise.new(function(r) w:on('message', r) end))
    assert.are.equal('second', m)
  end)

  it('are dropped silently once the worker has exited', function()
    local w = Worker("", { eval = true })
    await(Promise.new(function(r) w:on('exit', r) end))
    assert.has_no.errors(function() w:postMessage('anyone?') end)
  end)

  it('reach parentPort used with . or :', function()
    local ev = events_of([[
      local wt = require('worker_threads')
      wt.parentPort.postMessage('dot')
      wt.parentPort:postMessage('colon')
    ]], { eval = true })
    assert.are.same({ 'dot', 'colon' }, messages(ev))
  end)
end)

describe('messages a worker posts just before it ends', function()
  -- All of them arrive, before 'exit', as in Node.
  local function count_before_exit(src, n)
    return await(Promise.new(function(resolve)
      local w = Worker(src, { eval = true, workerData = n })
      local got, last = 0, 0
      w:on('message', function(v) got = got + 1; if v == last + 1 then last = v end end)
      w:on('exit', function(code) resolve({ got = got, last = last, code = code }) end)
    end))
  end

  for _, n in ipairs({ 1000, 100000 }) do
    it(('all %d reach the parent, in order, when the script ends'):format(n), function()
      local r = count_before_exit([[
        local wt = require('worker_threads')
        for i = 1, wt.workerData do wt.parentPort:postMessage(i) end
      ]], n)
      assert.are.same({ got = n, last = n, code = 0 }, r)
    end)
  end

  it('all 100000 the parent posts reach the worker, which counts them before it ends', function()
    local w = Worker([[
      local port = require('worker_threads').parentPort
      local n = 0
      port:on('message', function(v)
        if v == 'end' then port:postMessage(n); port:close() else n = n + 1 end
      end)
    ]], { eval = true })
    for i = 1, 100000 do w:postMessage(i) end
    w:postMessage('end')
    local count = await(Promise.new(function(r) w:on('message', r) end))
    assert.are.equal(100000, count)
    assert.are.equal(0, await(Promise.new(function(r) w:on('exit', r) end)))
  end)

  it('all 1000 reach the parent when the worker calls process.exit() right after', function()
    local r = count_before_exit([[
      local wt = require('worker_threads')
      for i = 1, wt.workerData do wt.parentPort:postMessage(i) end
      process.exit(3)
    ]], 1000)
    assert.are.same({ got = 1000, last = 1000, code = 3 }, r)
  end)
end)

describe('terminate()', function()
  it('stops a worker waiting for messages and resolves to 1', function()
    local w = Worker("require('worker_threads').parentPort:on('message', function() end)", { eval = true })
    await(Promise.new(function(r) w:on('online', r) end))
    local exited
    w:on('exit', function(c) exited = c end)
    assert.are.equal(1, await(w:terminate()))
    assert.are.equal(1, exited)
  end)

  it('stops a worker spinning in an interpreted loop', function()
    if needs_preemption() then return end
    local w = Worker([[
      jit.off()
      require('worker_threads').parentPort.postMessage('spinning')
      local x = 0
      while true do x = x + 1 end
    ]], { eval = true })
    await(Promise.new(function(r) w:on('message', r) end))
    sleep_ms(20)
    assert.are.equal(1, await(w:terminate()))
  end)

  it('stops a worker spinning in a JIT-compiled loop', function()
    if needs_preemption() then return end
    local w = Worker([[
      require('worker_threads').parentPort.postMessage('spinning')
      local x = 0
      while true do x = x + 1 end
    ]], { eval = true })
    await(Promise.new(function(r) w:on('message', r) end))
    sleep_ms(50) -- long enough for the loop to be compiled
    assert.are.equal(1, await(w:terminate()))
  end)

  it('stops a worker looping inside pcall', function()
    if needs_preemption() then return end
    local w = Worker([[
      jit.off()
      require('worker_threads').parentPort.postMessage('go')
      while true do pcall(function() while true do end end) end
    ]], { eval = true })
    await(Promise.new(function(r) w:on('message', r) end))
    assert.are.equal(1, await(w:terminate()))
  end)

  it('after exit resolves at once', function()
    local w = Worker("", { eval = true })
    await(Promise.new(function(r) w:on('exit', r) end))
    assert.is_nil(await(w:terminate()))
  end)
end)

describe('ref() and unref()', function()
  it('an unref()ed worker does not keep the process alive', function()
    local out, _, code = run.script([[
      local wt = require('worker_threads')
      local w = wt.Worker("require('worker_threads').parentPort:on('message', function() end)", { eval = true })
      w:unref()
      console.log('main done')
    ]])
    assert.are.equal(0, code)
    assert.are.equal('main done\n', out)
  end)

  it('a worker keeps the process alive until it exits', function()
    local out, _, code = run.script([[
      local wt = require('worker_threads')
      local w = wt.Worker("setTimeout(function() require('worker_threads').parentPort.postMessage('late') end, 100)", { eval = true })
      w:on('message', function(m) console.log(m) end)
      w:on('exit', function(c) console.log('exit', c) end)
    ]])
    assert.are.equal(0, code)
    assert.are.equal('late\nexit 0\n', out)
  end)
end)

describe('worker output', function()
  it('reaches stdout in whole lines, all of it before the exit event', function()
    local out, _, code = run.script([[
      local wt = require('worker_threads')
      local left = 3
      for k = 1, 3 do
        local w = wt.Worker(function(k)
          for i = 1, 300 do
            if i % 2 == 0 then print('worker', k, 'line', i, ('x'):rep(50))
            else console.log('worker %d line %d %s', k, i, ('y'):rep(50)) end
          end
        end, { workerData = k })
        w:on('exit', function() console.log('exit ' .. k) end)
      end
    ]])
    assert.are.equal(0, code)
    local seen, exits = {}, {}
    for line in out:gmatch('[^\n]+') do
      local k, i = line:match('^worker%s+(%d)%s+line%s+(%d+)%s+[xy]+$')
      if k then
        assert.is_nil(exits[k], 'a line after its exit event: ' .. line)
        seen[k] = (seen[k] or 0) + 1
      else
        local e = line:match('^exit (%d)$')
        assert.is_truthy(e, 'a broken line: ' .. line)
        exits[e] = true
      end
    end
    for k = 1, 3 do assert.are.equal(300, seen[tostring(k)]) end
  end)
end)
