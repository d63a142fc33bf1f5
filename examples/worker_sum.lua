-- worker.js from the seed: simulate a CPU-intensive task, post the result.
local parentPort = require('worker_threads').parentPort

-- Simulate a CPU-intensive task
local sum = 0
for i = 0, 1e9 - 1 do sum = sum + i end

parentPort.postMessage(sum)
