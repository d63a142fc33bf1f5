--- The primary's `cluster` module: forking workers, their lifecycle and
--- events, and answering their requests to listen (lua/luster/cluster_shares).
---
--- Events follow Node's order: 'fork' (next tick), 'online' (the worker's
--- runtime is up), 'listening'(worker, address), 'message'(worker, msg),
--- 'disconnect', 'exit'(worker, code, signal); each also on the Worker.
--- A worker leaves `cluster.workers` once it has both exited and
--- disconnected.  The channel is read to its end before 'exit' is reported
--- (runtime/cluster.c), so a worker's last messages arrive before its exit.
local native = require('native.cluster')
local process = require('process')
local sched = require('luster.scheduler')
local errors = require('luster.errors')
local EventEmitter = require('events')
local shares = require('luster.cluster_shares')

local USER, INTERNAL = native.USER, native.INTERNAL
local SCHED_NONE, SCHED_RR = 1, 2

--- Connections are handed out by the primary unless told otherwise:
--- see docs/cluster.md for the measurements behind this default.
local DEFAULT_POLICY = SCHED_RR

---@class ClusterPrimary: EventEmitter
local Cluster = EventEmitter.extend({})
local cluster = setmetatable({}, Cluster)
local intercom = EventEmitter.new()

cluster.isPrimary, cluster.isMaster, cluster.isWorker = true, true, false
cluster.SCHED_NONE, cluster.SCHED_RR = SCHED_NONE, SCHED_RR
cluster.workers = {}
cluster.settings = {}

local policy_env = process.env.LUSTER_CLUSTER_SCHED_POLICY
cluster.schedulingPolicy = policy_env == 'none' and SCHED_NONE or policy_env == 'rr' and SCHED_RR
  or DEFAULT_POLICY

local ids = 0
local policy -- frozen by the first setupPrimary, as in Node

---@class ClusterWorker: EventEmitter
---@field id integer
---@field process table {pid=, kill=, connected=, exitCode=, signalCode=}
---@field state string 'none'|'online'|'listening'|'disconnected'|'dead'
---@field exitedAfterDisconnect boolean|nil
local Worker = EventEmitter.extend({})
cluster.Worker = Worker

