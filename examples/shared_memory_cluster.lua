-- The seed's "Sharing Memory with Worker Threads", across a process
-- boundary: the worker is a cluster process, yet both see the same four
-- bytes (the SharedArrayBuffer's memory is sent, not copied).
local cluster = require('cluster')

if cluster.isPrimary then
  local sharedBuffer = SharedArrayBuffer(4)
  local sharedArray = Int32Array(sharedBuffer)

  local worker = cluster.fork()
  worker:send({ sharedBuffer = sharedBuffer })

  -- Both can read/write to sharedArray
  Atomics.store(sharedArray, 0, 100)
  Atomics.notify(sharedArray, 0) -- wakes the worker if it is already waiting

  worker:on('exit', function()
    console.log('main sees', Atomics.load(sharedArray, 0)) -- 101: the worker's add
  end)
else
  process:on('message', function(msg)
    local sharedArray = Int32Array(msg.sharedBuffer)
    Atomics.wait(sharedArray, 0, 0, 1000) -- until main has stored (returns at once if it has)
    console.log(Atomics.load(sharedArray, 0)) -- 100
    Atomics.add(sharedArray, 0, 1)
    process.disconnect()
  end)
end
