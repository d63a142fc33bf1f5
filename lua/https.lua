--- `https` — Node's https (API.md "tls and https"): the HTTP server of
--- `http` with every connection over TLS, and the HTTP client over
--- tls.connect from an https Agent.
---
--- https.createServer(opts, handler) is http.createServer's C server (the
--- same limits, keep-alive, pipelining and cluster port sharing) with a
--- secure context attached: runtime/tls_http.c puts a TLS engine under each
--- connection.  The TLS options are tls.createServer's (cert, key, ca,
--- passphrase, requestCert, rejectUnauthorized, SNICallback, ALPNProtocols,
--- minVersion, maxVersion, ciphers, sessionTimeout), and so are the events
--- ('secureConnection', 'tlsClientError') and req.socket's getters
--- (getPeerCertificate, authorized, getProtocol...).  A client that stalls
--- in the handshake meets headersTimeout (the idle phase before a first
--- request): 'tlsClientError' with ERR_TLS_HANDSHAKE_TIMEOUT.
---
--- https.request/get are http's with `_tls`: the default agent is
--- https.globalAgent (keepAlive), whose pool key includes the TLS options
--- and which keeps each origin's latest TLS session to resume the next
--- connection with.
local http = require('http')
local client = require('luster.http_client')
local Agent = require('luster.http_agent')
local tls = require('tls')
local ctxs = require('luster.tls_contexts')
local native = require('native.tls')
local errors = require('luster.errors')
local incoming = require('luster.http_incoming')

local M = {}

-- ================================================================ Agent

