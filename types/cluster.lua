---@meta cluster
-- LuaCATS definitions for luster's `cluster`: processes sharing server
-- ports.  A module singleton (`cluster.on(...)` and `cluster:on(...)`).
-- Events on the primary: 'fork', 'online', 'listening'(worker, address),
-- 'message'(worker, msg), 'disconnect'(worker), 'exit'(worker, code,
-- signal), 'setup'.

---@class cluster.Settings
---@field exec? string the script workers run (default: the primary's)
---@field args? string[]
---@field silent? boolean
---@field serialization? 'json'|'advanced'

---A worker process (in the primary), or this process (`cluster.worker` in
---a worker).  Events: 'online', 'listening', 'message', 'disconnect',
---'exit'(code, signal), 'error'.
---@class cluster.Worker: EventEmitter
---@field id integer
---@field process {pid: integer}
---@field exitedAfterDisconnect boolean|nil
---@field state 'none'|'online'|'listening'|'disconnected'|'dead'
local ClusterWorker = {}
---A Worker not bound to a process (Node's `new cluster.Worker()`); fork()
---is how workers are started.
---@param options? {id?: integer, state?: string, process?: table}
---@return cluster.Worker
function ClusterWorker.new(options) end
---@param message any
---@param handle? any
---@param options? table
---@param cb? fun(err?: table)
---@return boolean
function ClusterWorker:send(message, handle, options, cb) end
---Signal the process (default 'SIGTERM').
---@param signal? string
function ClusterWorker:kill(signal) end
---Alias of kill.
---@param signal? string
function ClusterWorker:destroy(signal) end
---Close the IPC channel; the worker exits once its servers close.
---@return cluster.Worker
function ClusterWorker:disconnect() end
---@return boolean
function ClusterWorker:isDead() end
---@return boolean
function ClusterWorker:isConnected() end

---@class cluster: EventEmitter
local cluster = {}
---@type boolean
cluster.isPrimary = true
---@type boolean
cluster.isMaster = true
---@type boolean
cluster.isWorker = false
---@type integer
cluster.SCHED_NONE = 1
---@type integer
cluster.SCHED_RR = 2
---cluster.SCHED_RR (the default) or cluster.SCHED_NONE.
---@type integer
cluster.schedulingPolicy = 2
---@type cluster.Settings
cluster.settings = {}
---In the primary: the live workers by id.
---@type table<integer, cluster.Worker>
cluster.workers = {}
---In a worker: this process's Worker.
---@type cluster.Worker|nil
cluster.worker = nil
---@type cluster.Worker
cluster.Worker = ClusterWorker

---Start a worker process (env: extra environment variables).
---@param env? table<string, string>
---@return cluster.Worker
function cluster.fork(env) end
---@param settings cluster.Settings
function cluster.setupPrimary(settings) end
---Alias of setupPrimary.
---@param settings cluster.Settings
function cluster.setupMaster(settings) end
---Disconnect every worker; `cb` when all have.
---@param cb? fun()
function cluster.disconnect(cb) end

return cluster
