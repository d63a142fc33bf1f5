-- server.lua (using cluster): seed 000 "Scaling an HTTP Server", in Lua.
--   luster examples/cluster_server.lua     then  curl http://127.0.0.1:3000/
-- PORT overrides 3000 (the specs use it to avoid clashes).
local cluster = require('cluster')
local http = require('http')
local os = require('os')

local numCPUs = #os.cpus()

if cluster.isMaster then
  console.log(('Master %d is running'):format(process.pid))

  -- Fork workers
  for i = 1, numCPUs do
    cluster.fork()
  end
else
  -- Each worker runs this
  http.createServer(function(req, res)
    res:finish(('Handled by PID: %d'):format(process.pid))
  end):listen(tonumber(process.env.PORT) or 3000)

  console.log(('Worker %d started'):format(process.pid))
end