-- per-connection TLS options taken from the request (or the agent's options)
local TLS_KEYS = { 'ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized', 'ALPNProtocols',
                   'minVersion', 'maxVersion', 'ciphers', 'secureContext', 'handshakeTimeout' }

---@class https.Agent : http.Agent
local HttpsAgent = setmetatable({}, { __index = Agent })
HttpsAgent.__index = HttpsAgent
M.Agent = HttpsAgent

--- https.Agent{keepAlive=, maxSockets=, ..., maxCachedSessions=100, plus
--- default TLS options for its connections (ca=, rejectUnauthorized=...)}
function HttpsAgent.new(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.defaultPort = o.defaultPort or 443
  o.protocol = 'https:'
  local self = setmetatable(Agent.new(o), HttpsAgent)
  self.maxCachedSessions = o.maxCachedSessions or 100
  self._sessions, self._session_order = {}, {}
  return self
end
setmetatable(HttpsAgent, { __index = Agent, __call = function(_, opts) return HttpsAgent.new(opts) end })

local function opt(self, o, k)
  local v = o[k]
  if v == nil then v = self.options[k] end
  return v
end

local function flat(v)
  if type(v) == 'table' then
    if v.context then return tostring(v.context) end
    return table.concat(v, ',')
  end
  return v == nil and '' or tostring(v)
end

--- The pool key: the origin and every TLS option (as Node's).
function HttpsAgent:getName(o)
  local parts = { Agent.getName(self, o) }
  for i, k in ipairs(TLS_KEYS) do parts[i + 1] = flat(opt(self, o, k)) end
  return table.concat(parts, ':')
end

local function cache_session(self, name, der)
  if not der then return end
  if self._sessions[name] == nil then
    local order = self._session_order
    order[#order + 1] = name
    if #order > self.maxCachedSessions then self._sessions[table.remove(order, 1)] = nil end
  end
  self._sessions[name] = der
end

function HttpsAgent:createConnection(o)
  local name = self:getName(o)
  local c = { host = o.host, port = o.port, path = o.socketPath, family = o.family,
              localAddress = o.localAddress, session = self.maxCachedSessions > 0 and self._sessions[name] or nil }
  for _, k in ipairs(TLS_KEYS) do c[k] = opt(self, o, k) end
  local sock = tls.connect(c)
  sock:on('session', function(der) cache_session(self, name, der) end)
  return sock
end

M.globalAgent = HttpsAgent.new { keepAlive = true }

-- ================================================================ client

local function with_tls(t)
  local o = {}
  if t then for k, v in pairs(t) do o[k] = v end end
  o._tls = true
  o._default_agent = M.globalAgent
  return o
end

--- https.request(url[, opts][, cb]) | https.request(opts[, cb]) -> ClientRequest
function M.request(a, b, c)
  if type(a) == 'table' and not a.href then return client.request(with_tls(a), b) end
  if type(b) == 'table' then return client.request(a, with_tls(b), c) end
  return client.request(a, with_tls(nil), b)
end

function M.get(...)
  local req = M.request(...)
  req:finish()
  return req
end

-- ================================================================ server

-- An https request's socket (req.socket, and the one 'secureConnection'
-- and 'tlsClientError' get) is the http server's socket table with the
-- getters of a TLSSocket, read from the connection's session in C
-- (runtime/tls_http.c); what cannot change after the handshake is
-- computed on first read and kept.
local base_index = incoming.socket_mt.__index
local http_info, sni_answer = native.http_info, native.http_sni_answer

---@class https.Socket : HttpSocket
local TLSMethods = {}

--- The peer's certificate as Node's object ({} when it sent none, nil once
--- the connection is closed).
function TLSMethods:getPeerCertificate()
  local cert, closed = http_info(rawget(self, '_h'), 'peer_certificate')
  if closed then return nil end
  return cert or {}
end
function TLSMethods:getCertificate() return (http_info(rawget(self, '_h'), 'certificate')) end
--- 'TLSv1.3', 'TLSv1.2'...
function TLSMethods:getProtocol() return (http_info(rawget(self, '_h'), 'protocol')) end
function TLSMethods:getCipher() return (http_info(rawget(self, '_h'), 'cipher')) end
function TLSMethods:isSessionReused() return http_info(rawget(self, '_h'), 'reused') or false end

-- the fields: nil while the handshake is not done (or the socket closed)
local FIELDS = {
  encrypted = function() return true end,
  alpnProtocol = function(h) return http_info(h, 'alpn') end,
  servername = function(h) return http_info(h, 'servername') or false end,
  authorized = function(h, request_cert) return request_cert and http_info(h, 'verify') == nil end,
  authorizationError = function(h, request_cert)
    if request_cert then return (http_info(h, 'verify')) end
    return false -- nothing to cache (Node's undefined): nil below
  end,
}

local function get_field(sock, k, request_cert)
  local h = rawget(sock, '_h')
  if http_info(h, 'protocol') == nil then return nil end
  local v = FIELDS[k](h, request_cert)
  if k == 'authorizationError' and v == false then v = nil end
  rawset(sock, k, v)
  return v
end

-- Run the SNICallback(servername, cb) for a connection: cb(err, ctx), or a
-- context returned; the first answer counts.
local function run_sni(server, sock, name)
  local h = rawget(sock, '_h')
  local done = false
  local function answer(err, sctx)
    if done then return end
    done = true
    local native_ctx
    if err == nil and sctx ~= nil then
      native_ctx = type(sctx) == 'table' and sctx.context or sctx
      if type(native_ctx) ~= 'userdata' then
        err = errors.new('ERR_TLS_INVALID_CONTEXT', 'context must be a SecureContext')
      end
    end
    if err ~= nil then
      if not errors.is(err) and type(err) ~= 'table' then err = errors.new('ERR_TLS_SNI_CALLBACK', tostring(err)) end
      server:emit('tlsClientError', err, sock)
      return sni_answer(h, false)
    end
    sni_answer(h, native_ctx)
  end
  local ok, ret = pcall(server._SNICallback, name, answer)
  if not ok then return answer(ret) end
  if ret ~= nil and not done then answer(nil, ret) end
end

local function socket_mt(server, request_cert)
  local function on_tls_event(sock, kind, a, b)
    if kind == 'secure' then
      server:emit('secureConnection', sock)
    elseif kind == 'sni' then
      run_sni(server, sock, a)
    elseif kind == 'client_error' then
      server:emit('tlsClientError', errors.new(a, b), sock)
    end
  end
  return {
    __index = function(t, k)
      local m = TLSMethods[k]
      if m then return m end
      if k == '_tls_event' then return on_tls_event end
      if FIELDS[k] then return get_field(t, k, request_cert) end
      return base_index(t, k)
    end,
  }
end

---@class https.Server : HttpServer
local Server = {}
local http_index = http.Server.__index
Server.__index = function(t, k)
  local v = Server[k]
  if v ~= nil then return v end
  return http_index(t, k)
end
Server.__newindex = http.Server.__newindex
M.Server = Server

-- An upgrade ('upgrade', 'connect'): the socket handed to the listeners
-- is a tls.TLSSocket over the connection's TLS session.
function Server:_secure_socket(fd, eng)
  return tls._adopt_secure(fd, eng, self, rawget(self, '_request_cert'))
end

function Server:_listeners_changed(name)
  if name == 'secureConnection' then
    native.http_notify_secure(self._h, self:listenerCount('secureConnection') > 0)
  end
  return http.Server._listeners_changed(self, name)
end

--- https.createServer(opts, handler) -> an http.Server whose connections
--- are TLS: http's options and limits plus tls.createServer's (cert, key,
--- ca, passphrase, requestCert, rejectUnauthorized, SNICallback,
--- ALPNProtocols, minVersion, maxVersion, ciphers, sessionTimeout,
--- secureContext); 'secureConnection' and 'tlsClientError' as tls.Server.
function M.createServer(opts, handler)
  if type(opts) == 'function' then opts, handler = nil, opts end
  opts = opts or {}
  local sni = opts.SNICallback
  if sni ~= nil and type(sni) ~= 'function' then
    errors.throw('ERR_INVALID_ARG_TYPE', 'The "options.SNICallback" property must be of type function. Received %s', type(sni))
  end
  local co = {}
  for k, v in pairs(opts) do co[k] = v end
  co.sniAsync = sni ~= nil
  -- as Node's https.Server: HTTP/1.1 is what it speaks
  if co.ALPNProtocols == nil then co.ALPNProtocols = { 'http/1.1' } end
  local sctx = opts.secureContext and opts.secureContext.context or ctxs.for_options(co, true)
  local srv = setmetatable(http.createServer(opts, handler), Server)
  rawset(srv, '_SNICallback', sni or false)
  rawset(srv, '_request_cert', opts.requestCert == true)
  native.http_attach(srv._h, sctx, socket_mt(srv, opts.requestCert == true))
  rawset(srv, '_secure_context', sctx)
  return srv
end

return M
