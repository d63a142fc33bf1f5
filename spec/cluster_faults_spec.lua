-- cluster under faults (issue 8, section 2): workers at their descriptor
-- limit, and IPC messages queued when a process ends or disconnects.
-- Each test runs its own primary in a child process.
local h = require('helpers.cluster')

local FLOOD = __dirname .. '/helpers/cluster_flood.py'

local function lines_of(text, pattern)
  local t = {}
  for a, b in text:gmatch(pattern) do t[#t + 1] = { a, b } end
  return t
end

describe('a cluster worker at its descriptor limit', function()
  it('drops the connections it cannot take and lives on; the primary keeps serving', function()
    local script = h.script([[
      local cluster = require('cluster')
      if cluster.isPrimary then
        local n = 0
        cluster:on('listening', function(w, a)
          print('worker', w.process.pid)
          n = n + 1
          if n == 2 then print('port', a.port) end
        end)
        cluster:on('exit', function(w, code, signal) print('exit', w.id, code, signal) end)
        cluster.fork(); cluster.fork()
      else
        require('http').createServer(function(req, res) res:finish('pid ' .. process.pid) end):listen(0, '127.0.0.1')
      end
    ]])
    local p = h.start({ '/bin/bash', '-c', 'ulimit -n 64; exec "$0" "$1"', h.bin, script })
    assert.is_true(h.wait_for(function() return p.out():find('port') end, 10000), p.err())
    local port = tonumber(p.out():match('port%s+(%d+)'))
    local pids = {}
    for pid in p.out():gmatch('worker%s+(%d+)') do pids[pid] = true end

    -- 200 connections held at once: far more than 2 x 64 descriptors
    local r = await(h.run({ '/usr/bin/python3', FLOOD, tostring(port), '200' }))
    local held, ok = r.out:match('held (%d+) ok (%d+)')
    held, ok = tonumber(held), tonumber(ok)
    assert.is_truthy(held, r.err)
    assert.is_true(ok < held, 'the limit was not reached: ' .. r.out) -- else this tests nothing

    assert.is_nil(p.out():find('exit'), p.out() .. p.err())
    assert.is_true(h.alive(p.pid))
    for pid in pairs(pids) do assert.is_true(h.alive(pid)) end
    -- both workers answer again once the flood is gone
    local seen, count = {}, 0
    for _ = 1, 20 do
      local body = await(h.curl(('http://127.0.0.1:%d/'):format(port)))
      local pid = body:match('pid (%d+)')
      assert.is_truthy(pid, 'no answer after the flood')
      assert.is_true(pids[pid])
      if not seen[pid] then seen[pid] = true; count = count + 1 end
      if count == 2 then break end
    end
    assert.are.equal(2, count)
    p.kill('SIGTERM')
    await(p.done)
  end)
end)

-- A primary that forks one worker running WORKER and prints what it got.
local function run_pair(primary_src, worker_src, env)
  local script = h.script(([[
    local cluster = require('cluster')
    if cluster.isPrimary then
      %s
    else
      %s
    end
  ]]):format(primary_src, worker_src))
  return await(h.run({ h.bin, script }, env))
end

describe('IPC messages queued when a process ends', function()
  local count_in_primary = [[
    local w = cluster.fork()
    local got, last = 0, 0
    w:on('message', function(m) got = got + 1; last = m.i end)
    w:on('exit', function(code) print('got', got, last, code) end)
  ]]

  it('delivers all 1000 messages a worker sent before it ended', function()
    local r = run_pair(count_in_primary, [[
      local pad = string.rep('x', 1000)
      for i = 1, 1000 do process.send({ i = i, pad = pad }) end
    ]])
    assert.are.same({ { '1000', '1000' } }, lines_of(r.out, 'got\t(%d+)\t(%d+)\t0'), r.out .. r.err)
  end)

  it('delivers all 100k small messages a worker sent before it ended', function()
    local r = run_pair(count_in_primary, [[
      for i = 1, 100000 do process.send({ i = i }) end
    ]])
    assert.are.same({ { '100000', '100000' } }, lines_of(r.out, 'got\t(%d+)\t(%d+)\t0'), r.out .. r.err)
  end)

  local count_in_worker = [[
    local got, last = 0, 0
    process:on('message', function(m) got = got + 1; last = m.i end)
    process:on('exit', function() print('worker got', got, last) end)
  ]]

  it('delivers what the primary sent right before worker:disconnect()', function()
    local r = run_pair([[
      local w = cluster.fork()
      w:on('online', function()
        local pad = string.rep('y', 1000)
        for i = 1, 1000 do w:send({ i = i, pad = pad }) end
        w:disconnect()
      end)
    ]], count_in_worker)
    assert.are.same({ { '1000', '1000' } }, lines_of(r.out, 'worker got\t(%d+)\t(%d+)'), r.out .. r.err)
  end)

  it('delivers what the primary sent right before worker.process.disconnect()', function()
    local r = run_pair([[
      local w = cluster.fork()
      w:on('online', function()
        local pad = string.rep('y', 1000)
        for i = 1, 1000 do w:send({ i = i, pad = pad }) end
        w.process.disconnect()
      end)
    ]], count_in_worker)
    assert.are.same({ { '1000', '1000' } }, lines_of(r.out, 'worker got\t(%d+)\t(%d+)'), r.out .. r.err)
  end)
end)

describe('a worker that closes its channel with the primary\'s reply unread', function()
  it('still has its last frames read (EPOLLERR is not the end): 40 workers in a row', function()
    -- each asks to listen and destroys itself at once: the primary's answer
    -- is still unread when it closes, which makes the primary's side report
    -- an error before the frames the worker wrote last
    local out = await(h.run({ h.bin, h.script([[
      local cluster = require('cluster')
      if cluster.isWorker then
        require('http').createServer(function() end):listen(0, '127.0.0.1')
        cluster.worker:destroy()
        return
      end
      local runs, lost = 0, 0
      local function one()
        local w = cluster.fork()
        w:on('exit', function(code)
          if code ~= 0 or not w.exitedAfterDisconnect then lost = lost + 1 end
          runs = runs + 1
          if runs < 40 then one() else print('lost', lost) end
        end)
      end
      one()
    ]]) }))
    assert.are.equal('lost\t0\n', out.out, out.err)
  end)
end)
