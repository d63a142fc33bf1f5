-- cluster behaviours ported from Node's test/parallel/test-cluster-*.js
-- (the ones the contract covers; docs/cluster.md lists what luster does
-- not follow).  This spec's process is the primary unless a test needs a
-- fresh one (ids, settings), which then runs in a child.
local cluster = require('cluster')
local h = require('helpers.cluster')

local function fork_script(src, env)
  cluster.setupPrimary({ exec = h.script(src), args = {}, silent = false })
  return cluster.fork(env)
end

local function exit_of(worker)
  if worker:isDead() then return worker.process.exitCode, worker.process.signalCode end
  local e = await(h.event(worker, 'exit'))
  return e[1], e[2]
end

-- Run a whole primary script in a child; its stdout lines.
local function primary(src)
  local r = await(h.run({ h.bin, h.script(src) }))
  assert.are.equal(0, r.code, r.out .. r.err)
  return r.out
end

local HTTP_WORKER = [[
  require('http').createServer(function(req, res) res:finish('ok') end):listen(0, '127.0.0.1')
]]

describe('a worker\'s end, seen from the primary', function()
  it('process.exit(42): exit(42, nil) on the worker and on cluster (worker-death)', function()
    local w = fork_script('process.exit(42)')
    local seen
    local function on_exit(worker, code, signal) seen = { worker, code, signal } end
    cluster:on('exit', on_exit)
    local code, signal = exit_of(w)
    cluster:off('exit', on_exit)
    assert.are.equal(42, code)
    assert.is_nil(signal)
    assert.are.equal(w, seen[1])
    assert.are.equal(42, seen[2])
    assert.is_false(w.exitedAfterDisconnect) -- disconnect-exitedAfterDisconnect-exit
    assert.are.equal('dead', w.state)
  end)

  it('killed by a signal: disconnect once, then exit(nil, signal) (worker-kill)', function()
    local w = fork_script(HTTP_WORKER)
    await(h.event(w, 'listening'))
    local order, state_at_disconnect, flag_at_disconnect = {}, nil, nil
    w:on('disconnect', function()
      order[#order + 1] = 'disconnect'
      state_at_disconnect, flag_at_disconnect = w.state, w.exitedAfterDisconnect
    end)
    w:on('exit', function() order[#order + 1] = 'exit' end)
    w.process:kill('SIGKILL')
    local code, signal = exit_of(w)
    assert.are.same({ 'disconnect', 'exit' }, order)
    assert.are.equal('disconnected', state_at_disconnect)
    assert.is_false(flag_at_disconnect)
    assert.is_nil(code)
    assert.are.equal('SIGKILL', signal)
    assert.are.equal('SIGKILL', w.process.signalCode)
    assert.is_nil(w.process.exitCode)
    assert.is_false(h.alive(w.process.pid))
  end)

  it('worker:kill() sends SIGTERM, also to a worker busy in a loop (kill-infinite-loop)', function()
    local w = fork_script('process.send("looping"); while true do end')
    await(h.event(w, 'message'))
    w:kill()
    local code, signal = exit_of(w)
    assert.is_nil(code)
    assert.are.equal('SIGTERM', signal)
  end)

  it('worker:kill(signal) sends that signal, and refuses unknown names with ERR_UNKNOWN_SIGNAL', function()
    local w = fork_script('setInterval(function() end, 1000)')
    await(h.event(w, 'online'))
    local ok, err = pcall(w.kill, w, 'SIGBOGUS')
    assert.is_false(ok)
    assert.are.equal('ERR_UNKNOWN_SIGNAL', err.code)
    w:kill('SIGUSR2')
    local code, signal = exit_of(w)
    assert.is_nil(code)
    assert.are.equal('SIGUSR2', signal)
  end)
end)

describe('isDead and isConnected', function()
  it('isDead() is false until exit, also inside the worker (worker-isdead)', function()
    local w = fork_script('process.send(require("cluster").worker:isDead())')
    assert.is_false(w:isDead())
    local inside = await(h.event(w, 'message'))[1]
    assert.is_false(inside)
    local dead_in_exit
    w:on('exit', function() dead_in_exit = w:isDead() end)
    exit_of(w)
    assert.is_true(dead_in_exit)
  end)

  it('isConnected() is true from fork and false in disconnect in the primary (worker-isconnected)', function()
    local w = fork_script('process.send("ready")')
    assert.is_true(w:isConnected())
    local at_disconnect
    w:on('disconnect', function() at_disconnect = w:isConnected() end)
    await(h.event(w, 'message'))
    w:disconnect()
    exit_of(w)
    assert.is_false(at_disconnect)
  end)

  it('inside the worker, isConnected() is false in both disconnect events (worker-isconnected)', function()
    cluster.setupPrimary({ exec = h.script([[
      local cluster = require('cluster')
      local seen = { before = cluster.worker:isConnected() }
      cluster.worker:on('disconnect', function() seen.worker = cluster.worker:isConnected() end)
      process:on('disconnect', function() seen.process = cluster.worker:isConnected() end)
      process:on('exit', function()
        print(('before=%s worker=%s process=%s'):format(tostring(seen.before), tostring(seen.worker), tostring(seen.process)))
      end)
      process.send('ready')
    ]]), args = {}, silent = true })
    local w = cluster.fork()
    cluster.setupPrimary({ silent = false })
    local out = {}
    w.process.stdout:on('data', function(d) out[#out + 1] = d end)
    await(h.event(w, 'message'))
    w:disconnect()
    exit_of(w)
    assert.is_true(h.wait_for(function() return table.concat(out):find('\n') end, 2000))
    assert.are.equal('before=true worker=false process=false\n', table.concat(out))
  end)
end)

describe('ids and cluster.workers', function()
  it('numbers workers 1, 2, 3 in fork order and the worker knows its id', function()
    local out = primary([[
      local cluster = require('cluster')
      if cluster.isWorker then
        process.send(cluster.worker.id)
        return
      end
      local ids, got = {}, {}
      for i = 1, 3 do
        local w = cluster.fork()
        ids[#ids + 1] = w.id
        assert(cluster.workers[w.id] == w)
        w:on('message', function(m) got[w.id] = m end)
      end
      local n = 0
      cluster:on('exit', function()
        n = n + 1
        if n == 3 then print(table.concat(ids, ','), got[1], got[2], got[3], next(cluster.workers)) end
      end)
    ]])
    assert.are.equal('1,2,3\t1\t2\t3\tnil\n', out)
  end)

  it('keeps a worker in cluster.workers until it has disconnected and exited', function()
    local w = fork_script('setTimeout(function() process.exit(3) end, 50)')
    local in_disconnect, in_exit
    w:on('disconnect', function() in_disconnect = cluster.workers[w.id] end)
    w:on('exit', function() in_exit = cluster.workers[w.id] end)
    exit_of(w)
    -- the channel closes first: at 'disconnect' the worker has not exited yet
    assert.are.equal(w, in_disconnect)
    assert.is_nil(in_exit)
  end)

  it('worker:disconnect() takes it out of cluster.workers at once', function()
    local w = fork_script(HTTP_WORKER)
    await(h.event(w, 'listening'))
    assert.are.equal(w, cluster.workers[w.id])
    w:disconnect()
    assert.is_nil(cluster.workers[w.id])
    local code = exit_of(w)
    assert.are.equal(0, code)
    assert.is_true(w.exitedAfterDisconnect)
  end)

  it('cluster.Worker.new() makes an unstarted worker (worker-constructor)', function()
    local w = cluster.Worker.new()
    assert.are.equal(0, w.id)
    assert.are.equal('none', w.state)
    assert.is_nil(w.exitedAfterDisconnect)
    assert.is_nil(w.process)
    w = cluster.Worker.new({ id = 3, state = 'online', process = process })
    assert.are.equal(3, w.id)
    assert.are.equal('online', w.state)
    assert.are.equal(process, w.process)
    assert.are.equal(cluster.Worker, getmetatable(w))
  end)
end)

describe('events in order on both sides', function()
  it('fork, online, listening, disconnect, exit on cluster and worker', function()
    local seen = {}
    local names = { 'fork', 'online', 'listening', 'disconnect', 'exit' }
    local handlers = {}
    for _, n in ipairs(names) do
      handlers[n] = function() seen[#seen + 1] = 'cluster:' .. n end
      cluster:on(n, handlers[n])
    end
    local w = fork_script(HTTP_WORKER)
    for _, n in ipairs({ 'online', 'listening', 'disconnect', 'exit' }) do
      w:on(n, function() seen[#seen + 1] = 'worker:' .. n end)
    end
    await(h.event(w, 'listening'))
    w:disconnect()
    exit_of(w)
    for _, n in ipairs(names) do cluster:off(n, handlers[n]) end
    assert.are.same({ 'cluster:fork', 'worker:online', 'cluster:online', 'worker:listening', 'cluster:listening',
      'worker:disconnect', 'cluster:disconnect', 'worker:exit', 'cluster:exit' }, seen)
  end)

  it('message reaches the worker\'s process and cluster.worker; the primary\'s worker and cluster (worker-events)', function()
    local w = fork_script([[
      local cluster = require('cluster')
      local got = {}
      local function check()
        if got.process and got.worker then process.send(got); process.disconnect() end
      end
      process:on('message', function(m) got.process = m; check() end)
      cluster.worker:on('message', function(m) got.worker = m; check() end)
    ]])
    assert.is_true(w:send('SOME MESSAGE'))
    local on_cluster
    local function on_message(worker, m) on_cluster = { worker, m } end
    cluster:on('message', on_message)
    local m = await(h.event(w, 'message'))[1]
    cluster:off('message', on_message)
    assert.are.same({ process = 'SOME MESSAGE', worker = 'SOME MESSAGE' }, m)
    assert.are.equal(w, on_cluster[1])
    assert.are.same(m, on_cluster[2])
    exit_of(w)
  end)

  it('a user message shaped like the cluster protocol stays a user message (invalid-message)', function()
    local w = fork_script([[
      process.send({ act = 'online' }); process.send({ act = 'listening', port = 1 }); process.send('done')
    ]])
    local online, listening, msgs = 0, 0, {}
    w:on('online', function() online = online + 1 end)
    w:on('listening', function() listening = listening + 1 end)
    w:on('message', function(m) msgs[#msgs + 1] = m end)
    exit_of(w)
    assert.are.equal(1, online)
    assert.are.equal(0, listening)
    assert.are.same({ { act = 'online' }, { act = 'listening', port = 1 }, 'done' }, msgs)
  end)
end)

describe('disconnecting', function()
  it('waits for the worker\'s open requests before it exits (worker-wait-server-close)', function()
    local w = fork_script([[
      require('http').createServer(function(req, res)
        process.send('request')
        setTimeout(function() res:finish('late') end, 300)
      end):listen(0, '127.0.0.1')
    ]])
    local port = await(h.event(w, 'listening'))[1].port
    local body = h.curl(('http://127.0.0.1:%d/'):format(port))
    await(h.event(w, 'message'))
    w:disconnect()
    assert.are.equal('late', await(body))
    local code = exit_of(w)
    assert.are.equal(0, code)
    assert.is_true(w.exitedAfterDisconnect)
  end)

  it('a worker that calls process.disconnect() with a server open exits 0 (process-disconnect)', function()
    local w = fork_script([[
      require('http').createServer(function() end):listen(0, '127.0.0.1', function() process.disconnect() end)
    ]])
    local code, signal = exit_of(w)
    assert.are.equal(0, code)
    assert.is_nil(signal)
    assert.is_false(w.exitedAfterDisconnect)
  end)

  it('cluster.worker:destroy() in the worker: disconnect, exit 0, exitedAfterDisconnect (worker-destroy)', function()
    local w = fork_script(HTTP_WORKER .. [[
      require('cluster').worker:destroy()
    ]])
    local disconnected = false
    w:on('disconnect', function() disconnected = true end)
    local code = exit_of(w)
    assert.is_true(disconnected)
    assert.are.equal(0, code)
    assert.is_true(w.exitedAfterDisconnect)
  end)

  it('cluster.worker:disconnect() in the worker, then destroy from the primary (call-and-destroy)', function()
    local w = fork_script([[
      local cluster = require('cluster')
      assert(cluster.worker:isConnected())
      cluster.worker:disconnect()
    ]])
    w:on('disconnect', function()
      assert.is_false(w:isConnected())
      w:destroy()
    end)
    exit_of(w)
    assert.is_true(w.exitedAfterDisconnect)
  end)

  it('cluster.disconnect() ends idle workers with exitedAfterDisconnect (disconnect-idle-worker)', function()
    -- idle: nothing but a 'message' listener keeps them up
    local idle = 'process:on("message", function() end)'
    local a, b = fork_script(idle), fork_script(idle)
    -- either may come online first: poll both rather than await one event
    assert.is_true(h.wait_for(function() return a.state == 'online' and b.state == 'online' end, 10000))
    local done = false
    cluster.disconnect(function() done = true end)
    assert.is_true(h.wait_for(function() return done end, 10000),
      ('a dead=%s connected=%s, b dead=%s connected=%s, workers=%s'):format(tostring(a:isDead()),
        tostring(a:isConnected()), tostring(b:isDead()), tostring(b:isConnected()), tostring(next(cluster.workers))))
    for _, w in ipairs({ a, b }) do
      assert.are.equal(0, (exit_of(w)))
      assert.is_true(w.exitedAfterDisconnect)
    end
  end)

  it('cluster.disconnect(cb) with no workers still calls cb (disconnect-with-no-workers)', function()
    assert.is_nil(next(cluster.workers))
    local called = false
    cluster.disconnect(function() called = true end)
    assert.is_true(h.wait_for(function() return called end, 1000))
  end)
end)

describe('send callbacks and errors', function()
  it('worker:send(msg, cb) calls cb(nil) once sent; after disconnect cb gets ERR_IPC_CHANNEL_CLOSED', function()
    local w = fork_script('process:on("message", function() process.disconnect() end)')
    local first = require('luster.promise').new(function(resolve)
      assert.is_true(w:send('x', function(err) resolve({ err }) end))
    end)
    assert.is_nil(await(first)[1])
    await(h.event(w, 'disconnect'))
    local second = require('luster.promise').new(function(resolve)
      assert.is_false(w:send('y', function(err) resolve({ err }) end))
    end)
    assert.are.equal('ERR_IPC_CHANNEL_CLOSED', await(second)[1].code)
    exit_of(w)
  end)

  it('a send after disconnect without a callback emits error on the worker', function()
    local w = fork_script('process.disconnect()')
    await(h.event(w, 'disconnect'))
    local err = h.event(w, 'error')
    w:send('late')
    assert.are.equal('ERR_IPC_CHANNEL_CLOSED', await(err)[1].code)
    exit_of(w)
  end)

  it('process.send(msg, cb) in a worker calls cb(nil); after disconnect cb gets ERR_IPC_CHANNEL_CLOSED', function()
    cluster.setupPrimary({ exec = h.script([[
      process.send('one', function(err)
        require('cluster').worker:disconnect() -- meant: the worker lives to see the callback
        assert(process.connected == false)
        local ret
        ret = process.send('two', function(err2) print(tostring(err), err2 and err2.code, ret) end)
      end)
    ]]), args = {}, silent = true })
    local w = cluster.fork()
    cluster.setupPrimary({ silent = false })
    local out = {}
    w.process.stdout:on('data', function(d) out[#out + 1] = d end)
    local ended = h.event(w.process.stdout, 'end')
    assert.are.equal('one', await(h.event(w, 'message'))[1])
    exit_of(w)
    await(ended)
    assert.are.equal('nil\tERR_IPC_CHANNEL_CLOSED\tfalse\n', table.concat(out))
  end)

  it('the primary has no process.send nor process.connected (no IPC channel)', function()
    assert.is_nil(process.send)
    assert.is_nil(process.connected)
    local ok = pcall(function() process.send('x') end)
    assert.is_false(ok)
  end)
end)

describe('cluster.settings and setupPrimary', function()
  it('starts empty, gets Node\'s defaults on the first setupPrimary and accumulates (setup-primary)', function()
    local out = primary([[
      local cluster = require('cluster')
      local before = next(cluster.settings) == nil
      local setups = 0
      cluster:on('setup', function(s) setups = setups + 1 end)
      cluster.setupPrimary({ args = { 'a' } })
      local s1 = cluster.settings
      cluster.setupPrimary({ silent = true })
      local s2 = cluster.settings
      setTimeout(function()
        print(before, s1.exec == process.argv[2], s1.args[1], s1.silent, s2.args[1], s2.silent, setups)
      end, 20)
    ]])
    assert.are.equal('true\ttrue\ta\tfalse\ta\ttrue\t2\n', out)
  end)

  it('forks settings.exec with settings.args', function()
    local exec = h.script('process.send({ process.argv[2], process.argv[3], process.argv[4] })')
    cluster.setupPrimary({ exec = exec, args = { 'one', 'two' } })
    local w = cluster.fork()
    local m = await(h.event(w, 'message'))[1]
    assert.are.same({ exec, 'one', 'two' }, m)
    exit_of(w)
    cluster.setupPrimary({ args = {} })
  end)

  it('silent = true gives the worker\'s output to worker.process.stdout/stderr', function()
    cluster.setupPrimary({ exec = h.script('print("to stdout"); io.stderr:write("to stderr\\n")'), args = {}, silent = true })
    local w = cluster.fork()
    cluster.setupPrimary({ silent = false })
    local out, err = {}, {}
    w.process.stdout:on('data', function(d) out[#out + 1] = d end)
    w.process.stderr:on('data', function(d) err[#err + 1] = d end)
    local ended = h.event(w.process.stdout, 'end')
    exit_of(w)
    await(ended)
    assert.are.equal('to stdout\n', table.concat(out))
    assert.is_truthy(table.concat(err):find('to stderr'))
  end)
end)
