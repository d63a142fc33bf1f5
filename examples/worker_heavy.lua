-- Offloading a heavy computation to a worker thread (seed: "Worker Threads").
-- The same file runs in both threads: isMainThread tells them apart.
local wt = require('worker_threads')
local Worker, isMainThread, parentPort, workerData =
  wt.Worker, wt.isMainThread, wt.parentPort, wt.workerData

local function heavyComputation(n)
  local sum = 0
  for i = 0, n * 1000000 - 1 do sum = sum + i end
  return sum
end

if isMainThread then
  -- Main thread
  local worker = Worker(__filename, { workerData = { num = 42 } })
  worker:on('message', function(result) console.log(('Result: %d'):format(result)) end)
  worker:on('error', function(err) console.error('Worker error:', err) end)
  worker:on('exit', function(code) console.log(('Worker exited with code %d'):format(code)) end)
else
  -- Worker thread
  local num = workerData.num
  local result = heavyComputation(num)
  parentPort.postMessage(result)
end
