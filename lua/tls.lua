--- `tls` — TLS clients and servers (API.md "tls and https"), Node's names.
---
--- A TLSSocket is a net.Socket whose bytes pass through a TLS engine
--- (runtime/tls_engine.c, over memory BIOs): the native socket's events go
--- to `_wrap_native`'s handler, which feeds ciphertext to the engine, sends
--- what the engine produces, and hands the plaintext to net's own handler —
--- so the stream side (read/read(n)/readline/pipe/backpressure) is net's,
--- unchanged.  Writes made before the handshake is over wait for it.
---
--- Verification is Node's: a client always finishes the handshake, then
--- checks the chain (engine) and the host name (X509_check_host/ip); with
--- rejectUnauthorized (the default) a failure destroys the socket with
--- Node's code (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID...),
--- without it the socket connects with `authorized = false` and
--- `authorizationError`.  A server with requestCert + rejectUnauthorized
--- fails the handshake in OpenSSL.
---
--- SNICallback(servername, cb) is asynchronous: the handshake pauses at the
--- client hello (OpenSSL's client hello callback) until cb(err, ctx) -- or
--- the callback returns the context (the Lua way); a callback that raises
--- fails that handshake ('tlsClientError'), not the server.
local net = require('net')
local stream = require('luster.stream')
local errors = require('luster.errors')
local Promise = require('luster.promise')
local native = require('native.tls')
local ctxs = require('luster.tls_contexts')

local type, pcall = type, pcall

local M = {}

M.DEFAULT_MIN_VERSION = 'TLSv1.2'
M.DEFAULT_MAX_VERSION = 'TLSv1.3'
M.DEFAULT_ECDH_CURVE = 'auto'
M.createSecureContext = ctxs.createSecureContext
M.SecureContext = ctxs.SecureContext

local function tls_error(code, msg, extra)
  local e = errors.new(code, msg)
  if extra then for k, v in pairs(extra) do e[k] = v end end
  return e
end

-- ================================================================ TLSSocket

---@class tls.TLSSocket : net.Socket
local TLSSocket = setmetatable({}, { __index = net.Socket })
TLSSocket.__index = stream.index(TLSSocket)
M.TLSSocket = TLSSocket

local function send(self, out)
  local h = self._h
  if out ~= '' and h then pcall(h.write, h, out) end
end

local function clear_handshake_timer(self)
  local t = self._hs_timer
  if t then self._hs_timer = nil; clearTimeout(t) end
end

-- The handshake failed (or the peer went away during it).
local function fail(self, err)
  clear_handshake_timer(self)
  if self._failed then return end
  self._failed = true
  local srv = self.server
  if self._is_server and srv then
    srv:emit('tlsClientError', err, self)
    self:destroy()
  else
    self:destroy(err)
  end
end

local read_step

local function flush_pending(self)
  local q = self._tls_pending
  self._tls_pending = nil
  if q then for i = 1, #q do q[i]() end end
end

-- Node's client-side check: the chain, then the name (servername or host).
local function verify_client(self)
  local eng = self._eng
  local code, msg = eng:verify()
  if code then return tls_error(code, msg) end
  local host = self._check_name
  if host and not eng:check_host(host) then
    local cert = eng:peer_certificate() or {}
    local alt = cert.subjectaltname
    local reason = alt and ("Host: %s. is not in the cert's altnames: %s"):format(host, alt)
      or ("Host: %s. is not cert's CN: %s"):format(host, tostring(cert.subject and cert.subject.CN))
    return tls_error('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: " .. reason,
      { reason = reason, host = host, cert = cert })
  end
end

-- The handshake is over: what stays readable after the close (the engine
-- goes with the socket), and a server's verdict on the client.
local function on_secure_state(self)
  local eng = self._eng
  self._secure = true
  self._protocol, self._reused, self._cipher = eng:protocol(), eng:reused(), eng:cipher()
  self.alpnProtocol = eng:alpn()
  self.servername = eng:servername() or self._servername or false
  if self._is_server then
    if self._request_cert then
      local code = eng:verify()
      self.authorized = code == nil
      self.authorizationError = code
    else
      self.authorized = false
    end
  end
end

local function on_secure(self)
  clear_handshake_timer(self)
  on_secure_state(self)
  if self._is_server then
    flush_pending(self)
    self:emit('secure')
    local srv = self.server
    if srv then srv:emit('secureConnection', self) end
  else
    local err = verify_client(self)
    self.authorized = err == nil
    if err then
      self.authorizationError = err.code
      if self._reject ~= false then return fail(self, err) end
    end
    flush_pending(self)
    self:emit('secureConnect')
  end
end

local function handshake_step(self)
  local eng = self._eng
  if not eng or self.destroyed then return end
  local st, out, extra = eng:handshake()
  send(self, out)
  if st == 'done' then
    on_secure(self)
    if not self.destroyed then read_step(self) end
  elseif st == 'error' then
    fail(self, extra)
  elseif st == 'sni' then
    if extra == nil then
      -- no server_name in the hello: as Node, the SNICallback is not asked
      eng:sni_answer(nil)
      return handshake_step(self)
    end
    local answered = false
    local function answer(err, sctx)
      if answered or self.destroyed then return end
      answered = true
      local native_ctx
      if err == nil and sctx ~= nil then
        native_ctx = type(sctx) == 'table' and sctx.context or sctx
        if type(native_ctx) ~= 'userdata' then
          err = tls_error('ERR_TLS_INVALID_CONTEXT', 'context must be a SecureContext')
        end
      end
      if err ~= nil then
        if type(err) ~= 'table' then err = tls_error('ERR_TLS_SNI_CALLBACK', tostring(err)) end
        return fail(self, err)
      end
      eng:sni_answer(native_ctx)
      handshake_step(self)
    end
    -- cb(err, ctx) now or later, or the context returned
    local ok, ret = pcall(self.server._tls.SNICallback, extra, answer)
    if not ok then return answer(ret) end
    if ret ~= nil and not answered then answer(nil, ret) end
  end
end

read_step = function(self)
  local eng = self._eng
  local plain, st, out, err = eng:read()
  send(self, out)
  -- the session first: the data may end the socket's use (an agent
  -- destroys it once the response is read)
  if self._session_seq ~= nil then
    local seq = eng:session_seq()
    if seq ~= self._session_seq then
      self._session_seq = seq
      self._session = eng:session()
      self:emit('session', self._session)
    end
  end
  if plain ~= '' then self._plain('data', plain) end
  if st == 'closed' then
    if not self._tls_ended then self._tls_ended = true; self._plain('end') end
  elseif st == 'error' then
    self:destroy(err)
  end
