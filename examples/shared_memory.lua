-- Sharing memory with a worker thread (seed: "Sharing Memory with Worker
-- Threads").  Both threads see the same four bytes: nothing is copied.
local Worker = require('worker_threads').Worker

local sharedBuffer = SharedArrayBuffer(4)
local sharedArray = Int32Array(sharedBuffer)

local worker = Worker('./shared_memory_worker.lua', {
  workerData = { sharedBuffer = sharedBuffer },
})

-- Both can read/write to sharedArray
Atomics.store(sharedArray, 0, 100)
-- The seed's JavaScript races here: its worker may load before this store.
-- Waking a worker that waits for the store makes the 100 certain.
Atomics.notify(sharedArray, 0)

worker:on('exit', function()
  console.log('main sees', Atomics.load(sharedArray, 0)) -- 101: the worker's add
end)
