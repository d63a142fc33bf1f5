-- cluster (API.md "cluster"): fork, events, IPC, exit codes, signals, and
-- workers sharing one port.  This spec's process is the primary; workers
-- run small scripts written to temporary files.
local cluster = require('cluster')
local h = require('helpers.cluster')

local FAKE = __dirname .. '/helpers/cluster_fake_server.lua'

local function fork_script(src, env)
  cluster.setupPrimary({ exec = h.script(src), args = {} })
  return cluster.fork(env)
end

local function exit_of(worker)
  if worker:isDead() then return worker.process.exitCode, worker.process.signalCode end
  local e = await(h.event(worker, 'exit'))
  return e[1], e[2]
end

describe('cluster in the primary', function()
  it('says it is the primary', function()
    assert.is_true(cluster.isPrimary)
    assert.is_true(cluster.isMaster)
    assert.is_false(cluster.isWorker)
    assert.are.equal(cluster.SCHED_RR, cluster.schedulingPolicy)
  end)

  it('emits fork, online, message, disconnect and exit in order, on cluster and on the worker', function()
    local seen = {}
    local names = { 'fork', 'online', 'message', 'disconnect', 'exit' }
    local handlers = {}
    for _, n in ipairs(names) do
      handlers[n] = function(w) seen[#seen + 1] = 'cluster:' .. n end
      cluster:on(n, handlers[n])
    end
    local w = fork_script([[
      local cluster = require('cluster')
      process.send({ id = cluster.worker.id, worker = cluster.isWorker, primary = cluster.isPrimary, fork = cluster.fork == nil })
      process.exit(42)
    ]])
    for _, n in ipairs({ 'online', 'message', 'disconnect', 'exit' }) do
      w:on(n, function() seen[#seen + 1] = 'worker:' .. n end)
    end
    local msg
    w:on('message', function(m) msg = m end)
    local code, signal = exit_of(w)
    for _, n in ipairs(names) do cluster:off(n, handlers[n]) end
    assert.are.equal(42, code)
    assert.is_nil(signal)
    assert.are.same({ id = w.id, worker = true, primary = false, fork = true }, msg)
    assert.are.same({ 'cluster:fork', 'worker:online', 'cluster:online', 'worker:message', 'cluster:message',
      'worker:disconnect', 'cluster:disconnect', 'worker:exit', 'cluster:exit' }, seen)
    assert.is_true(w:isDead())
    assert.is_false(w:isConnected())
    assert.is_false(w.exitedAfterDisconnect)
    assert.is_nil(cluster.workers[w.id])
  end)

  it('numbers workers from 1 and keeps them in cluster.workers until they are gone', function()
    local w = fork_script('setTimeout(function() end, 200)')
    assert.are.equal(w, cluster.workers[w.id])
    assert.is_true(w.id >= 1)
    assert.is_number(w.process.pid)
    exit_of(w)
    assert.is_nil(cluster.workers[w.id])
  end)

  it('reports a signal death as a nil code and the signal name', function()
    local w = fork_script('setInterval(function() end, 1000)')
    await(h.event(w, 'online'))
    w:kill('SIGKILL')
    local code, signal = exit_of(w)
    assert.is_nil(code)
    assert.are.equal('SIGKILL', signal)
  end)

  it('passes messages both ways with the structured clone, cycles kept', function()
    local w = fork_script([[
      process:on('message', function(m)
        assert(m.self == m, 'cycle lost')
        m.reply = true
        process.send(m)
        process:disconnect()
      end)
    ]])
    local t = { n = 1.5, s = 'bytes\0here', list = { 1, 2, 3 } }
    t.self = t
    w:send(t)
    local m = await(h.event(w, 'message'))[1]
    assert.is_true(m.reply)
    assert.are.equal(m, m.self)
    assert.are.equal('bytes\0here', m.s)
    assert.are.same({ 1, 2, 3 }, m.list)
    exit_of(w)
  end)

  it('refuses to send a function with DataCloneError and sends nothing', function()
    local w = fork_script([[
      process:on('message', function(m) process.send(m); process.exit(0) end)
    ]])
    local ok, err = pcall(w.send, w, { f = function() end })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', err.code)
    w:send('after')
    assert.are.equal('after', await(h.event(w, 'message'))[1])
    exit_of(w)
  end)

  it('disconnects a worker: it closes its servers, exits, and exitedAfterDisconnect is true', function()
    local w = fork_script(([[
      local Server = dofile(%q)
      Server.new():listen(0)
    ]]):format(FAKE))
    await(h.event(w, 'listening'))
    w:disconnect()
    local code, signal = exit_of(w)
    assert.are.equal(0, code)
    assert.is_nil(signal)
    assert.is_true(w.exitedAfterDisconnect)
  end)

  it('lets a worker disconnect itself with process.disconnect()', function()
    local w = fork_script([[
      process.disconnect()
      setTimeout(function() end, 50)
    ]])
    await(h.event(w, 'disconnect'))
    assert.are.equal(0, (exit_of(w)))
  end)

  it('accumulates setupPrimary settings and emits setup', function()
    local got
    local function on_setup(s) got = s end
    cluster:on('setup', on_setup)
    cluster.setupPrimary({ exec = 'a.lua', args = { 'x' } })
    cluster.setupPrimary({ silent = true })
    await(h.sleep(10))
    cluster:off('setup', on_setup)
    assert.are.equal('a.lua', cluster.settings.exec)
    assert.are.same({ 'x' }, cluster.settings.args)
    assert.is_true(cluster.settings.silent)
    assert.are.equal(cluster.settings, got)
    cluster.setupPrimary({ silent = false })
  end)

  it('passes args and env to the worker', function()
    cluster.setupPrimary({ exec = h.script([[
      process.send({ argv = process.argv[3], env = process.env.FOO, unique = process.env.LUSTER_UNIQUE_ID })
    ]]), args = { 'arg1' } })
    local w = cluster.fork({ FOO = 'bar' })
    local m = await(h.event(w, 'message'))[1]
    assert.are.same({ argv = 'arg1', env = 'bar' }, m)
    exit_of(w)
  end)

  it('disconnects every worker with cluster.disconnect(cb)', function()
    local src = ('local S = dofile(%q); S.new():listen(0)'):format(FAKE)
    local a, b = fork_script(src), fork_script(src)
    local la, lb = h.event(a, 'listening'), h.event(b, 'listening')
    await(la)
    await(lb)
    local p = h.event(cluster, 'exit')
    await(require('luster.promise').new(function(resolve) cluster.disconnect(resolve) end))
    assert.is_true(a:isDead() and b:isDead())
    assert.is_nil(next(cluster.workers))
    await(p)
  end)
end)

describe('cluster workers die with their primary', function()
  it('even when the primary is killed with SIGKILL', function()
    local primary = h.script([[
      local cluster = require('cluster')
      if cluster.isPrimary then
        cluster.fork(); cluster.fork()
        local n = 0
        cluster:on('online', function(w)
          n = n + 1
          print(w.process.pid)
          if n == 2 then print('ready') end
        end)
      else
        setInterval(function() end, 1000)
      end
    ]])
    local p = h.start({ h.bin, primary })
    assert.is_true(h.wait_for(function() return p.out():find('ready') end))
    local pids = {}
    for pid in p.out():gmatch('(%d+)\n') do pids[#pids + 1] = tonumber(pid) end
    assert.are.equal(2, #pids)
    p.kill('SIGKILL')
    await(p.done)
    assert.is_true(h.wait_for(function() return not h.alive(pids[1]) and not h.alive(pids[2]) end, 3000))
  end)
end)

local function serve_script(opts)
  return ([[
    local cluster = require('cluster')
    local Server = dofile(%q)
    local s = Server.new()
    s:on('error', function(e) process.send({ error = e.code }) end)
    s:listen(%s)
  ]]):format(FAKE, opts)
end

-- Distinct worker pids answering over up to n requests (stopping at `want`).
local function pids_answering(port, n, want)
  local seen, count = {}, 0
  for _ = 1, n do
    if want and count >= want then break end
    local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
    local pid = body:match('pid (%d+)')
    if pid and not seen[pid] then seen[pid] = true; count = count + 1 end
  end
  return count, seen
end

local function share_test(policy_env, listen_opts)
  return function()
    local old = cluster.schedulingPolicy
    local src = serve_script(listen_opts)
    local ws, ls = {}, {}
    for i = 1, 2 do
      ws[i] = fork_script(src)
      ls[i] = h.event(ws[i], 'listening')
    end
    local port
    for i = 1, 2 do
      local info = await(ls[i])[1]
      port = port or info.port
      assert.are.equal(port, info.port)
    end
    assert.is_true(port > 0)
    -- reusePort hashes each connection: 8 would all land on one worker 1 time
    -- in 128, 32 practically never
    local count = pids_answering(port, 32, 2)
    assert.are.equal(2, count)
    for i = 1, 2 do
      local e = h.event(ws[i], 'exit')
      ws[i]:kill('SIGKILL')
      await(e)
    end
  end
end

describe('workers sharing one port', function()
  it('hands connections out in turn (SCHED_RR, the default)', share_test(nil, '0'))

  it('lets every worker bind its own socket with reusePort', function()
    -- reusePort needs a fixed port: the primary does not pick one
    local port = h.free_port()
    share_test(nil, ('{ port = %d, host = "127.0.0.1", reusePort = true }'):format(port))()
  end)

  it('reports EADDRINUSE to the worker server\'s error listener', function()
    local tcp = require('native.tcp')
    local fd = assert(tcp.listen('127.0.0.1', 0, 16, false))
    local port = tcp.address(fd).port
    local w = fork_script(serve_script(('{ port = %d, host = "127.0.0.1" }'):format(port)))
    local m = await(h.event(w, 'message'))[1]
    assert.are.equal('EADDRINUSE', m.error)
    tcp.close(fd)
    w:kill('SIGKILL')
    exit_of(w)
  end)

  it('replaces a killed worker and the port keeps answering', function()
    local src = serve_script('0')
    local a, b = fork_script(src), fork_script(src)
    local la, lb = h.event(a, 'listening'), h.event(b, 'listening')
    local port = await(la)[1].port
    await(lb)
    a:kill('SIGKILL')
    exit_of(a)
    local c = fork_script(src)
    await(h.event(c, 'listening'))
    local count, seen = pids_answering(port, 8)
    assert.are.equal(2, count)
    assert.is_truthy(seen[tostring(c.process.pid)])
    assert.is_nil(seen[tostring(a.process.pid)])
    for _, w in ipairs({ b, c }) do
      local e = h.event(w, 'exit')
      w:kill('SIGKILL')
      await(e)
    end
  end)
end)
