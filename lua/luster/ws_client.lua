--- luster.ws_client — the global `WebSocket(url[, protocols[, opts]])`:
--- the client side of the opening handshake (RFC 6455 4.1) over
--- http.request's 'upgrade' (lua/luster/http_client.lua), then the same
--- WebSocket object as the server's (lua/luster/ws_socket.lua).
---
--- url: ws:// or wss:// (http:// and https:// too, as npm's ws allows).
--- protocols: a string or a list.  opts: headers, maxPayload,
--- handshakeTimeout, origin, and for wss:// ca, cert, key, servername,
--- rejectUnauthorized (passed to tls.connect).
local errors = require('luster.errors')
local crypto = require('crypto')
local wsock = require('luster.ws_socket')
local accept_key = require('luster.ws_server').accept_key

local type, concat = type, table.concat

local M = {}

local function fail(ws, message, code)
  if ws.readyState == wsock.CLOSED then return end
  ws:_abort_handshake(errors.new(code or 'ERR_WS_HANDSHAKE', message))
end

local function tls_connect(opts)
  local ok, tls = pcall(require, 'tls')
  if not ok then
    errors.throw('ERR_WS_TLS_UNAVAILABLE', 'wss:// needs the tls module, which this build does not have')
  end
  return function(target)
    return tls.connect({ host = target.host, port = target.port, servername = opts.servername or target.host,
      ca = opts.ca, cert = opts.cert, key = opts.key, rejectUnauthorized = opts.rejectUnauthorized,
      ALPNProtocols = { 'http/1.1' } })
  end
end

local function handshake_over(hs)
  if hs.timer then clearTimeout(hs.timer); hs.timer = nil end
end

local function on_error(hs, err)
  handshake_over(hs)
  local ws = hs.ws
  if ws.readyState ~= wsock.CONNECTING then return end
  ws._abort = nil
  ws:_abort_handshake(err)
end

local function on_response(hs, res)
  handshake_over(hs)
  local ws = hs.ws
  if ws:listenerCount('unexpected-response') > 0 then
    ws:emit('unexpected-response', hs.req, res)
    return
  end
  res:resume()
  fail(ws, ('Unexpected server response: %d'):format(res.statusCode))
end

local function on_upgrade(hs, res, socket, head)
  handshake_over(hs)
  local ws = hs.ws
  ws._abort = nil
  if ws.readyState ~= wsock.CONNECTING then return socket:destroy() end
  local function bad(message)
    socket:destroy()
    fail(ws, message)
  end
  local up = res.headers.upgrade
  if type(up) ~= 'string' or up:lower() ~= 'websocket' then return bad('Invalid Upgrade header') end
  if res.headers['sec-websocket-accept'] ~= accept_key(hs.key) then return bad('Invalid Sec-WebSocket-Accept header') end
  local proto, offered = res.headers['sec-websocket-protocol'], hs.protocols
  if proto then
    if not offered then return bad('Server sent a subprotocol but none was requested') end
    if not offered[proto] then return bad('Server sent an invalid subprotocol') end
  elseif offered then
    return bad('Server sent no subprotocol')
  end
  if res.headers['sec-websocket-extensions'] then return bad('Server indicated an extension that was not requested') end
  if proto then ws.protocol = proto end
  ws:_attach(socket, head)
end

--- WebSocket(url[, protocols[, opts]]) -> a CONNECTING WebSocket; 'open'
--- (or 'error' then 'close') follows.
function M.connect(url, protocols, opts)
  if type(protocols) == 'table' and protocols[1] == nil and next(protocols) ~= nil then
    opts, protocols = protocols, nil
  end
  opts = opts or {}
  local parsed = URL.canParse(tostring(url)) and URL.new(tostring(url))
  if not parsed then errors.throw('ERR_INVALID_URL', 'Invalid URL: %s', tostring(url)) end
  local scheme = parsed.protocol
  if scheme == 'http:' then scheme = 'ws:' elseif scheme == 'https:' then scheme = 'wss:' end
  if scheme ~= 'ws:' and scheme ~= 'wss:' then
    errors.throw('ERR_INVALID_URL', 'The URL\'s protocol must be one of "ws:", "wss:", "http:", or "https:"')
  end
  if parsed.hash ~= '' then errors.throw('ERR_INVALID_URL', 'The URL contains a fragment identifier') end
  if type(protocols) == 'string' then protocols = { protocols } end
  protocols = protocols or {}
  local seen = {}
  for _, p in ipairs(protocols) do
    if type(p) ~= 'string' or not p:match("^[!#$%%&'*+%-.^_`|~%w]+$") or seen[p] then
      errors.throw('ERR_INVALID_ARG_VALUE', 'An invalid or duplicated subprotocol was specified')
    end
    seen[p] = true
  end

  local ws = wsock.new(false, opts.maxPayload and opts)
  ws.url = parsed.href
  local secure = scheme == 'wss:'
  local key = crypto.encode(crypto.randomBytes(16), 'base64')
  local headers = {}
  if opts.headers then for k, v in pairs(opts.headers) do headers[k] = v end end
  headers['Connection'], headers['Upgrade'] = 'Upgrade', 'websocket'
  headers['Sec-WebSocket-Key'], headers['Sec-WebSocket-Version'] = key, '13'
  if #protocols > 0 then headers['Sec-WebSocket-Protocol'] = concat(protocols, ',') end
  if opts.origin then headers['Origin'] = opts.origin end
  local host = parsed.hostname:gsub('^%[(.*)%]$', '%1')
  local req = require('http').request({
    host = host, port = tonumber(parsed.port) or (secure and 443 or 80),
    path = parsed.pathname .. parsed.search, method = 'GET', headers = headers, agent = false,
    createConnection = secure and tls_connect(opts) or nil, _tls = secure or nil,
  })
  -- what the handshake needs, in one table its listeners share (a
  -- handshake in flight holds a few small closures over it, not one
  -- closure per listener with its own copies)
  local hs = { ws = ws, req = req, key = key, protocols = #protocols > 0 and seen or nil }
  if opts.handshakeTimeout then
    hs.timer = setTimeout(function() fail(ws, 'Opening handshake has timed out', 'ETIMEDOUT') end, opts.handshakeTimeout)
  end
  ws._abort = function() handshake_over(hs); req:destroy() end
  req:on('error', function(err) on_error(hs, err) end)
  req:on('response', function(res) on_response(hs, res) end)
  req:on('upgrade', function(res, socket, head) on_upgrade(hs, res, socket, head) end)
  req:finish()
  return ws
end

return M
