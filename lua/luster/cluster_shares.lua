--- The primary's listening sockets, one per address workers listen on
--- (Node's `handles` map of RoundRobinHandle / SharedHandle).
---
--- A key is `host:port:index`, index being the worker's nth listen on that
--- host:port, so listen(0) in every worker shares one random port (Node's
--- rule).  The socket is bound once, by the first worker to ask; a bind
--- error goes back to that worker only.  It is closed when its last worker
--- leaves, unless `M.keep_open` (luster -i): then connections wait in the
--- kernel's backlog for the replacement instead of being refused.
local native = require('native.cluster')
local clone = require('native.clone')

local M = {}

--- Keep sockets open when their last worker leaves (set by luster -i).
M.keep_open = false

local SCHED_RR = 2
local shares = {} -- key -> {share=, rr=, members = {[worker] = true}, n=}

local function newconn_bytes(key)
  return clone.bytes(clone.encode({ act = 'newconn', key = key }, nil, 'process'))
end

--- A worker asks to listen.  Returns the reply for it, and for SCHED_NONE
--- the descriptor to send along (a duplicate; the primary keeps its own).
---@param worker table the primary's Worker
---@param msg table {host=, port=, backlog=, index=}
---@param policy integer cluster.SCHED_RR or cluster.SCHED_NONE
---@return table reply, integer|nil fd
function M.query(worker, msg, policy)
  local key = tostring(msg.host or '') .. ':' .. tostring(msg.port or 0) .. ':' .. tostring(msg.index or 0)
  local h = shares[key]
  if not h then
    local sh, err = M.take_inherited(msg.port)
    if not sh then sh, err = native.share_bind(msg.host, msg.port or 0, msg.backlog) end
    if not sh then -- Node's text: 'listen EADDRINUSE: address already in use :::3000'
      return { errno = err.code, message = ('%s %s:%s'):format(err.message, err.address, err.port) }
    end
    h = { share = sh, rr = policy == SCHED_RR, members = {}, n = 0, key = key }
    shares[key] = h
  end
  local reply = { key = key, sockname = h.share:address() }
  local fd
  if not h.rr then
    local err
    fd, err = native.dup(h.share:fd())
    local code = err and err.code
    if not fd then -- the primary is at its descriptor limit: the worker hears it
      if h.n == 0 and not M.keep_open then
        h.share:close()
        shares[key] = nil
      end
      return { errno = code, message = ('listen %s: cannot share the socket'):format(code) }
    end
  end
  if not h.members[worker] then
    h.members[worker] = true
    h.n = h.n + 1
  end
  if h.rr then
    h.share:add(worker._channel, newconn_bytes(key))
    h.share:accept(true)
    return reply
  end
  return reply, fd
end

local function leave(h, worker)
  if not h.members[worker] then return end
  h.members[worker] = nil
  h.n = h.n - 1
  if h.rr then h.share:remove(worker._channel) end
  if h.n == 0 and not M.keep_open then
    h.share:close()
    shares[h.key] = nil
  end
end

-- ---- sockets the primary inherited (socket activation, instances_systemd) ----
local inherited = {} -- port -> share, until a worker asks for that port

--- Adopt listening fd `fd`; a worker's listen on its port uses it instead
--- of binding.  Returns the port, or nil, code, message.
function M.inherit(fd)
  local sh, err = native.share_adopt(fd)
  if not sh then return nil, err end
  local port = sh:address().port
  inherited[port] = sh
  return port
end

function M.take_inherited(port)
  local sh = port and inherited[port]
  if sh then inherited[port] = nil end
  return sh
end

--- A worker's server on `key` closed.
function M.close(worker, key)
  local h = shares[key]
  if h then leave(h, worker) end
end

--- A worker is gone or disconnecting: it gets no more connections.
function M.remove_worker(worker)
  local list = {}
  for _, h in pairs(shares) do list[#list + 1] = h end
  for _, h in ipairs(list) do leave(h, worker) end
end

--- A connection a worker could not take goes to another worker.
function M.reject(key, fd)
  local h = shares[key]
  if h and h.rr and h.n > 0 then
    h.share:handoff(fd)
  else
    native.close_fd(fd)
  end
end

--- How many sockets are open (for specs and leak checks).
function M.count()
  local n = 0
  for _ in pairs(shares) do n = n + 1 end
  return n
end

return M
