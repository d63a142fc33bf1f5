--- `net` — TCP and Unix-socket servers and clients (API.md "net"), over
--- runtime/socket.c and the one stream model (lua/luster/stream.lua).
---
--- A Socket is a Duplex stream: 'data'/'end'/pause/resume/pipe and the
--- coroutine forms `await(sock:read())`, `read(n)`, `readline()` on the
--- readable side; write/finish/'drain' on the writable side.  Reading from
--- the kernel stops while the readable buffer holds its high-water mark
--- (push returned false) and starts again when it is consumed; a write
--- goes straight to the kernel when it can (uv_try_write), and `write`
--- returns false once 64 KiB wait.  In a cluster worker a server's port
--- is shared through the cluster seam (lua/luster/net.lua), as http's.
local native = require('native.socket')
local stream = require('luster.stream')
local errors = require('luster.errors')
local Promise = require('luster.promise')
local seam = require('luster.net')
local dns = require('dns')

local type, tostring, tonumber = type, tostring, tonumber

local M = {}

M.isIP = dns.isIP
function M.isIPv4(s) return dns.isIP(s) == 4 end
function M.isIPv6(s) return dns.isIP(s) == 6 end

local function throw(code, fmt, ...) errors.throw(code, fmt, ...) end

-- Node's message for a connect/listen error: 'connect ECONNREFUSED 127.0.0.1:1'
local function with_address(err, syscall, address, port)
  if type(err) ~= 'table' then return err end
  err.address, err.port = address, port
  local where = port and (address .. ':' .. tostring(port)) or address
  if where and not tostring(err.message):find(where, 1, true) then
    err.message = ('%s %s %s'):format(syscall or err.syscall or '', err.code, where)
  end
  return err
end

-- ================================================================ Socket

---@class net.Socket : EventEmitter
local Socket = stream.Duplex.extend({})
Socket.__index = stream.index(Socket)   -- readableLength, writableLength... as getters

local function fill_addresses(self)
  local h = self._h
  if not h then return end
  local here, there = h:address(false), h:address(true)
  if type(here) == 'table' then
    self.localAddress, self.localPort, self.localFamily = here.address, here.port, here.family
  end
  if type(there) == 'table' then
    self.remoteAddress, self.remotePort, self.remoteFamily = there.address, there.port, there.family
  elseif type(there) == 'string' then
    self.remoteAddress = there
  end
end

-- The addresses are read from the kernel when first asked for (and kept),
-- as Node's getters do: a socket nobody asks holds none of them.
local function address_getter(k)
  return function(t)
    if rawget(t, '_addresses_read') or not rawget(t, '_h') or rawget(t, '_conn') then return nil end
    rawset(t, '_addresses_read', true)
    fill_addresses(t)
    return rawget(t, k)
  end
end
Socket._getters = {}
for _, k in ipairs { 'localAddress', 'localPort', 'localFamily', 'remoteAddress', 'remotePort', 'remoteFamily' } do
  Socket._getters[k] = address_getter(k)
end

-- What a socket's state says, computed rather than kept in fields (an idle
-- connection's table then has room for what it really holds), as Node's
-- getters compute them from its handle.
function Socket._getters.readyState(t)
  if rawget(t, 'destroyed') then return 'closed' end
  if t.connecting then return 'opening' end
  return rawget(t, '_h') and 'open' or 'closed'
end
function Socket._getters.pending(t) return not rawget(t, '_h') or t.connecting end

-- A connecting socket keeps what only the connect needs in one table,
-- `_conn` = {address=, port=, queue=} (the destination its errors name,
-- the writes waiting for it), dropped once connected.
function Socket._getters.connecting(t) return rawget(t, '_conn') ~= nil end

