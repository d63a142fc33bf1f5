-- Sharing memory with a worker thread (seed: "Sharing Memory with Worker
-- Threads").  Both threads see the same four bytes: nothing is copied.
local Worker = require('worker_threads').Worker

local sharedBuffer = SharedArrayBuffer(4)
local sharedArray = Int32Array(sharedBuffer)

local worker = Worker('./shared_memory_worker.lua', {
  workerData = { sharedBuffer = sharedBuffer },
})

-- Both can read/write to sharedArray.  (As in the seed, this store races
-- the worker's load; a new thread and its Lua state take far longer to
-- start than this line does, so the worker reads 100.)
Atomics.store(sharedArray, 0, 100)

worker:on('exit', function()
  console.log('main sees', Atomics.load(sharedArray, 0)) -- 101: the worker's add
end)
