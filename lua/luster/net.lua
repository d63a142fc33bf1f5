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
local M = {}

---@type fun(server: table, opts: table)|nil
M.cluster_listen = nil
---@type fun(server: table)|nil
M.cluster_close = nil

return M