local function queue_until_connected(self, fn)
  local c = rawget(self, '_conn')
  local q = c.queue
  if not q then q = {}; c.queue = q end
  q[#q + 1] = fn
end

-- The byte counts are the native socket's (runtime/socket.c), kept in
-- fields only once it is gone (Socket:_destroy).  A subclass that layers a
-- protocol under the stream (TLS) counts its own bytes in the fields.
local function byte_counts(t)
  local h = not t._wrap_native and rawget(t, '_h')
  if h then
    local ok, r, w = pcall(h.bytes, h)
    if ok then return r, w end
  end
  return 0, 0
end
function Socket._getters.bytesRead(t) return (byte_counts(t)) end
function Socket._getters.bytesWritten(t) return select(2, byte_counts(t)) end

-- A plain socket's counts, kept as its native socket goes.
local function keep_byte_counts(self)
  if self._wrap_native or rawget(self, 'bytesRead') ~= nil then return end
  self.bytesRead, self.bytesWritten = byte_counts(self)
end

-- Defaults most sockets keep (set on the socket only when they differ).
Socket.allowHalfOpen = false
Socket._kind = 'tcp'
M.Socket = Socket

-- Read from the kernel as soon as the connection is up, as Node's sockets
-- do (read(0)): data is buffered up to the high-water mark for a consumer
-- to come, and the peer's FIN is seen (and 'end' emitted when nothing is
-- buffered) even if nobody reads.
local function start_reading(self)
  -- bytes for a sink (an internal consumer) need no readable state: it is
  -- made if someone else reads, eager then too (_readable_state)
  if rawget(self, '_sink') and not rawget(self, '_rs') then return self:_read() end
  local st = stream.rstate(self)
  st.eager = true
  if st.need_read and not st.ended and st.flowing ~= false then
    st.need_read = false
    self:_read()
  end
end

-- Connections coming and going: C memory they freed goes back to the OS
-- (lua/luster/net_memory.lua).
local note_churn = require('luster.net_memory').note_churn

-- Both directions are over: release the descriptor (Node's autoDestroy).
local function maybe_close(self)
  local rs, ws = rawget(self, '_rs'), rawget(self, '_ws')
  if rs and rs.end_emitted and ws and ws.finished and not self.destroyed then self:destroy() end
end

local function socket_init(self, opts)
  if opts then
    if opts.highWaterMark then self:initReadable(opts); self:initWritable(opts) end
    if opts.allowHalfOpen == true then self.allowHalfOpen = true end
  end
  return self
end

-- Internal owners of a socket (the HTTP agent, the HTTP client) hear its
-- events through shared tables of functions, `hooks[event](sock, ...)`,
-- listed in `sock._hooks`, instead of a closure per socket and event: an
-- idle pooled connection then holds no listener at all.  They run before
-- the user's listeners, and an 'error' a hook heard is not unhandled.
function Socket:emit(name, ...)
  if name == 'end' or name == 'finish' then maybe_close(self) end
  local hooks = rawget(self, '_hooks')
  local heard = false
  if hooks then
    for i = 1, #hooks do
      local f = hooks[i][name]
      if f then f(self, ...); heard = true end
    end
  end
  if heard and name == 'error' and stream.Duplex.listenerCount(self, 'error') == 0 then return true end
  return stream.Duplex.emit(self, name, ...) or heard
end

-- The hooks count as listeners, as Node's internal ones do (the stream
-- emits 'error' only when someone listens).
function Socket:listenerCount(name, fn)
  local n = stream.Duplex.listenerCount(self, name, fn)
  local hooks = rawget(self, '_hooks')
  if hooks and fn == nil then
    for i = 1, #hooks do if hooks[i][name] then n = n + 1 end end
  end
  return n
end

-- The lists themselves are shared too: there are only a few owners'
-- tables (module constants), so each combination of them is one list,
-- interned here and never changed in place (a socket changing owners gets
-- another list; an emit walking the old one is not disturbed).
local LIST = {}            -- the private key of a trie node's list
local hook_lists = {}      -- hook_lists[h1][h2]...[LIST] = { h1, h2, ... }

