---@meta ws
-- LuaCATS definitions for luster's `ws` (a WebSocket server in the shape
-- of npm's `ws`) and the global `WebSocket` client, RFC 6455 without
-- extensions.

---A WebSocket connection, from the client or from a server's 'connection'.
---Events (EventEmitter, as npm's ws): 'open', 'message'(data, isBinary),
---'close'(code, reason), 'error'(err), 'ping'(data), 'pong'(data), 'drain';
---browser-style `onopen`/`onmessage`/`onclose`/`onerror` properties too
---(`event.data` holds a message's payload).
---@class WebSocket: EventEmitter
---@field readyState integer 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED
---@field protocol string the subprotocol chosen in the handshake
---@field extensions string
---@field binaryType string
---@field isServer boolean true for the server side's WebSockets
---@field bufferedAmount integer bytes queued and not yet written
---@field url string
---@field onopen? fun(event: table)
---@field onmessage? fun(event: {data: string, isBinary: boolean})
---@field onclose? fun(event: {code: integer, reason: string})
---@field onerror? fun(event: table)
local WebSocketInstance = {}

---Send a message: a string is text when it is valid UTF-8 (unless
---`{binary=true}`), else binary.  Returns false past the socket's
---high-water mark ('drain' follows).
---@param data string|ffi.cdata*
---@param opts? {binary?: boolean, fin?: boolean}
---@param cb? fun(err?: table)
---@return boolean
function WebSocketInstance:send(data, opts, cb) end

---Start the closing handshake with a close code (1000 by default) and reason.
---@param code? integer
---@param reason? string
function WebSocketInstance:close(code, reason) end

---Send a ping (a pong answers it: 'pong').
---@param data? string
---@param mask? boolean
---@param cb? fun(err?: table)
function WebSocketInstance:ping(data, mask, cb) end

---Send an unsolicited pong.
---@param data? string
---@param mask? boolean
---@param cb? fun(err?: table)
function WebSocketInstance:pong(data, mask, cb) end

---Close the connection at once, without the closing handshake.
function WebSocketInstance:terminate() end

---Stop reading (the socket's backpressure applies to the peer).
function WebSocketInstance:pause() end

---Read again after pause().
function WebSocketInstance:resume() end

---Browser-style listener ('open', 'message', 'close', 'error').
---@param name string
---@param fn function
---@param opts? {once?: boolean}
function WebSocketInstance:addEventListener(name, fn, opts) end

---@param name string
---@param fn function
function WebSocketInstance:removeEventListener(name, fn) end

---`WebSocket(url[, protocols[, opts]])` connects (ws:// and wss://).
---opts: headers, maxPayload, ca, rejectUnauthorized, handshakeTimeout.
---@class WebSocketConstructor: WebSocket
---@overload fun(url: string, protocols?: string|string[], opts?: table): WebSocket
---@field CONNECTING integer
---@field OPEN integer
---@field CLOSING integer
---@field CLOSED integer
WebSocket = {}
---@param url string
---@param protocols? string|string[]
---@param opts? table
---@return WebSocket
function WebSocket.new(url, protocols, opts) end

---A WebSocket server: `ws.WebSocketServer{port=|server=|noServer=true,
---path=, maxPayload=, handleProtocols=, clientTracking=}`; events
---'connection'(socket, req), 'listening', 'error', 'close'.
---@class ws.WebSocketServer: EventEmitter
---@field clients table<WebSocket, boolean> the open connections (when tracking)
---@field options table
local Server = {}

---`ws.WebSocketServer(opts[, cb])` (also `.new`): cb runs once listening.
---@param opts table
---@param cb? function
---@return ws.WebSocketServer
function Server.new(opts, cb) end

---Whether `req` is for this server (its `path`).
---@param req table
---@return boolean
function Server:shouldHandle(req) end

---Complete the handshake of an 'upgrade' request (noServer mode) and call
---cb(ws, req) with the open WebSocket.
---@param req table
---@param socket net.Socket
---@param head string
---@param cb fun(ws: WebSocket, req: table)
function Server:handleUpgrade(req, socket, head, cb) end

---The listening address (its own server's), or nil.
---@return table|nil
function Server:address() end

---Close every connection (1001) and stop listening (its own server).
---@param cb? fun(err?: table)
function Server:close(cb) end

---@class ws
---@field CONNECTING integer
---@field OPEN integer
---@field CLOSING integer
---@field CLOSED integer
local ws = {}

---The client class (the global WebSocket).
---@type WebSocketConstructor
ws.WebSocket = WebSocket

---The server class: `ws.WebSocketServer(opts[, cb])`.
ws.WebSocketServer = Server

---Alias of WebSocketServer (npm's `ws.Server`).
ws.Server = Server

return ws
