--- luster.ws_server — WebSocketServer (npm's `ws` server shape): the
--- server side of the opening handshake (RFC 6455 4.2) on the HTTP
--- server's 'upgrade' event (lua/http.lua), then a WebSocket per client.
---
---   ws.WebSocketServer{port=|server=|noServer=true, host=, path=,
---     maxPayload=, handleProtocols=fn(protocols, req), clientTracking=true,
---     perMessageDeflate=false}[, cb]
---   'connection'(ws, req), 'headers'(lines, req), 'listening', 'close',
---   'error'; :handleUpgrade(req, socket, head, cb(ws, req)),
---   :shouldHandle(req), :address(), :close([cb]), .clients
---
--- `.clients` is a table whose keys are the open WebSockets (npm's ws has
--- a Set): `for client in pairs(wss.clients) do ... end`.
local EventEmitter = require('events')
local errors = require('luster.errors')
local crypto = require('crypto')
local wsock = require('luster.ws_socket')

local type, concat = type, table.concat

local GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

local M = {}

--- Sec-WebSocket-Accept for a Sec-WebSocket-Key.
function M.accept_key(key) return crypto.hash('sha1', key .. GUID, 'base64') end

---@class WebSocketServer: EventEmitter
local Server = EventEmitter.extend({})
M.WebSocketServer = Server

local function http_error(socket, status, message, extra)
  local http = require('http')
  if socket.destroyed then return end
  local reason = http.STATUS_CODES[status] or 'Error'
  socket:finish(('HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: %d\r\n%s\r\n%s')
    :format(status, reason, #message, extra or '', message))
end

--- new WebSocketServer(opts[, cb])
function M.new(opts, cb)
  opts = opts or {}
  local n = (opts.port ~= nil and 1 or 0) + (opts.server ~= nil and 1 or 0) + (opts.noServer and 1 or 0)
  if n ~= 1 then
    errors.throw('ERR_INVALID_ARG_VALUE', 'One and only one of the "port", "server", or "noServer" options must be specified')
  end
  if opts.perMessageDeflate then
    errors.throw('ERR_INVALID_ARG_VALUE', 'perMessageDeflate is not supported (set it to false)')
  end
  local self = setmetatable({ options = opts, clients = {}, _closed_state = false }, Server)
  self._tracking = opts.clientTracking ~= false
  local server = opts.server
  if opts.port ~= nil then
    server = require('http').createServer(function(_, res)
      local body = 'Upgrade Required'
      res:writeHead(426, { ['Content-Length'] = #body, ['Content-Type'] = 'text/plain' })
      res:finish(body)
    end)
    self._own_server = server
    server:listen(opts.port, opts.host, opts.backlog)
  end
  if server then
    self._server = server
    self._on_upgrade = function(req, socket, head)
      self:handleUpgrade(req, socket, head, function(ws) self:emit('connection', ws, req) end)
    end
    self._on_listening = function() self:emit('listening') end
    self._on_error = function(e) self:emit('error', e) end
    server:on('upgrade', self._on_upgrade)
    server:on('listening', self._on_listening)
    server:on('error', self._on_error)
  end
  if cb then self:once('listening', cb) end
  return self
end
getmetatable(Server).__call = function(_, opts, cb) return M.new(opts, cb) end
Server.new = M.new

--- Is this upgrade request for us (the `path` option)?
function Server:shouldHandle(req)
  local path = self.options.path
  if path then
    local u = req.url
    local q = u:find('?', 1, true)
    if (q and u:sub(1, q - 1) or u) ~= path then return false end
  end
  return true
end

local function header(req, name)
  local v = req.headers[name]
  if type(v) == 'table' then v = v[1] end
  return v
end

--- Complete the handshake on an 'upgrade' request; cb(ws, req) with the
--- open WebSocket, or the socket gets a 4xx answer and is closed.
-- During the handshake a socket error just ends it (net.lua's hooks: no
-- closure, and nothing left on the socket once the WebSocket takes over).
local HANDSHAKE_HOOKS = { error = function(socket) socket:destroy() end }

function Server:handleUpgrade(req, socket, head, cb)
  local net = require('net')
  if getmetatable(socket) and socket.emit == net.Socket.emit then net._add_hooks(socket, HANDSHAKE_HOOKS)
  else socket:on('error', function() socket:destroy() end) end
  local key = header(req, 'sec-websocket-key')
  local version = tonumber(header(req, 'sec-websocket-version'))
  local upgrade = header(req, 'upgrade')
  if req.method ~= 'GET' then return http_error(socket, 405, 'Invalid HTTP method') end
  if not upgrade or upgrade:lower() ~= 'websocket' then return http_error(socket, 400, 'Invalid Upgrade header') end
  if not key or not key:match('^[%w+/]+==$') or #key ~= 24 then
    return http_error(socket, 400, 'Missing or invalid Sec-WebSocket-Key header')
  end
  if version ~= 8 and version ~= 13 then
    return http_error(socket, 400, 'Missing or invalid Sec-WebSocket-Version header', 'Sec-WebSocket-Version: 13, 8\r\n')
  end
  if not self:shouldHandle(req) then return http_error(socket, 400, 'Bad Request') end
  local offered = {}
  local proto_header = header(req, 'sec-websocket-protocol')
  if proto_header then
    for p in proto_header:gmatch('[^,]+') do
      p = p:match('^%s*(.-)%s*$')
      if p == '' or not p:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
        return http_error(socket, 400, 'Invalid Sec-WebSocket-Protocol header')
      end
      offered[#offered + 1] = p
    end
  end
  if socket.destroyed then return end
  local protocol
  if #offered > 0 then
    local pick = self.options.handleProtocols
    if pick then
      protocol = pick(offered, req)
      if protocol == false then protocol = nil end
    else
      protocol = offered[1]
    end
  end
  local lines = { 'HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
                  'Sec-WebSocket-Accept: ' .. M.accept_key(key) }
  if protocol then lines[#lines + 1] = 'Sec-WebSocket-Protocol: ' .. protocol end
  self:emit('headers', lines, req)
  socket:write(concat(lines, '\r\n') .. '\r\n\r\n')
  local ws = wsock.new(true, { maxPayload = self.options.maxPayload })
  if protocol then ws.protocol = protocol end
  if self._tracking then
    self.clients[ws] = true
    ws._wss = self   -- it leaves `clients` as it closes (ws_socket.lua)
  end
  require('net')._remove_hooks(socket, HANDSHAKE_HOOKS)
  ws:_attach(socket, head)
  cb(ws, req)
end

function Server:address()
  if not self._server then errors.throw('ERR_INVALID_STATE', 'The server is operating in "noServer" mode') end
  return self._server:address()
end

--- Stop: the server made for `port` closes; an outside server is left
--- alone (only our 'upgrade' listener goes).  Open clients stay open, as
--- in ws 8.  'close' (and cb) follow.
function Server:close(cb)
  if self._closed_state then
    if cb then process.nextTick(cb, errors.new('ERR_SERVER_NOT_RUNNING', 'The server is not running')) end
    return
  end
  if cb then self:once('close', cb) end
  self._closed_state = true
  local server = self._server
  if server then
    server:removeListener('upgrade', self._on_upgrade)
    server:removeListener('listening', self._on_listening)
    server:removeListener('error', self._on_error)
  end
  if self._own_server then
    self._own_server:close(function() self:emit('close') end)
  else
    process.nextTick(function() self:emit('close') end)
  end
end

return M
