--- The worker's side of a cluster: started by bootstrap in any process the
--- primary spawned (LUSTER_UNIQUE_ID set), before the script runs, so an
--- unmodified script's `server:listen(port)` shares the port (luster -i).
---
--- It owns the IPC channel to the primary (fd 3), adds `process.send`,
--- `process.connected`, `process.disconnect` and `process 'message'`, sets
--- `net.cluster_listen` / `net.cluster_close` (the seam with the servers,
--- lua/luster/net.lua), and builds the worker's `cluster` module.
---
--- The channel keeps the process alive only while something waits on it:
--- a 'message' or 'disconnect' listener, a listen request in flight, or a
--- round-robin server (which has no socket of its own to do so) — as Node.
local native = require('native.cluster')
local net = require('luster.net')
local process = require('process')
local sched = require('luster.scheduler')
local errors = require('luster.errors')
local EventEmitter = require('events')

local USER, INTERNAL = native.USER, native.INTERNAL

local M = { active = false }

local channel
local connected = false
local seq, pending, pending_n = 0, {}, 0
local handles, rr_n = {}, 0  -- key -> server, for round-robin servers
local servers = {}           -- server -> {key=, rr=} once it listens
local closing = setmetatable({}, { __mode = 'k' }) -- closed before the reply
local indexes = {}           -- 'host:port' -> next index (Node's listen(0) rule)

---@class ClusterWorkerSelf: EventEmitter
---@field id integer
---@field process table
---@field state string
---@field exitedAfterDisconnect boolean|nil
local Worker = EventEmitter.extend({})

local worker   -- cluster.worker
local cluster  -- the module

local function update_ref()
  if not connected then return end
  local want = pending_n > 0 or rr_n > 0
    or process:listenerCount('message') > 0 or process:listenerCount('disconnect') > 0
  channel:ref(want)
end

local function send_internal(msg, fd)
  if not connected then
    if fd then native.close_fd(fd) end
    return false
  end
  local ok = channel:send(INTERNAL, msg, fd)
  if not ok and fd then native.close_fd(fd) end
  return ok
end

local function query(msg, cb)
  seq = seq + 1
  msg.seq = seq
  pending[seq] = cb
  pending_n = pending_n + 1
  send_internal(msg)
  update_ref()
end

-- ---- disconnecting ----

local disconnect_emitted = false

local function on_channel_closed()
  if disconnect_emitted then return end
  disconnect_emitted = true
  connected = false
  process.connected = false
  for k, cb in pairs(pending) do
    pending[k] = nil
    -- a worker on its way out (destroy, disconnect) hears nothing more, as
    -- in Node; one whose primary vanished learns its listen failed
    if not worker.exitedAfterDisconnect then
      cb({ errno = 'ERR_IPC_CHANNEL_CLOSED', message = 'Channel closed' })
    end
  end
  pending_n = 0
  process:emit('disconnect')
  worker:emit('disconnect')
  if not worker.exitedAfterDisconnect then
    -- the primary went away: nobody will hand us work or ask us to stop
    process:exit(0)
  end
end

--- Close every server, wait for their connections, then close the channel.
local function disconnect(primary_initiated)
  worker.exitedAfterDisconnect = true
  local waiting = 1
  local function check()
    waiting = waiting - 1
    if waiting > 0 then return end
    if not primary_initiated then send_internal({ act = 'exitedAfterDisconnect' }) end
    process.disconnect()
  end
  local list = {}
  for server in pairs(servers) do list[#list + 1] = server end
  for _, server in ipairs(list) do
    waiting = waiting + 1
    local ok = pcall(server.close, server, function() check() end)
    if not ok then check() end
  end
  check()
end

-- ---- messages from the primary ----

local function on_internal(msg, fd, fd_lost)
  if msg.ack then
    local cb = pending[msg.ack]
    if cb then
      pending[msg.ack] = nil
      pending_n = pending_n - 1
      update_ref()
      if fd_lost then -- the shared socket did not fit under our descriptor limit
        send_internal({ act = 'close', key = msg.key })
        msg = { errno = 'EMFILE', message = 'listen EMFILE: too many open files' }
      end
      cb(msg, fd)
    elseif fd then
      native.close_fd(fd)
    end
  elseif msg.act == 'newconn' then
    if not fd then return end -- not received (EMFILE): the kernel closed it
    local server = handles[msg.key]
    if server then
      -- a server that raises did not take the connection: close it and
      -- live on (one that returns false has closed it itself)
      if not pcall(server._adopt_connection_fd, server, fd) then native.close_fd(fd) end
    else -- closed while the connection was on its way: give it back
      send_internal({ act = 'reject', key = msg.key }, fd)
    end
  elseif msg.act == 'disconnect' then
    if worker.state ~= 'disconnecting' then
      worker.state = 'disconnecting'
      disconnect(true)
    end
  elseif fd then
    native.close_fd(fd)
  end
end

local function on_frame(kind, value, fd, err)
  if kind == 'eof' then return on_channel_closed() end
  if err == 'EMFILE' and kind == INTERNAL then
    return on_internal(value, nil, true) -- its descriptor was lost at our fd limit
  elseif err then -- not a message the serializer can read
    if fd then native.close_fd(fd) end
    return
  end
  if kind == USER then
    process:emit('message', value)
    worker:emit('message', value)
  elseif kind == INTERNAL then
    on_internal(value, fd)
  elseif fd then
    native.close_fd(fd)
  end
end

-- ---- process.send and friends ----

local function drop_self(a, ...)
  if a == process then return ... end
  return a, ...
end

local function channel_closed_error()
  return errors.new('ERR_IPC_CHANNEL_CLOSED', 'Channel closed')
end

--- Send a message to the primary (structured clone).  Returns false when
--- the channel has a backlog; `cb(err)` runs once it is queued.
---@param message any
---@param cb? fun(err: table|nil)
---@return boolean
local function send(...)
  local message, a, b, c = drop_self(...)
  -- Node's send(message[, sendHandle[, options]][, callback])
  local cb = type(c) == 'function' and c or type(b) == 'function' and b
    or type(a) == 'function' and a or nil
  if not connected then
    local e = channel_closed_error()
    if cb then sched.next_tick(cb, e) else sched.next_tick(function() process:emit('error', e) end) end
    return false
  end
  local ok, writable = channel:send(USER, message)
  if not ok then
    local e = channel_closed_error()
    if cb then sched.next_tick(cb, e) else sched.next_tick(function() process:emit('error', e) end) end
    return false
  end
  if cb then sched.next_tick(cb, nil) end
  return writable
end

--- Close the channel to the primary (after what was sent has left).
local function process_disconnect()
  if not connected then
    sched.next_tick(function() process:emit('error', channel_closed_error()) end)
    return
  end
  channel:close(true)
  connected = false -- at once, as Node: a send from now on fails
  process.connected = false
  sched.next_tick(on_channel_closed)
end

-- ---- the seam with servers (lua/luster/net.lua) ----

local function listen_error(reply, opts)
  local e = errors.new(reply.errno, reply.message or reply.errno)
  e.errno = reply.errno
  e.syscall = 'listen'
  e.address = opts.host or '0.0.0.0'
  e.port = opts.port
  return e
end

local function tell_listening(address, opts)
  worker.state = 'listening'
  address = address or {}
  send_internal({ act = 'listening', address = address.address or opts.host,
    port = address.port or opts.port, family = address.family, reusePort = opts.reusePort or nil })
end

local function cluster_listen(server, opts)
  closing[server] = nil
  if opts.reusePort then
    -- every worker binds its own SO_REUSEPORT socket; the primary only hears
    sched.next_tick(function()
      local ok, err = server:_bind_local(opts)
      if not ok then return server:_listen_failed(err) end
      servers[server] = {}
      local address = server.address and server:address() or nil
      server:_listening(address)
      tell_listening(address, opts)
    end)
    return
  end
  local ikey = tostring(opts.host or '') .. ':' .. tostring(opts.port or 0)
  local index = indexes[ikey] or 0
  indexes[ikey] = index + 1
  query({ act = 'queryServer', host = opts.host, port = opts.port or 0,
          backlog = opts.backlog, index = index }, function(reply, fd)
    if reply.errno then
      if fd then native.close_fd(fd) end
      return server:_listen_failed(listen_error(reply, opts))
    end
    if closing[server] then -- closed before the primary answered
      closing[server] = nil
      if fd then native.close_fd(fd) end
      send_internal({ act = 'close', key = reply.key })
      return
    end
    if fd then -- SCHED_NONE: the shared listening socket itself
      servers[server] = { key = reply.key }
      local ok, err = server:_adopt_listen_fd(fd)
      if ok == nil and err then
        servers[server] = nil
        send_internal({ act = 'close', key = reply.key })
        return server:_listen_failed(err)
      end
    else       -- SCHED_RR: connections will arrive as 'newconn'
      servers[server] = { key = reply.key, rr = true }
      handles[reply.key] = server
      rr_n = rr_n + 1
      update_ref()
    end
    server:_listening(reply.sockname)
    tell_listening(reply.sockname, opts)
  end)
end

local function cluster_close(server)
  local rec = servers[server]
  if not rec then
    closing[server] = true
    return
  end
  servers[server] = nil
  if rec.rr then
    handles[rec.key] = nil
    rr_n = rr_n - 1
  end
  if rec.key then send_internal({ act = 'close', key = rec.key }) end
  update_ref()
end

-- ---- the worker's cluster module ----

--- Send a message to the primary.
function Worker:send(...) return send(drop_self(...)) end
function Worker:isConnected() return connected end
function Worker:isDead() return false end
--- Close this worker's servers, wait for them, then disconnect.
function Worker:disconnect()
  if self.state ~= 'disconnecting' and self.state ~= 'destroying' then
    self.state = 'disconnecting'
    disconnect(false)
  end
  return self
end
--- End this worker (after telling the primary it meant to).
function Worker:destroy()
  if self.state == 'destroying' then return end
  self.exitedAfterDisconnect = true
  if not connected then return process:exit(0) end
  self.state = 'destroying'
  send_internal({ act = 'exitedAfterDisconnect' })
  process:once('disconnect', function() process:exit(0) end)
  process_disconnect()
end
Worker.kill = Worker.destroy

--- Start the worker side if this process is a cluster worker.
---@return boolean
function M.setup()
  local id, fd = native.worker_init()
  if not id then return false end
  M.active = true
  channel = native.channel(fd, on_frame)
  connected = true

  process.connected = true
  process.send = send
  process.disconnect = process_disconnect
  local changed = process._listeners_changed
  rawset(process, '_listeners_changed', function(self, name)
    if changed then changed(self, name) end
    if name == 'message' or name == 'disconnect' then update_ref() end
  end)

  worker = setmetatable({ id = id, process = process, state = 'online' }, Worker)

  local Cluster = EventEmitter.extend({})
  cluster = setmetatable({
    isPrimary = false, isMaster = false, isWorker = true,
    worker = worker, Worker = Worker,
    SCHED_NONE = 1, SCHED_RR = 2, settings = {},
  }, Cluster)
  EventEmitter.singleton(cluster)
  M.cluster = cluster

  net.cluster_listen = cluster_listen
  net.cluster_close = cluster_close
  send_internal({ act = 'online' })
  update_ref()
  return true
end

return M
