-- worker_threads.WorkerPool (API.md "worker_threads").
local wt = require('worker_threads')

local function tmpfile(src)
  local p = os.tmpname() .. '.lua'
  local f = io.open(p, 'w')
  f:write(src)
  f:close()
  return p
end

local task_file = tmpfile([[
  local port = require('worker_threads').parentPort
  port:on('message', function(task)
    if task.crash then error('crashed on purpose') end
    if task.exit then process.exit(3) end
    local s = 0
    for i = 1, task.n do s = s + i end
    port:postMessage({ n = task.n, sum = s, thread = require('worker_threads').threadId })
  end)
]])

describe('a WorkerPool', function()
  teardown(function() os.remove(task_file) end)

  it('answers each task with its worker reply, queueing when all are busy', function()
    local pool = wt.WorkerPool(task_file, { size = 2 })
    local ps, threads = {}, {}
    for n = 1, 12 do ps[n] = pool:run({ n = n * 1000 }) end
    for n = 1, 12 do
      local r = await(ps[n])
      assert.are.equal(n * 1000, r.n)
      assert.are.equal((n * 1000) * (n * 1000 + 1) / 2, r.sum)
      threads[r.thread] = true
    end
    local count = 0
    for _ in pairs(threads) do count = count + 1 end
    assert.is_true(count <= 2)
    await(pool:destroy())
  end)

  it('defaults to os.availableParallelism() workers', function()
    local pool = wt.WorkerPool(task_file)
    assert.are.equal(require('os').availableParallelism(), pool.size)
    await(pool:destroy())
  end)

  it('replaces a crashed worker and rejects only its task', function()
    local pool = wt.WorkerPool(task_file, { size = 1 })
    local bad = pool:run({ crash = true })
    local after = pool:run({ n = 10 })
    local ok, e = pcall(await, bad)
    assert.is_false(ok)
    assert.is_truthy(tostring(e.message):find('crashed on purpose', 1, true))
    assert.are.equal(55, await(after).sum)
    local exit_task = pool:run({ exit = true })
    local ok2, e2 = pcall(await, exit_task)
    assert.is_false(ok2)
    assert.are.equal('ERR_WORKER_EXITED', e2.code)
    assert.are.equal(6, await(pool:run({ n = 3 })).sum)
    await(pool:destroy())
  end)

  it('rejects a task whose data cannot be cloned, and goes on', function()
    local pool = wt.WorkerPool(task_file, { size = 1 })
    local ok, e = pcall(await, pool:run({ n = 1, f = print }))
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    assert.are.equal(1, await(pool:run({ n = 1 })).sum)
    await(pool:destroy())
  end)

  it('rejects queued tasks on destroy()', function()
    local pool = wt.WorkerPool(task_file, { size = 1 })
    local function outcome(p) return p:next(function(v) return { ok = v } end, function(e) return { err = e } end) end
    local running = outcome(pool:run({ n = 5e7 }))
    local queued = outcome(pool:run({ n = 1 }))
    await(pool:destroy())
    assert.are.equal('ERR_WORKER_POOL_DESTROYED', await(queued).err.code)
    assert.is_truthy(await(running).err)
    assert.are.equal('ERR_WORKER_POOL_DESTROYED', await(outcome(pool:run({ n = 1 }))).err.code)
  end)
end)
