-- One counter in memory shared by every cluster worker: the primary posts a
-- SharedArrayBuffer to each worker (its memory goes with the message, not a
-- copy), every worker adds to the same cell with Atomics.add, and the
-- primary reads the exact total.  Node cannot do this between processes.
--   luster examples/shared_counter.lua      WORKERS / ADDS override 2 / 100000
local cluster = require('cluster')

local WORKERS = tonumber(process.env.WORKERS) or 2
local ADDS = tonumber(process.env.ADDS) or 100000

if cluster.isPrimary then
  local counter = Int32Array(SharedArrayBuffer(4))
  local finished = 0
  for _ = 1, WORKERS do
    local worker = cluster.fork()
    worker:on('online', function() worker:send({ counter = counter, adds = ADDS }) end)
    worker:on('message', function()
      finished = finished + 1
      worker:disconnect()
      if finished == WORKERS then
        -- every worker's adds are in the one cell: exact, nothing lost
        console.log(('total %d (expected %d)'):format(Atomics.load(counter, 0), WORKERS * ADDS))
      end
    end)
  end
else
  process:on('message', function(msg)
    local add, counter = Atomics.add, msg.counter
    for _ = 1, msg.adds do add(counter, 0, 1) end
    process.send('done')
  end)
end
