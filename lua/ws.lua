--- `ws` — WebSocket server and client in the shape of npm's `ws` (API.md
--- "Upgrades and WebSocket"), RFC 6455 without extensions
--- (perMessageDeflate is not offered).
---
---   local ws = require('ws')
---   local wss = ws.WebSocketServer{ port = 8080 }
---   wss:on('connection', function(socket, req)
---     socket:on('message', function(data, isBinary) socket:send(data, { binary = isBinary }) end)
---   end)
---   local c = ws.WebSocket('ws://127.0.0.1:8080/')   -- the global WebSocket too
---
--- Framing: lua/luster/ws_frame.lua; the connection object:
--- lua/luster/ws_socket.lua; server and handshake: lua/luster/ws_server.lua;
--- client: lua/luster/ws_client.lua.
local wsock = require('luster.ws_socket')
local server = require('luster.ws_server')
local client = require('luster.ws_client')

local M = {}

local WebSocket = wsock.WebSocket
-- `ws.WebSocket(url, protocols, opts)` connects, like `new WebSocket(...)`
getmetatable(WebSocket).__call = function(_, url, protocols, opts) return client.connect(url, protocols, opts) end
WebSocket.new = client.connect

M.WebSocket = WebSocket
M.WebSocketServer = server.WebSocketServer
M.Server = server.WebSocketServer
M.CONNECTING, M.OPEN, M.CLOSING, M.CLOSED = wsock.CONNECTING, wsock.OPEN, wsock.CLOSING, wsock.CLOSED

--- `ws.createWebSocketStream` is not provided; the WebSocket's events and
--- pause/resume carry the backpressure.
return M
