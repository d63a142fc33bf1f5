-- A WebSocket chat across cluster workers: every message a client sends
-- reaches every client, whichever worker holds its connection.  The path
-- of a message: client -> its worker -> process.send -> the primary ->
-- every worker -> their clients.
--   luster examples/chat_ws.lua        then connect to ws://127.0.0.1:3000/
-- PORT overrides 3000, WORKERS the number of workers (default: CPUs).
local cluster = require('cluster')

if cluster.isPrimary then
  local n = tonumber(process.env.WORKERS) or #require('os').cpus()
  -- what one worker hears from its clients, every worker says to its own
  cluster:on('message', function(_, msg)
    if type(msg) == 'table' and msg.chat then
      for _, w in pairs(cluster.workers) do w:send(msg) end
    end
  end)
  for _ = 1, n do cluster.fork() end
  console.log(('chat primary %d, %d workers'):format(process.pid, n))
else
  local ws = require('ws')
  local json = require('json')
  local wss = ws.WebSocketServer { port = tonumber(process.env.PORT) or 3000 }

  wss:on('connection', function(socket)
    -- tell the client where it landed (the spec uses it)
    socket:send(json.encode({ hello = process.pid }))
    socket:on('message', function(data, isBinary)
      if isBinary then return end
      process.send({ chat = data, worker = process.pid })
    end)
  end)

  process:on('message', function(msg)
    if type(msg) ~= 'table' or not msg.chat then return end
    local line = json.encode({ chat = msg.chat, via = msg.worker })
    for client in pairs(wss.clients) do
      if client.readyState == ws.OPEN then client:send(line) end
    end
  end)

  wss:on('listening', function() console.log(('chat worker %d listening'):format(process.pid)) end)
end
