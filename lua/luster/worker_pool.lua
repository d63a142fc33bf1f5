--- WorkerPool: a fixed set of workers running one script, each answering
--- one task at a time.
---
--- A pooled worker gets a task as a parentPort message and answers with one
--- postMessage.  `pool:run(data)` returns a promise of that answer; tasks
--- queue while every worker is busy.  A worker that dies (an uncaught error,
--- process.exit) is replaced and only the task it held is rejected.  Idle
--- workers do not keep the process alive; busy ones do.
local Promise = require('luster.promise')
local errors = require('luster.errors')

return function(wt)
  ---@class WorkerPool
  ---@field size integer
  local WorkerPool = {}
  WorkerPool.__index = WorkerPool

  local dispatch

  local function settle(slot, ok, value)
    local task = slot.task
    slot.task = nil
    if task then
      if ok then task.resolve(value) else task.reject(value) end
    end
  end

  local function spawn(pool, index)
    local w = wt.Worker(pool.file, pool.worker_options)
    local slot = { worker = w }
    pool.slots[index] = slot
    w:unref()
    w:on('message', function(v)
      settle(slot, true, v)
      w:unref()
      pool.idle[#pool.idle + 1] = slot
      dispatch(pool)
    end)
    w:on('error', function(e) settle(slot, false, e) end)
    w:on('exit', function(code)
      settle(slot, false, errors.new('ERR_WORKER_EXITED', ('worker exited with code %s'):format(tostring(code))))
      for i = #pool.idle, 1, -1 do if pool.idle[i] == slot then table.remove(pool.idle, i) end end
      if not pool.destroyed then
        local s = spawn(pool, index)
        pool.idle[#pool.idle + 1] = s
        dispatch(pool)
      end
    end)
    return slot
  end

  dispatch = function(pool)
    while #pool.idle > 0 and pool.qhead <= pool.qtail do
      local slot = table.remove(pool.idle)
      local task = pool.queue[pool.qhead]
      pool.queue[pool.qhead] = nil
      pool.qhead = pool.qhead + 1
      slot.task = task
      slot.worker:ref()
      local ok, err = pcall(slot.worker.postMessage, slot.worker, task.data, task.transfer)
      if not ok then -- DataCloneError: only this task fails
        settle(slot, false, err)
        slot.worker:unref()
        pool.idle[#pool.idle + 1] = slot
      end
    end
  end

  --- Start `options.size` workers (default os.availableParallelism())
  --- running `filename`; options.workerOptions go to each Worker.
  ---@param filename string
  ---@param options? {size?:integer, workerOptions?:table}
  ---@return WorkerPool
  function WorkerPool.new(filename, options)
    options = options or {}
    local size = tonumber(options.size) or require('os').availableParallelism()
    if size < 1 then errors.throw('ERR_OUT_OF_RANGE', 'The pool size must be at least 1') end
    local wo = {}
    for k, v in pairs(options.workerOptions or {}) do wo[k] = v end
    local self = setmetatable({
      file = filename, size = size, worker_options = wo,
      slots = {}, idle = {}, queue = {}, qhead = 1, qtail = 0, destroyed = false,
    }, WorkerPool)
    for i = 1, size do self.idle[#self.idle + 1] = spawn(self, i) end
    return self
  end
  setmetatable(WorkerPool, { __call = function(_, ...) return WorkerPool.new(...) end })

  --- Run one task: a promise of the worker's answer to `data`.
  ---@param data any
  ---@param transferList? table
  ---@return Promise
  function WorkerPool:run(data, transferList)
    if self.destroyed then
      return Promise.reject(errors.new('ERR_WORKER_POOL_DESTROYED', 'the pool was destroyed'))
    end
    local p = Promise.new(function(resolve, reject)
      self.qtail = self.qtail + 1
      self.queue[self.qtail] = { data = data, transfer = transferList, resolve = resolve, reject = reject }
    end)
    dispatch(self)
    return p
  end

  --- Tasks waiting for a worker.
  ---@return integer
  function WorkerPool:pending() return self.qtail - self.qhead + 1 end

  --- Stop every worker; queued and running tasks are rejected.  Returns a
  --- promise that resolves when all workers have exited.
  ---@return Promise
  function WorkerPool:destroy()
    if self.destroyed then return Promise.resolve() end
    self.destroyed = true
    for i = self.qhead, self.qtail do
      self.queue[i].reject(errors.new('ERR_WORKER_POOL_DESTROYED', 'the pool was destroyed'))
      self.queue[i] = nil
    end
    self.qhead, self.qtail = 1, 0
    local all = {}
    for _, slot in pairs(self.slots) do
      slot.worker:ref() -- wait for the exits
      all[#all + 1] = slot.worker:terminate()
    end
    return Promise.all(all)
  end

  return WorkerPool
end
