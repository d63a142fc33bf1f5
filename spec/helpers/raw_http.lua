--- Raw HTTP peers for client specs: a net server that hands each
--- connection to the spec, and a reader of the request heads it gets, so a
--- spec can answer with exactly the bytes (good or hostile) it wants.
local net = require('net')

local M = {}

--- A net server on 127.0.0.1 (port 0) calling on_socket(sock) for each
--- connection; returns the server and its port.  Socket errors are the
--- spec's business, never an uncaught 'error'.
function M.server(on_socket)
  local conns = {}
  local server = net.createServer(function(sock)
    conns[#conns + 1] = sock
    sock:on('error', function() end)
    on_socket(sock)
  end)
  server._spec_conns = conns
  await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
  return server, server:address().port
end

--- Close the server, ending its connections first (a client's pooled
--- connections would keep it open until they idle out).
function M.close(server)
  for _, sock in ipairs(server._spec_conns) do sock:destroy() end
  await(Promise.new(function(r) server:close(r) end))
end

--- Call on_request(sock, head, n, body) for every request a connection
--- reads (n counts the connection's requests; the body is read by its
--- Content-Length).
function M.on_heads(sock, on_request)
  local buf, n = '', 0
  sock:on('data', function(d)
    buf = buf .. tostring(d)
    while true do
      local e = buf:find('\r\n\r\n', 1, true)
      if not e then return end
      local head = buf:sub(1, e + 3)
      local len = tonumber(head:match('\n[Cc]ontent%-[Ll]ength: *(%d+)')) or 0
      if #buf < e + 3 + len then return end
      local body = buf:sub(e + 4, e + 3 + len)
      buf = buf:sub(e + 4 + len)
      n = n + 1
      on_request(sock, head, n, body)
    end
  end)
end

return M
