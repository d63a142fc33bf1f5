--- `cluster` (Node's): processes that share server ports.
---
--- In a process the primary started (a cluster worker, see
--- lua/luster/cluster_worker.lua) this is the worker's module: isWorker,
--- `cluster.worker`, no fork — so a worker can never fork.  Anywhere else it
--- is the primary's (lua/luster/cluster_primary.lua).
---
---   local cluster = require('cluster')   -- also require('node:cluster')
---   if cluster.isPrimary then cluster.fork() else ... :listen(8000) end
local worker_side = require('luster.cluster_worker')
if worker_side.active then return worker_side.cluster end
return require('luster.cluster_primary')
