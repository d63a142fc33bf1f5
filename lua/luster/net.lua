--- The seam between servers (lua/http.lua) and cluster (lua/cluster.lua).
---
--- A server's listen() asks `net.cluster_listen` first.  It is nil except in
--- a cluster worker, where cluster.lua sets it; then the primary decides
--- how the worker gets connections, and calls back one of the server's
--- adoption methods:
---
---   server:_adopt_listen_fd(fd)       SCHED_NONE: a listening socket shared
---                                     by all workers (passed with SCM_RIGHTS)
---   server:_adopt_connection_fd(fd)   SCHED_RR: one accepted connection
---   server:_bind_local(opts)          reusePort: bind our own SO_REUSEPORT
---                                     socket; returns true or nil, err
---   server:_listening(address)        the server now listens: set address,
---                                     emit 'listening', run listen's callback
---   server:_listen_failed(err)        bind error (EADDRINUSE...): emit 'error'
---
--- and `net.cluster_close(server)` is called by server:close() so the
--- primary stops handing it connections.
---
--- cluster_listen(server, opts): opts = {port=, host=, reusePort=, backlog=}.
--- File descriptors cross this seam as plain integers; whoever adopts one
--- owns it from then on, also when it returns false (it has closed it); an
--- adoption method that raises has not taken it.
local errors = require('luster.errors')
local sched = require('luster.scheduler')

local M = {}

--- Listen as every TCP server does: through the cluster seam in a cluster
--- worker (unless opts.exclusive), else bind here; 'listening' or the
--- error follows on the next tick.
function M.listen(server, opts)
  if M.cluster_listen and not opts.exclusive then return M.cluster_listen(server, opts) end
  local ok, err = server:_bind_local(opts)
  sched.next_tick(function()
    if ok then server:_listening() else server:_listen_failed(err) end
  end)
end

--- A port number (0..65535, whole) or ERR_SOCKET_BAD_PORT, as Node's.
function M.check_port(port)
  local p = tonumber(port)
  if not p or p < 0 or p > 65535 or p % 1 ~= 0 then
    errors.throw('ERR_SOCKET_BAD_PORT', 'Port should be >= 0 and < 65536. Received %s.', tostring(port))
  end
  return p
end

--- The arguments of every server's listen(): `(port[, host][, backlog][, cb])`,
--- `(path[, cb])` or `({port=, host=, path=, backlog=, ...}[, cb])` ->
--- opts, cb (opts.port checked; 0 when none and no path).
function M.listen_args(...)
  local opts, cb = {}, nil
  local first = ...
  local rest_from = 1
  if type(first) == 'table' then
    for k, v in pairs(first) do opts[k] = v end
    rest_from = 2
  elseif type(first) == 'string' and not tonumber(first) then
    opts.path = first
    rest_from = 2
  end
  for i = rest_from, select('#', ...) do
    local v = select(i, ...)
    if type(v) == 'function' then cb = v
    elseif i == 1 then opts.port = v
    elseif type(v) == 'string' then opts.host = v
    elseif type(v) == 'number' then opts.backlog = v end
  end
  if not opts.path then opts.port = M.check_port(opts.port == nil and 0 or opts.port) end
  return opts, cb
end

---@type fun(server: table, opts: table)|nil
M.cluster_listen = nil
---@type fun(server: table)|nil
M.cluster_close = nil

return M
