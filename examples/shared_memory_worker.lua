-- The worker of shared_memory.lua.
local workerData = require('worker_threads').workerData
local sharedArray = Int32Array(workerData.sharedBuffer)
Atomics.wait(sharedArray, 0, 0, 1000) -- until main has stored (returns at once if it has)
console.log(Atomics.load(sharedArray, 0)) -- 100
Atomics.add(sharedArray, 0, 1)
