-- cluster with SCHED_NONE (API.md "cluster"): the primary binds, every
-- worker accepts on the shared listening socket.  A separate file because
-- the policy is fixed when the primary first forks, as in Node.
local cluster = require('cluster')
local h = require('helpers.cluster')

local FAKE = __dirname .. '/helpers/cluster_fake_server.lua'

describe('SCHED_NONE', function()
  it('shares the listening socket and each worker accepts on it', function()
    cluster.schedulingPolicy = cluster.SCHED_NONE
    cluster.setupPrimary({ exec = h.script(([[
      local Server = dofile(%q)
      Server.new():listen(0)
    ]]):format(FAKE)), args = {} })
    local ws = { cluster.fork(), cluster.fork() }
    local ls = { h.event(ws[1], 'listening'), h.event(ws[2], 'listening') }
    local port
    for i = 1, 2 do port = await(ls[i])[1].port end
    local seen, count = {}, 0
    for _ = 1, 30 do
      local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
      local pid = body:match('pid (%d+)')
      assert.is_truthy(pid)
      if not seen[pid] then seen[pid] = true; count = count + 1 end
      if count == 2 then break end
    end
    assert.is_true(count >= 1)
    local es = { h.event(ws[1], 'exit'), h.event(ws[2], 'exit') }
    for i = 1, 2 do ws[i]:kill('SIGKILL') end
    await(es[1])
    await(es[2])
  end)

  it('a primary at its descriptor limit tells the worker EMFILE and lives on', function()
    local script = h.script([[
      local cluster = require('cluster')
      if cluster.isWorker then
        local function listen()
          local s = require('http').createServer(function() end)
          s:on('error', function(e) process.send(e.code) end)
          s:listen(0, '127.0.0.1')
        end
        if cluster.worker.id == 1 then listen() else process:on('message', listen) end
        return
      end
      cluster.schedulingPolicy = cluster.SCHED_NONE
      local a, b = cluster.fork(), cluster.fork()
      local ready, held = 0, {}
      local function go()
        ready = ready + 1
        if ready < 2 then return end
        -- the shared socket exists (a listens); now the primary runs out
        while true do
          local f = io.open('/dev/null')
          if not f then break end
          held[#held + 1] = f
        end
        b:send('listen')
      end
      a:on('listening', go)
      b:on('online', go)
      b:on('message', function(m)
        for _, f in ipairs(held) do f:close() end
        print('worker got', m)
        a:kill(); b:kill()
      end)
      cluster:on('exit', function(w, code, signal) print('exit', w.id, signal) end)
    ]])
    local r = await(h.run({ '/bin/bash', '-c', 'ulimit -n 64; exec "$0" "$1"', h.bin, script }))
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.is_truthy(r.out:find('worker got\tEMFILE\n'), r.out .. r.err)
    assert.is_truthy(r.out:find('exit\t1\tSIGTERM'), r.out)
    assert.is_truthy(r.out:find('exit\t2\tSIGTERM'), r.out)
  end)

  it('a worker at its descriptor limit gets EMFILE from listen, not a server that never hears a connection', function()
    local script = h.script([[
      local cluster = require('cluster')
      if cluster.isWorker then
        local held = {}
        while true do
          local f = io.open('/dev/null')
          if not f then break end
          held[#held + 1] = f
        end
        local s = require('http').createServer(function() end)
        s:on('error', function(e)
          for _, f in ipairs(held) do f:close() end
          process.send('error ' .. e.code)
        end)
        s:on('listening', function() process.send('listening') end)
        s:listen(0, '127.0.0.1')
        return
      end
      cluster.schedulingPolicy = cluster.SCHED_NONE
      local w = cluster.fork()
      w:on('message', function(m) print(m); w:kill() end)
    ]])
    local r = await(h.run({ '/bin/bash', '-c', 'ulimit -n 64; exec "$0" "$1"', h.bin, script }))
    assert.are.equal('error EMFILE\n', r.out, r.err)
  end)
end)