--- A Worker object not bound to a process (Node's `new cluster.Worker()`);
--- fork() is how workers are started.
---@param options? {id?: integer, state?: string, process?: table}
---@return ClusterWorker
function Worker.new(options)
  options = options or {}
  return setmetatable({ id = options.id or 0, state = options.state or 'none', process = options.process }, Worker)
end

--- Workers out of cluster.workers (worker:disconnect() takes them out at
--- once, as Node) that have not exited yet: cluster.disconnect(cb) waits
--- for them too.
local leaving = {}

local function all_gone()
  if next(cluster.workers) == nil and next(leaving) == nil then intercom:emit('disconnect') end
end

local function remove_worker(worker, still_running)
  if cluster.workers[worker.id] ~= worker then return end
  cluster.workers[worker.id] = nil
  if still_running then leaving[worker] = true else all_gone() end
end

local function worker_ended(worker)
  if leaving[worker] then
    leaving[worker] = nil
    all_gone()
  end
end

local function send_internal(worker, msg, fd)
  if not worker.process.connected then
    if fd then native.close_fd(fd) end
    return false
  end
  local ok = worker._channel:send(INTERNAL, msg, fd)
  if not ok and fd then native.close_fd(fd) end
  return ok
end

-- ---- what workers ask of the primary ----
local acts = {}

function acts.online(worker)
  worker.state = 'online'
  worker:emit('online')
  cluster:emit('online', worker)
end

function acts.queryServer(worker, msg)
  if worker.exitedAfterDisconnect then return end -- it is on its way out
  local reply, fd = shares.query(worker, msg, policy or cluster.schedulingPolicy)
  reply.ack = msg.seq
  send_internal(worker, reply, fd)
end

function acts.listening(worker, msg)
  local info = { address = msg.address, port = msg.port, addressType = msg.family == 'IPv6' and 6 or 4,
                 family = msg.family }
  worker.state = 'listening'
  worker:emit('listening', info)
  cluster:emit('listening', worker, info)
end

function acts.close(worker, msg)
  shares.close(worker, msg.key)
end

function acts.reject(worker, msg, fd)
  if fd then shares.reject(msg.key, fd) end
end

function acts.exitedAfterDisconnect(worker)
  worker.exitedAfterDisconnect = true
end

-- ---- the Worker, seen from the primary ----

local function on_disconnect(worker)
  if not worker.process.connected then return end
  worker.process.connected = false
  shares.remove_worker(worker)
  if worker:isDead() then
    remove_worker(worker)
    worker_ended(worker)
  end
  worker.exitedAfterDisconnect = not not worker.exitedAfterDisconnect
  worker.state = 'disconnected'
  worker:emit('disconnect')
  cluster:emit('disconnect', worker)
end

local function on_exit(worker, code, signal)
  local p = worker.process
  p.exitCode, p.signalCode = code, signal
  if not p.connected then
    shares.remove_worker(worker)
    remove_worker(worker)
  end
  worker.exitedAfterDisconnect = not not worker.exitedAfterDisconnect
  worker.state = 'dead'
  worker_ended(worker)
  worker:emit('exit', code, signal)
  cluster:emit('exit', worker, code, signal)
end

local function on_frame(worker, kind, value, fd, err)
  if kind == 'eof' then return on_disconnect(worker) end
  if err then
    if fd then native.close_fd(fd) end
    return
  end
  if kind == USER then
    worker:emit('message', value)
    cluster:emit('message', worker, value)
  elseif kind == INTERNAL and type(value) == 'table' and acts[value.act] then
    acts[value.act](worker, value, fd)
  elseif fd then
    native.close_fd(fd)
  end
end

--- Send a message to the worker (structured clone; functions raise
--- DataCloneError).  Returns false when a backlog builds up.
---@param message any
---@param cb? fun(err: table|nil)
---@return boolean
function Worker:send(message, a, b, c)
  local cb = type(c) == 'function' and c or type(b) == 'function' and b
    or type(a) == 'function' and a or nil
  local ok, writable
  if self.process.connected then ok, writable = self._channel:send(USER, message) end
  if not ok then
    local e = errors.new('ERR_IPC_CHANNEL_CLOSED', 'Channel closed')
    if cb then sched.next_tick(cb, e) else sched.next_tick(function() self:emit('error', e) end) end
    return false
  end
  if cb then sched.next_tick(cb, nil) end
  return writable
end

--- Ask the worker to close its servers, let their connections finish and
--- disconnect; it gets no new connections from now on.
function Worker:disconnect()
  self.exitedAfterDisconnect = true
  shares.remove_worker(self) -- before the request: no connection follows it
  send_internal(self, { act = 'disconnect' })
  remove_worker(self, not self:isDead())
  return self
end

--- Send the worker's process a signal ('SIGTERM' by default).
---@param signal? string
function Worker:kill(signal)
  return self.process:kill(signal or 'SIGTERM')
end
Worker.destroy = Worker.kill

function Worker:isDead() return self.process.exitCode ~= nil or self.process.signalCode ~= nil end
function Worker:isConnected() return self.process.connected end

-- ---- the module ----

local function default_settings()
  local argv = process.argv or {}
  local args = {}
  for i = 3, #argv do args[#args + 1] = argv[i] end
  return { exec = argv[2], args = args, silent = false, serialization = 'json' }
end

--- Change how workers are started; settings accumulate.  Emits 'setup'.
---@param options? {exec?: string, args?: string[], silent?: boolean, serialization?: string, cwd?: string}
function Cluster:setupPrimary(options)
  local settings = default_settings()
  for k, v in pairs(cluster.settings) do settings[k] = v end
  for k, v in pairs(options or {}) do settings[k] = v end
  cluster.settings = settings
  if not policy then
    policy = cluster.schedulingPolicy
    if policy ~= SCHED_NONE and policy ~= SCHED_RR then
      errors.throw('ERR_INVALID_ARG_VALUE', 'Bad cluster.schedulingPolicy: %s', tostring(policy))
    end
  end
  sched.next_tick(function() cluster:emit('setup', settings) end)
end
Cluster.setupMaster = Cluster.setupPrimary

local function worker_env(id, env)
  local list, seen = {}, {}
  local function put(k, v)
    if seen[k] or v == nil then return end
    seen[k] = true
    list[#list + 1] = k .. '=' .. tostring(v)
  end
  put('LUSTER_UNIQUE_ID', id)
  put('LUSTER_PRIMARY_PID', process.pid)
  for k, v in pairs(env or {}) do put(k, v) end
  for k, v in pairs(process.env()) do put(k, v) end
  return list
end

--- Start a worker: a copy of luster running settings.exec.
---@param env? table<string, any> extra environment variables
---@return ClusterWorker
function Cluster:fork(env)
  cluster.setupPrimary()
  ids = ids + 1
  local id = ids
  local s = cluster.settings
  local args = { process.execPath, s.exec }
  for _, a in ipairs(s.args or {}) do args[#args + 1] = tostring(a) end

  local worker = setmetatable({ id = id, state = 'none' }, Worker)
  local p = { connected = true, exitCode = nil, signalCode = nil }
  worker.process = p
  if s.silent then
    p.stdout, p.stderr = EventEmitter.new(), EventEmitter.new()
  end
  local proc, channel = native.spawn({
    file = process.execPath, args = args, env = worker_env(id, env), cwd = s.cwd,
    silent = s.silent, detached = s.detached,
    on_frame = function(kind, value, fd, err) on_frame(worker, kind, value, fd, err) end,
    on_exit = function(code, signal) on_exit(worker, code, signal) end,
    on_output = s.silent and function(stream, data)
      if data then p[stream]:emit('data', data) else p[stream]:emit('end') end
    end or nil,
  })
  worker._proc, worker._channel = proc, channel
  p.pid = proc:pid()
  --- worker.process:kill(signal) / worker.process.kill(signal)
  function p.kill(a, b)
    local sig = a
    if a == p then sig = b end
    return proc:kill(sig or 'SIGTERM')
  end
  function p.send(a, ...)
    if a == p then return worker:send(...) end
    return worker:send(a, ...)
  end
  function p.disconnect()
    if p.connected then
      channel:close(true) -- what was sent still reaches the worker
      on_disconnect(worker)
    end
  end

  sched.next_tick(function() cluster:emit('fork', worker) end)
  cluster.workers[id] = worker
  return worker
end

--- Disconnect every worker; `cb` runs once they are all gone.
---@param cb? function
function Cluster:disconnect(cb)
  if next(cluster.workers) == nil then
    sched.next_tick(function() intercom:emit('disconnect') end)
  else
    local list = {}
    for _, w in pairs(cluster.workers) do list[#list + 1] = w end
    for _, w in ipairs(list) do
      if w:isConnected() then w:disconnect() end
    end
  end
  if type(cb) == 'function' then intercom:once('disconnect', cb) end
end

EventEmitter.singleton(cluster)
return cluster
