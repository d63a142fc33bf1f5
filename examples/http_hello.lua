-- The plain HTTP server: `luster examples/http_hello.lua` then
-- `curl http://127.0.0.1:8000/`.  PORT=0 picks a free port.
local http = require('http')

local server = http.createServer(function(req, res)
  res:writeHead(200, { ['Content-Type'] = 'text/plain' })
  res:finish('Hello, World!\n')
end)

server:listen(tonumber(process.env.PORT) or 8000, '127.0.0.1', function()
  console.log(('Server listening on port %d'):format(server:address().port))
end)
