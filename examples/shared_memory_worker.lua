-- The worker of shared_memory.lua.
local workerData = require('worker_threads').workerData
local sharedArray = Int32Array(workerData.sharedBuffer)
console.log(Atomics.load(sharedArray, 0)) -- 100
Atomics.add(sharedArray, 0, 1)