end

local function on_native(self, event, a)
  if event == 'data' then
    local eng = self._eng
    if not eng then return end
    eng:feed(a)
    if self._secure then read_step(self) else handshake_step(self) end
  elseif event == 'connect' then
    self._plain('connect')
    if not self.destroyed then handshake_step(self) end
  elseif event == 'end' then
    if not self._secure then
      -- Node's words: the server's and the client's
      return fail(self, tls_error('ECONNRESET', self._is_server and 'socket hang up'
        or 'Client network socket disconnected before secure TLS connection was established'))
    end
    local st, err = self._eng:eof()
    if st == 'error' then return self:destroy(err) end
    if not self._tls_ended then self._tls_ended = true; self._plain('end') end
  elseif event == 'close' then
    self._plain('close')
    -- the SSL and its buffers go now, not when the collector finds the
    -- small userdata holding them
    local eng = self._eng
    self._eng = nil
    if eng then eng:close() end
  else
    self._plain(event, a)
  end
end

-- The seam of net.lua: called when the native socket is attached.
function TLSSocket:_wrap_native(plain)
  self._plain = plain
  if not self._eng then
    -- accepted by a tls.Server
    local t = self.server._tls
    self:_tls_setup(t.context, true, t)
  end
  return function(event, a) return on_native(self, event, a) end
