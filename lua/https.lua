--- `https` — Node's https (API.md "tls and https"): the HTTP server of
--- `http` with every connection over TLS, and the HTTP client over
--- tls.connect from an https Agent.
---
--- https.createServer(opts, handler) is http.createServer's C server (the
--- same limits, keep-alive, pipelining and cluster port sharing) with a
--- secure context attached: runtime/tls_http.c puts a TLS engine under each
--- connection.  The TLS options are tls.createServer's (cert, key, ca,
--- passphrase, requestCert, rejectUnauthorized, ALPNProtocols, minVersion,
--- maxVersion, ciphers, sessionTimeout).  A client that stalls in the
--- handshake meets headersTimeout (the idle phase before a first request).
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

--- https.createServer(opts, handler) -> an http.Server whose connections are TLS.
function M.createServer(opts, handler)
  if type(opts) == 'function' then opts, handler = nil, opts end
  opts = opts or {}
  if opts.SNICallback ~= nil then
    -- the C server cannot pause a handshake for Lua yet: refuse rather than
    -- serve the default certificate to every name
    errors.throw('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
      'https.createServer does not support SNICallback yet; use tls.createServer')
  end
  local srv = http.createServer(opts, handler)
  local sctx = opts.secureContext and opts.secureContext.context or ctxs.for_options(opts, true)
  native.http_attach(srv._h, sctx)
  srv._secure_context = sctx
  return srv
end

M.Server = http.Server

return M