local function interned(seq, n)
  if n == 0 then return nil end
  local node = hook_lists
  for i = 1, n do
    local nxt = node[seq[i]]
    if not nxt then nxt = {}; node[seq[i]] = nxt end
    node = nxt
  end
  local list = node[LIST]
  if not list then
    list = {}
    for i = 1, n do list[i] = seq[i] end
    node[LIST] = list
  end
  return list
end

--- Add `hooks` to the socket's internal owners (once).
function M._add_hooks(sock, hooks)
  local list = rawget(sock, '_hooks')
  local seq, n = {}, 0
  if list then
    for i = 1, #list do
      if list[i] == hooks then return end
      n = n + 1
      seq[n] = list[i]
    end
  end
  seq[n + 1] = hooks
  rawset(sock, '_hooks', interned(seq, n + 1))
end

--- Remove `hooks` from the socket's internal owners; true if it was there.
function M._remove_hooks(sock, hooks)
  local list = rawget(sock, '_hooks')
  if not list then return false end
  local seq, n, found = {}, 0, false
  for i = 1, #list do
    if list[i] == hooks then found = true
    else n = n + 1; seq[n] = list[i] end
  end
  if found then rawset(sock, '_hooks', interned(seq, n)) end
  return found
end

-- A readable state made again after an idle socket dropped it
-- (compact_idle: sockets whose bytes go to a sink, all of them reading
-- since they connected) is an eager one, as the first was.
function Socket:_readable_state(opts)
  local st = stream.Readable._readable_state(self, opts)
  if rawget(self, '_sink') and rawget(self, '_h') then st.eager = true end
  return st
end

--- (internal consumers) An idle socket whose bytes go to a sink (a pooled
--- HTTP client connection, a WebSocket) drops its stream states while
--- they are as fresh ones would be: they are made again when used.
function M._compact_idle(sock)
  note_churn()
  if not rawget(sock, '_sink') or rawget(sock, 'destroyed') then return end
  stream.compact(sock)
  local ev = rawget(sock, '_events')
  if not (ev and ev.data) then stream.compact_readable(sock) end
end

setmetatable(Socket, { __index = stream.Duplex, __call = function(_, opts) return Socket.new(opts) end })

local function refresh_timer(self)
  local t = self._timer
  if t then t:refresh() end
end


