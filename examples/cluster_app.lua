-- Seed 004 "When to Use Cluster": an app scaled across the CPU cores.
--   luster examples/cluster_app.lua        then  curl http://127.0.0.1:3000/
-- PORT overrides 3000 (the specs use it to avoid clashes).
local cluster = require('cluster')
local os = require('os')
local app = require('router')()

app:get('/', function(req, res)
  res:send(('Hello from worker %d'):format(process.pid))
end)

-- Use with luster's built-in cluster mode (PM2's, recommended for production)
-- luster -i max app.lua

-- Or manually with cluster
local numCPUs = #os.cpus()

if cluster.isPrimary then
  for i = 1, numCPUs do
    cluster.fork()
  end
else
  app:listen(tonumber(process.env.PORT) or 3000)
end
