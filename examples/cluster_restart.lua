-- Seed 004 "Cluster Module": a worker per CPU, restarted when it dies.
--   luster examples/cluster_restart.lua    then  curl http://127.0.0.1:8000/
-- PORT overrides 8000 (the specs use it to avoid clashes).
local cluster = require('cluster')
local http = require('http')
local os = require('os')

local numCPUs = #os.cpus()

if cluster.isPrimary then
  console.log(('Primary %d is running'):format(process.pid))

  -- Fork workers for each CPU
  for i = 1, numCPUs do
    cluster.fork()
  end

  cluster.on('exit', function(worker, code, signal)
    console.log(('Worker %d died'):format(worker.process.pid))
    cluster.fork() -- Restart worker
  end)
else
  -- Workers share the TCP connection
  http.createServer(function(req, res)
    res:writeHead(200)
    res:finish(('Hello from worker %d'):format(process.pid))
  end):listen(tonumber(process.env.PORT) or 8000)

  console.log(('Worker %d started'):format(process.pid))
end