-- Every event of the native socket, as one function (runtime/socket.c):
-- the dispatch function of owned sockets (sock:set_owner), shared by all
-- of them, so that a connection holds no closure of its own.  A subclass
-- that layers a protocol under the stream (TLS: lua/tls.lua) wraps a
-- per-socket handler instead, with `_wrap_native(plain_handler)`.
local function on_native(self, event, a)
  if event == 'data' then
    if self._wrap_native then self.bytesRead = self.bytesRead + #a end
    local t = self._timer
    if t then t:refresh() end
    -- an internal consumer (the HTTP client) takes the bytes with a plain
    -- call; it returns false to stop reading until it calls _read()
    local sink = self._sink
    if sink then
      -- user 'data' listeners hear the bytes too, if they were there before
      -- the sink ran (a sink that hands the socket over, an upgrade, must
      -- not have the bytes it consumed pushed to the new owner's listeners)
      local ev = rawget(self, '_events')
      local listened = ev and ev.data
      if sink(self, a) == false and not rawget(self, 'destroyed') and self._h then self._h:read_stop() end
      if not listened then return end
    end
    if not self:push(a) then self._h:read_stop() end
  elseif event == 'drain' then
    local done = self._wdone
    if done then self._wdone = nil; done() end
  elseif event == 'end' then
    self:push(nil)
    if not self.allowHalfOpen then self:finish() end
  elseif event == 'shutdown' then
    local done = self._fdone
    if done then self._fdone = nil; done() end
  elseif event == 'connect' then
    local conn = rawget(self, '_conn')
    if conn then self._conn = nil end
    note_churn()
    if self._nodelay ~= false and self._kind == 'tcp' then self._h:nodelay(true) end
    local queued = conn and conn.queue
    self:emit('connect')
    self:emit('ready')
    if queued then
      for _, q in ipairs(queued) do q() end
      -- the writes made while connecting needed a writable state; once
      -- they are out a sink's socket needs none (see Socket:write)
      if rawget(self, '_sink') then stream.compact(self) end
    end
    start_reading(self)
  elseif event == 'error' then
    local conn = rawget(self, '_conn')
    if conn then
      a = with_address(a, 'connect', conn.address, conn.port)
    end
    self:destroy(a)
  elseif event == 'close' then
    self._h = nil
    note_churn()
  end
end
native.set_dispatch(on_native)

local function handler_for(self)
  local function handler(event, a) return on_native(self, event, a) end
  return self:_wrap_native(handler)
end

-- Route the events of native socket `h` to `self`.
local function own(self, h)
  if self._wrap_native then h:set_handler(handler_for(self)) else h:set_owner(self) end
end

local function ignore() end

-- Take over a connected native socket (accepted, adopted, or connected).
local function attach(self, h, kind)
  self._h = h
  if kind ~= 'tcp' then self._kind = kind end
  own(self, h)
end

--- A new, unconnected socket (`net.Socket(opts)`); see connect.  With
--- `opts.fd` (Node's option), a socket over that connected TCP descriptor,
--- which it owns from then on (the HTTP server's upgrade hand-off).
function Socket.new(opts)
  local self = socket_init(setmetatable({}, Socket), opts)
  if opts and opts.fd then
    local h, err = native.adopt(opts.fd, ignore)
    if not h then error(err, 2) end
    own(self, h)
    self._h = h
    h:nodelay(true)
    start_reading(self)
  end
  return self
end

--- Move `from`'s connected native socket to `to` (tls.connect{socket=}:
--- STARTTLS); `from` no longer owns it and is left closed.
function M._take_over(to, from)
  local h, kind = from._h, from._kind
  if not h or from.connecting then return false end
  keep_byte_counts(from)
  from._h = nil
  attach(to, h, kind)
  if rawget(to, '_conn') then to._conn = nil end
  rawset(to, '_addresses_read', nil)
  from:destroy()
  return true
end

function Socket:_read()
  local h = self._h
  if h and not self.connecting then h:read_start()
  else stream.rstate(self).need_read = true end   -- asked before connect: start on connect
end

local duplex_write = stream.Duplex.write

-- A write on a connected socket with no writable state (nothing queued,
-- corked or ending: a pooled or WebSocket connection between writes) goes
-- to the kernel at once and, when the kernel takes it all, makes no state:
-- an idle connection stays without one.  The rest of a partial write (or
-- any write otherwise) takes the stream's way.  Not for subclasses that
-- encode what they write (TLS).
function Socket:write(chunk, cb)
  if type(chunk) == 'string' and rawget(self, '_ws') == nil and not rawget(self, 'destroyed')
     and self._write == Socket._write and not self.connecting then
    local h = self._h
    if h then
      local ok, n = pcall(h.try_write, h, chunk)
      if ok and n > 0 then
        refresh_timer(self)
        if n == #chunk then
          if cb then cb() end
          return true
        end
        chunk = chunk:sub(n + 1)
      end
    end
  end
  return duplex_write(self, chunk, cb)
end

function Socket:_write(chunk, done)
  if self.connecting or not self._h then
    if not self.connecting then return done(errors.new('ERR_SOCKET_CLOSED', 'Socket is closed')) end
    queue_until_connected(self, function() self:_write(chunk, done) end)
    return
  end
  if self._wrap_native then self.bytesWritten = self.bytesWritten + #chunk end
  refresh_timer(self)
  local ok, queued = pcall(self._h.write, self._h, chunk)
  if not ok then return done(queued) end
  if queued == 0 then done() else self._wdone = done end
end

function Socket:_final(done)
  if self.connecting then
    queue_until_connected(self, function() self:_final(done) end)
    return
  end
  local h = self._h
  if not h then return done() end
  self._fdone = done
  local ok, err = pcall(h.shutdown, h)
  if not ok then self._fdone = nil; done(err) end
end

function Socket:_destroy()
  if self._timer then clearTimeout(self._timer); self._timer = nil end
  if self._spare_timer then clearTimeout(self._spare_timer); self._spare_timer = nil end
  local h = self._h
  if h then
    keep_byte_counts(self)
    h:close()
  end
end

local function connect_args(...)
  local a, b, c = ...
  local opts
  if type(a) == 'table' then opts, c = a, b
  elseif type(a) == 'string' and not tonumber(a) then opts, c = { path = a }, b
  else
    opts = { port = a }
    if type(b) == 'function' then c = b else opts.host = b end
  end
  if type(c) ~= 'function' then c = nil end
  return opts, c
end

local check_port = seam.check_port

--- Connect: `sock:connect(port[, host][, cb])`, `sock:connect(path[, cb])` or
--- `sock:connect{port=, host=, path=, family=, timeout=, noDelay=}`.
function Socket:connect(...)
  local opts, cb = connect_args(...)
  if cb then self:once('connect', cb) end
  local conn = {}
  self._conn = conn
  if opts.noDelay == false then self._nodelay = false end
  if opts.timeout then self:setTimeout(opts.timeout) end
  local handler = self._wrap_native and handler_for(self)   -- else the socket is its owner
  if opts.path then
    conn.address = opts.path
    self._kind = 'pipe'
    local h = native.pipe_connect(opts.path, handler or ignore)
    if not handler then h:set_owner(self) end
    self._h = h
    return self
  end
  local port = check_port(opts.port)
  local host = opts.host or 'localhost'
  conn.port = port
  -- Every address of the name, in the resolver's order, until one
  -- connects (Node 20's autoSelectFamily, one attempt at a time): a
  -- 'localhost' that resolves to ::1 first still reaches a server that
  -- listens on 127.0.0.1 only.
  dns.lookup(host, { family = opts.family, all = true }, function(err, list)
    if self.destroyed then return end
    if err then
      self._conn = nil
      return self:destroy(err)
    end
    local function attempt(i)
      local address = list[i].address
      conn.address = address
      local h
      local base = handler and (i == 1 and handler or handler_for(self))
      local function on_event(event, a)
        if h ~= nil and self._h ~= h then return end   -- an abandoned attempt
        if event == 'error' and self.connecting and list[i + 1] then
          self._h = nil
          h:close()
          return attempt(i + 1)
        end
        -- connected: the socket's own handler from now on, so this closure,
        -- the address list and the attempts are not kept for its lifetime
        if event == 'connect' then
          if base then h:set_handler(base) else h:set_owner(self) end
        end
        if base then return base(event, a) end
        return on_native(self, event, a)
      end
      local ok, hh = pcall(native.tcp_connect, address, port, on_event)
      if not ok then
        if list[i + 1] then return attempt(i + 1) end
        self._conn = nil
        return self:destroy(with_address(hh, 'connect', address, port))
      end
      h = hh
      self._h = h
    end
    attempt(1)
  end)
  return self
end

--- A promise that resolves with the socket once it is connected (rejects
--- with its error): `await(sock:connected())`.
function Socket:connected()
  if not self.connecting and self._h then return self end
  if self.destroyed then return Promise.reject(self._error or errors.new('ERR_SOCKET_CLOSED', 'Socket is closed')) end
  return Promise.new(function(resolve, reject)
    local on_connect
    -- the rejection is how this caller hears of the error, so it counts as
    -- an 'error' listener (an unheard 'error' would end the process)
    local function on_error(e)
      self:removeListener('connect', on_connect)
      reject(e)
    end
    on_connect = function()
      self:removeListener('error', on_error)
      resolve(self)
    end
    self:once('error', on_error)
    self:once('connect', on_connect)
  end)
end

function Socket:setNoDelay(on)
  if on == nil then on = true end
  -- kept only when off (on is the default)
  if not on then self._nodelay = false elseif rawget(self, '_nodelay') ~= nil then self._nodelay = nil end
  if self._h and self._kind == 'tcp' then self._h:nodelay(on) end
  return self
end

function Socket:setKeepAlive(on, delay)
  if self._h then self._h:keepalive(on and true or false, delay or 0) end
  return self
end

-- (apart from setTimeout: a function making a closure is not compiled by
-- LuaJIT, and a pooled socket's setTimeout(0) runs on every request)
local function arm_timeout(self, ms)
  local timer
  timer = setTimeout(function()
    if self._timer ~= timer then return end   -- switched off since
    self._timer = nil
    if self._spare_timer then clearTimeout(self._spare_timer) end
    self._spare_timer = timer                  -- fired, not cleared: refresh() restarts it
    self:emit('timeout')
    -- like Node, the socket stays open; the user decides
  end, ms)
  timer._ms = ms
  timer:unref()
  self._timer = timer
end

--- Idle timeout: 'timeout' after `ms` without reads or writes (0 = off).
--- A pooled keep-alive socket switches its timeout off and on for every
--- request, so the Timeout is kept: switched off, it stays scheduled and
--- does nothing when it fires (`_timer` no longer names it), and the next
--- setTimeout with the same ms restarts it.
function Socket:setTimeout(ms, cb)
  local t = self._timer
  -- off on a socket that never had a timeout (a pooled or upgraded one,
  -- made idle by its owner): nothing to switch off, no field to keep
  if (ms == 0 or ms == nil) and not t and not self._spare_timer and rawget(self, 'timeout') == nil then
    if cb then self:once('timeout', cb) end
    return self
  end
  if t then
    self._timer = nil
    if self._spare_timer then clearTimeout(self._spare_timer) end
    self._spare_timer = t
  end
  if cb then self:once('timeout', cb) end
  self.timeout = ms
  if ms and ms > 0 then
    t = self._spare_timer
    if t and t._ms == ms and not t.cleared then
      self._spare_timer = nil
      self._timer = t
      t:refresh()
      return self
    end
    if t then clearTimeout(t); self._spare_timer = nil end
    arm_timeout(self, ms)
  end
  return self
end

function Socket:address()
  local h = self._h
  if not h then return {} end
  local a = h:address(false)
  return a or {}
end

-- With a sink (the HTTP client) the bytes bypass the readable buffer, so
-- pause/resume act on the kernel reads directly.
function Socket:pause()
  stream.Readable.pause(self)
  if self._sink and self._h and not self.destroyed then self._h:read_stop() end
  return self
end

function Socket:resume()
  stream.Readable.resume(self)
  if self._sink and self._h and not self.destroyed and not self.connecting then self._h:read_start() end
  return self
end

function Socket:ref() if self._h then self._h:ref(true) end return self end
function Socket:unref() if self._h then self._h:ref(false) end return self end
function Socket:destroySoon() self:finish() end
function Socket:resetAndDestroy() return self:destroy() end

-- ================================================================ Server

---@class net.Server : EventEmitter
local Server = require('events').extend({})
M.Server = Server

--- net.createServer([opts,] [connectionListener])
function M.createServer(opts, listener)
  if type(opts) == 'function' then opts, listener = nil, opts end
  local self = setmetatable({ _opts = opts or {}, _conns = 0 }, Server)
  self.listening = false
  if listener then self:on('connection', listener) end
  return self
end
setmetatable(Server, { __index = require('events'), __call = function(_, ...) return M.createServer(...) end })
Server.new = M.createServer

-- A connection arrived (ours, or handed over by the cluster primary).
local function serve(self, h, kind)
  if self._closing then h:close() return end
  local max = self.maxConnections
  if max and self._conns >= max then h:close() return end
  local sock = socket_init(setmetatable({}, self._Socket or Socket), self._opts)
  sock.server = self   -- before attach: a TLS socket takes its context from it
  attach(sock, h, kind)
  if kind == 'tcp' and self._opts.noDelay ~= false then h:nodelay(true) end
  self._conns = self._conns + 1
  note_churn()
  sock:once('close', function()
    self._conns = self._conns - 1
    if self._closing and self._conns == 0 and not self._h then self:_closed() end
  end)
  if self._opts.pauseOnConnect then sock:pause() else start_reading(sock) end
  self:emit('connection', sock)
end

local function server_handler(self, kind)
  return function(event, a)
    if event == 'connection' then serve(self, a, kind)
    elseif event == 'error' then self:emit('error', a)
    elseif event == 'close' then
      self._h = nil
      if self._closing and self._conns == 0 then self:_closed() end
    end
  end
end

local listen_args = seam.listen_args

--- listen(port[, host][, backlog][, cb]) | listen(path[, cb]) |
--- listen{port=, host=, path=, backlog=, reusePort=, exclusive=}
function Server:listen(...)
  local opts, cb = listen_args(...)
  if cb then self:once('listening', cb) end
  if self._h or self._rr then throw('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.') end
  self._closing = nil
  self._close_emitted = nil
  if opts.path then
    local h, err = native.pipe_listen(opts.path, opts.backlog, server_handler(self, 'pipe'))
    process.nextTick(function()
      if not h then return self:_listen_failed(with_address(err, 'listen', opts.path)) end
      self._h = h
      self:_listening(opts.path)
    end)
    return self
  end
  seam.listen(self, opts)
  return self
end

-- ---- the cluster seam (lua/luster/net.lua) ----

function Server:_bind_local(opts)
  local h, err = native.tcp_listen(opts.host, opts.port, opts.backlog, opts.reusePort, server_handler(self, 'tcp'))
  if not h then
    local host = opts.host or '::'
    err.message = ('listen %s: address %s %s:%s'):format(err.code, err.code == 'EADDRINUSE' and 'already in use' or 'unavailable', host, opts.port)
    err.address, err.port = host, opts.port
    return nil, err
  end
  self._h = h
  return true
end

function Server:_adopt_listen_fd(fd)
  local h, err = native.adopt(fd, server_handler(self, 'tcp'), true)
  if not h then return nil, err end
  self._h = h
  return true
end

function Server:_adopt_connection_fd(fd)
  self._rr = true
  local h = native.adopt(fd, function() end)
  if h then serve(self, h, 'tcp') end
  return h ~= nil
end

function Server:_listening(address)
  self.listening = true
  self._address = address
  self:emit('listening')
end

function Server:_listen_failed(err)
  self.listening = false
  self._h = nil
  self:emit('error', err)
end

--- {port=, address=, family=}, or the path of a Unix socket; nil when not listening.
function Server:address()
  if not self.listening then return nil end
  if self._h then return self._h:address(false) or self._address end
  return self._address
end

--- Stop accepting; 'close' once every connection has ended.
function Server:close(cb)
  if not self.listening and not self._h then
    if cb then process.nextTick(cb, errors.new('ERR_SERVER_NOT_RUNNING', 'Server is not running.')) end
    return self
  end
  if cb then self:once('close', cb) end
  self._closing = true
  self.listening = false
  if seam.cluster_close then seam.cluster_close(self) end
  self._rr = nil
  if self._h then self._h:close()
  elseif self._conns == 0 then process.nextTick(function() self:_closed() end) end
  return self
end

function Server:_closed()
  if self._close_emitted then return end
  self._close_emitted = true
  self:emit('close')
end

function Server:getConnections(cb)
  if cb then process.nextTick(cb, nil, self._conns) end
  return self._conns
end
function Server:ref() if self._h then self._h:ref(true) end return self end
function Server:unref() if self._h then self._h:ref(false) end return self end

-- ================================================================ module

--- net.connect(port[, host][, cb]) | net.connect{...}: a connecting Socket.
function M.connect(...)
  local opts = connect_args(...)
  local sock = Socket.new(type(opts) == 'table' and opts or nil)
  return sock:connect(...)
end
M.createConnection = M.connect

return M
