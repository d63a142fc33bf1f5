--- luster.http_agent — Node's http.Agent: a pool of keep-alive client
--- connections per origin (API.md "HTTP client and fetch").
---
--- A request asks `agent:addRequest(req, opts)`; it gets a free socket of
--- its origin (the most recently used first), a new connection while the
--- origin has fewer than `maxSockets`, or waits in the origin's queue.
--- When its response is over, `agent:release(req, socket)` keeps the
--- socket (up to `maxFreeSockets` per origin, closed after `timeout` ms
--- idle) or closes it.  A free socket that the server closes is dropped at
--- once ('end'/'close' while free), so it is never handed to a request; the
--- race where the server closes just as a request is written is covered by
--- the client's retry of idempotent requests (http_client.lua).
--- Free sockets are unref'd: an idle pool does not keep the process alive.
local EventEmitter = require('events')
local net = require('net')

local Agent = EventEmitter.extend({})

local INF = math.huge
local arm_sweep

-- milliseconds, monotonic: the loop's clock, which the sweep timer runs on
local now = require('timers')._loop_now

--- http.Agent{keepAlive=, keepAliveMsecs=, maxSockets=, maxTotalSockets=,
--- maxFreeSockets=, timeout=, scheduling='lifo'|'fifo'}
function Agent.new(opts)
  opts = opts or {}
  local self = setmetatable({}, Agent)
  self.keepAlive = opts.keepAlive == true
  self.keepAliveMsecs = opts.keepAliveMsecs or 1000
  self.maxSockets = opts.maxSockets or INF
  self.maxTotalSockets = opts.maxTotalSockets or INF
  self.maxFreeSockets = opts.maxFreeSockets or 256
  self.timeout = opts.timeout
  self.scheduling = opts.scheduling or 'lifo'
  self.options = opts
  self.defaultPort = opts.defaultPort or 80
  self.protocol = opts.protocol or 'http:'
  self.sockets, self.freeSockets, self.requests = {}, {}, {}
  self.totalSocketCount = 0
  self._targets = {}   -- host -> port -> connection options (http_client.lua)
  return self
end
setmetatable(Agent, { __index = EventEmitter, __call = function(_, opts) return Agent.new(opts) end })

--- The pool key of a request's origin.
function Agent:getName(o)
  return ('%s:%s:%s:%s'):format(o.host or 'localhost', o.port or '', o.localAddress or '', o.socketPath or '')
end

-- The key of `o`, cached on it (the client reuses one options table per
-- plain origin).
local function name_of(self, o)
  local name = rawget(o, '_agent_key')
  if name and rawget(o, '_agent_key_of') == self then return name end
  name = self:getName(o)
  o._agent_key, o._agent_key_of = name, self
  return name
end

local function list(t, name)
  local l = t[name]
  if not l then l = {}; t[name] = l end
  return l
end

-- The busy list of an origin: a socket knows its place in it, so taking
-- it out costs the same however many are busy.
local function add_busy(self, name, sock)
  local l = self.sockets[name]
  if not l then l = {}; self.sockets[name] = l end
  local i = #l + 1
  l[i] = sock
  sock._agent_i = i
end

local function remove_busy(self, name, sock)
  local l = self.sockets[name]
  if not l then return false end
  local i = sock._agent_i
  if not i or l[i] ~= sock then
    i = nil
    for j = #l, 1, -1 do if l[j] == sock then i = j break end end
    if not i then return false end
  end
  local n = #l
  local last = l[n]
  l[i] = last
  last._agent_i = i
  l[n] = nil
  sock._agent_i = nil
  if n == 1 then self.sockets[name] = nil end
  return true
end

local function remove(l, x)
  if not l then return false end
  for i = #l, 1, -1 do
    if l[i] == x then table.remove(l, i) return true end
  end
  return false
end

--- Make a connection for an origin (https overrides this with TLS).
function Agent:createConnection(o)
  if o.socketPath then return net.connect { path = o.socketPath } end
  return net.connect { host = o.host, port = o.port, family = o.family, localAddress = o.localAddress }
end

local function drop(self, name, sock)
  if remove(self.freeSockets[name], sock) or remove_busy(self, name, sock) then
    self.totalSocketCount = self.totalSocketCount - 1
  end
  if self.freeSockets[name] and #self.freeSockets[name] == 0 then self.freeSockets[name] = nil end
end

-- What the agent hears of its sockets, shared by all of them (net.lua's
-- hooks: no closure per socket).  A socket counts in the pool of
-- `_agent_name` until it closes; `_agent_since` says since when it is
-- free (nil while busy).
local HOOKS = {}
function HOOKS.close(sock)
  local self, name = sock._agent, sock._agent_name
  if not (self and name) then return end   -- already out of the pool
  drop(self, name, sock)
  self:_next(name)  -- a slot opened: serve whoever waits
end
-- a pooled socket the server closes leaves the pool at once
local function gone_if_free(sock) if sock._agent_since then sock:destroy() end end
HOOKS['end'] = gone_if_free
HOOKS.timeout = gone_if_free
function HOOKS.error() end  -- the request in flight reports its own errors

