-- main.js from the seed: run a CPU-heavy script in a worker and get its
-- result as a promise, without blocking this thread's event loop.
local Worker = require('worker_threads').Worker

local function runWorker()
  return Promise.new(function(resolve, reject)
    local worker = Worker('./worker_sum.lua')
    worker:on('message', resolve)
    worker:on('error', reject)
  end)
end

runWorker():next(function(result)
  console.log('Worker result:', result)
end)