end

function TLSSocket:_tls_setup(sctx, is_server, o)
  self.encrypted = true
  self._is_server = is_server
  self._secure = false
  self.authorized = false
  self.authorizationError = nil
  self._reject = o.rejectUnauthorized
  self._request_cert = o.requestCert
  self._servername = o.servername
  local eng = sctx:engine(is_server, (not is_server) and o.servername or nil)
  self._eng = eng
  if not is_server then
    self._check_name = o.servername or o.host or 'localhost'
    if o.session then eng:set_session(o.session) end
    self._session_seq = 0
  end
  local ms = o.handshakeTimeout
  if ms and ms > 0 then
    self._hs_timer = setTimeout(function()
      self._hs_timer = nil
      if not self._secure and not self.destroyed then
        fail(self, tls_error('ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timeout'))
      end
    end, ms)
    self._hs_timer:unref()
  end
end

function TLSSocket:_write(chunk, done)
  if not self._secure then
    if self.destroyed then return done(errors.new('ERR_SOCKET_CLOSED', 'Socket is closed')) end
    local q = self._tls_pending or {}
    self._tls_pending = q
    q[#q + 1] = function() self:_write(chunk, done) end
    return
  end
  local h, eng = self._h, self._eng
  if not h or not eng then return done(errors.new('ERR_SOCKET_CLOSED', 'Socket is closed')) end
  local out, err = eng:write(chunk)
  if not out then return done(err) end
  self.bytesWritten = self.bytesWritten + #chunk
  local t = self._timer
  if t then t:refresh() end
  local ok, queued = pcall(h.write, h, out)
  if not ok then return done(queued) end
  if queued == 0 then done() else self._wdone = done end
end

function TLSSocket:_final(done)
  if not self._secure and not self.destroyed then
    local q = self._tls_pending or {}
    self._tls_pending = q
    q[#q + 1] = function() self:_final(done) end
    return
  end
  if self._eng and self._h then send(self, self._eng:shutdown()) end
  return net.Socket._final(self, done)
end

function TLSSocket:_destroy(err)
  clear_handshake_timer(self)
  return net.Socket._destroy(self, err)
end

--- A promise that resolves with the socket once the handshake is over
--- (and the peer verified): `await(sock:connected())`.
function TLSSocket:connected()
  if self._secure and not self.destroyed then return Promise.resolve(self) end
  if self.destroyed then return Promise.reject(self._error or errors.new('ERR_SOCKET_CLOSED', 'Socket is closed')) end
  return Promise.new(function(resolve, reject)
    local on_secure_ev
    local function on_error(e)
      self:removeListener('secureConnect', on_secure_ev)
      reject(e)
    end
    on_secure_ev = function()
      self:removeListener('error', on_error)
      resolve(self)
    end
    self:once('error', on_error)
    self:once('secureConnect', on_secure_ev)
  end)
end

--- The peer's certificate as Node's object ({} when it sent none).
function TLSSocket:getPeerCertificate()
  local eng = self._eng
  if not eng then return nil end
  return eng:peer_certificate() or {}
end

function TLSSocket:getCertificate()
  local eng = self._eng
  return eng and eng:certificate() or nil
end

--- 'TLSv1.3', 'TLSv1.2', ... or nil before the handshake.
function TLSSocket:getProtocol() return self._protocol end
function TLSSocket:getCipher() return self._cipher end
--- The session (DER bytes) for `tls.connect{session = ...}`.
function TLSSocket:getSession() return self._session or (self._eng and (self._eng:session())) or nil end
function TLSSocket:isSessionReused() return self._reused or false end

--- A server-side TLSSocket over a connected `fd` whose handshake is already
--- done in `eng` (an https connection that upgraded: lua/https.lua).
function M._adopt_secure(fd, eng, server, request_cert)
  local raw = net.Socket.new({ fd = fd })
  local sock = setmetatable(net.Socket.new({}), TLSSocket)
  sock.server = server
  sock.encrypted = true
  sock._is_server = true
  sock._request_cert = request_cert
  sock._eng = eng
  net._take_over(sock, raw)
  on_secure_state(sock)
  sock._h:read_start()
  return sock
end

-- ================================================================ connect

local function connect_args(...)
  local a, b, c, d = ...
  local o, cb = {}, nil
  if type(a) == 'table' then
    for k, v in pairs(a) do o[k] = v end
    cb = b
  else
    o.port = a
    if type(b) == 'string' then
      o.host = b
      if type(c) == 'table' then for k, v in pairs(c) do o[k] = v end; cb = d else cb = c end
    elseif type(b) == 'table' then
      for k, v in pairs(b) do o[k] = v end
      cb = c
    else
      cb = b
    end
  end
  if type(cb) ~= 'function' then cb = nil end
  return o, cb
end

local function is_ip(host) return host and net.isIP(host) ~= 0 end

--- tls.connect{host=, port=, path=, servername=, ca=, cert=, key=,
--- rejectUnauthorized=true, ALPNProtocols=, session=, timeout=,
--- handshakeTimeout=, secureContext=, minVersion=, maxVersion=, ciphers=,
--- socket=} (`socket`: a connected net.Socket to secure, for STARTTLS
--- protocols; the TLSSocket takes its connection over)
--- (or tls.connect(port[, host][, opts][, cb])) -> a connecting TLSSocket;
--- cb listens for 'secureConnect'.
function M.connect(...)
  local o, cb = connect_args(...)
  o.host = o.host or 'localhost'
  if o.servername == nil and not is_ip(o.host) then o.servername = o.host end
  if o.rejectUnauthorized == nil then o.rejectUnauthorized = true end
  local sctx = o.secureContext and o.secureContext.context or ctxs.for_options(o, false)
  local sock = net.Socket.new(o)
  setmetatable(sock, TLSSocket)
  sock:_tls_setup(sctx, false, o)
  if o.servername == nil then sock._check_name = o.host end
  if cb then sock:once('secureConnect', cb) end
  if o.socket then
    -- STARTTLS: the handshake runs over an already connected socket
    if not net._take_over(sock, o.socket) then
      errors.throw('ERR_SOCKET_CLOSED', 'tls.connect: options.socket must be a connected net.Socket')
    end
    sock._h:read_start()
    handshake_step(sock)
    return sock
  end
  sock:connect { host = o.host, port = o.port, path = o.path, family = o.family, timeout = o.timeout,
                 noDelay = o.noDelay }
  return sock
end

-- ================================================================ Server

---@class tls.Server : net.Server
local Server = setmetatable({}, { __index = net.Server })
Server.__index = Server
M.Server = Server

--- tls.createServer{cert=, key=, ca=, passphrase=, requestCert=,
--- rejectUnauthorized=true, SNICallback=, ALPNProtocols=, handshakeTimeout=120000,
--- minVersion=, maxVersion=, ciphers=, sessionTimeout=}[, onSecureConnection]
function M.createServer(opts, listener)
  if type(opts) == 'function' then opts, listener = nil, opts end
  opts = opts or {}
  local self = net.createServer(opts)
  setmetatable(self, Server)
  self._Socket = TLSSocket
  local co = {}
  for k, v in pairs(opts) do co[k] = v end
  co.sniAsync = type(opts.SNICallback) == 'function'
  self._tls = {
    context = opts.secureContext and opts.secureContext.context or ctxs.for_options(co, true),
    requestCert = opts.requestCert == true,
    rejectUnauthorized = opts.rejectUnauthorized ~= false,
    SNICallback = opts.SNICallback,
    handshakeTimeout = opts.handshakeTimeout or 120000,
  }
  if listener then self:on('secureConnection', listener) end
  return self
end
setmetatable(Server, { __index = net.Server, __call = function(_, ...) return M.createServer(...) end })

return M