--- The socket leaves the pool for good (an upgrade took it over): the
--- agent hears no more of it, and its slot serves whoever waits.
function Agent:_forget(sock)
  local name = sock._agent_name
  if remove_busy(self, name, sock) or remove(self.freeSockets[name], sock) then
    self.totalSocketCount = self.totalSocketCount - 1
  end
  sock._agent_name, sock._agent = nil, nil
  net._remove_hooks(sock, HOOKS)
  if name then process.nextTick(self._next, self, name) end
end

local function new_socket(self, name, o)
  local sock = self:createConnection(o)
  sock._agent_name = name
  sock._agent = self
  sock._agent_fresh = true
  self.totalSocketCount = self.totalSocketCount + 1
  add_busy(self, name, sock)
  net._add_hooks(sock, HOOKS)
  if self.keepAlive then sock:setKeepAlive(true, self.keepAliveMsecs) end
  return sock
end

local function busy_count(self, name)
  local l = self.sockets[name]
  return l and #l or 0
end

--- A new connection for the origin of `o`, counted in the pool (a retry).
function Agent:_fresh_socket(o)
  return new_socket(self, name_of(self, o), o)
end

--- Hand `req` a socket now or when one frees up.
function Agent:addRequest(req, o)
  local name = name_of(self, o)
  req._agent_name = name
  local free = self.freeSockets[name]
  if free and #free > 0 then
    local sock = self.scheduling == 'fifo' and table.remove(free, 1) or table.remove(free)
    if #free == 0 then self.freeSockets[name] = nil end
    sock._agent_since = nil
    sock._agent_fresh = nil
    sock:ref()
    sock:setTimeout(0)
    add_busy(self, name, sock)
    return req:_assignSocket(sock)
  end
  if busy_count(self, name) < self.maxSockets and self.totalSocketCount < self.maxTotalSockets then
    return req:_assignSocket(new_socket(self, name, o))
  end
  local q = list(self.requests, name)
  q[#q + 1] = { req = req, o = o }
end

--- Give the next waiting request of `name` a socket, if one can be had.
function Agent:_next(name)
  local q = self.requests[name]
  while q and #q > 0 do
    local item = table.remove(q, 1)
    if #q == 0 then self.requests[name] = nil end
    if not item.req.destroyed then
      self:addRequest(item.req, item.o)
      return
    end
  end
end

-- The idle timeout of free sockets (Node 19+'s 5 s unless `timeout`): one
-- timer per agent, due when the longest-idle free socket expires, rather
-- than a timer per socket.  A free list is in release order (sockets are
-- appended when freed and taken from either end), so its first socket is
-- its longest idle one.
local function idle_ms(self) return self.timeout or 5000 end

local function sweep(self)
  self._sweep_timer = nil
  local limit = now() - idle_ms(self)
  local expired = {}
  for name, l in pairs(self.freeSockets) do
    local n, k = #l, 0
    while k < n and l[k + 1]._agent_since <= limit do
      k = k + 1
      expired[#expired + 1] = l[k]
    end
    if k > 0 then
      -- they leave the pool at once (no request may take one meanwhile),
      -- the rest moving up in one pass
      for i = 1, n - k do l[i] = l[i + k] end
      for i = n - k + 1, n do l[i] = nil end
      self.totalSocketCount = self.totalSocketCount - k
      if n == k then self.freeSockets[name] = nil end
    end
  end
  for i = 1, #expired do
    local sock = expired[i]
    sock._agent, sock._agent_name = nil, nil
    sock._agent_since = nil
    sock:emit('timeout')
    sock:destroy()
  end
  arm_sweep(self)
end

arm_sweep = function(self)
  if self._sweep_timer then return end
  local first
  for _, l in pairs(self.freeSockets) do
    local s = l[1]
    if s and (not first or s._agent_since < first) then first = s._agent_since end
  end
  if not first then return end
  local t = setTimeout(sweep, math.max(1, first + idle_ms(self) - now()), self)
  t:unref()
  self._sweep_timer = t
end

--- The request on `sock` is over: keep the socket for another, or close it.
function Agent:release(sock, reusable)
  local name = sock._agent_name
  remove_busy(self, name, sock)
  local q = self.requests[name]
  if reusable and self.keepAlive and not sock.destroyed then
    if q and #q > 0 then
      -- someone waits: reuse the socket directly
      add_busy(self, name, sock)
      local item = table.remove(q, 1)
      if #q == 0 then self.requests[name] = nil end
      sock._agent_fresh = nil
      return item.req:_assignSocket(sock)
    end
    local free = list(self.freeSockets, name)
    if #free < self.maxFreeSockets then
      free[#free + 1] = sock
      sock._agent_since = now()
      sock:unref()
      sock:setTimeout(0)
      net._compact_idle(sock)
      arm_sweep(self)
      return
    end
  end
  self.totalSocketCount = self.totalSocketCount - 1
  sock._agent_name = nil
  sock:destroy()
  self:_next(name)
end

--- Close every socket of the pool.
function Agent:destroy()
  for _, t in ipairs { self.freeSockets, self.sockets } do
    for _, l in pairs(t) do
      for i = #l, 1, -1 do l[i]:destroy() end
    end
  end
end

return Agent
