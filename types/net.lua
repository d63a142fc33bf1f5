---@meta net
-- LuaCATS definitions for luster's `net`: TCP and Unix-socket servers and
-- clients, on the one stream model (types/stream.lua).

---@class net.SocketOptions
---@field allowHalfOpen? boolean keep the writable side open after the peer's end (default false)
---@field highWaterMark? integer bytes of both sides' buffers (65536)

---@class net.ConnectOptions: net.SocketOptions
---@field port? integer
---@field host? string default 'localhost' (looked up with dns.lookup)
---@field path? string a Unix socket instead of host and port
---@field family? 0|4|6 the address family to look up
---@field timeout? integer ms of inactivity before 'timeout' (setTimeout)
---@field noDelay? boolean false: keep Nagle's algorithm (default: TCP_NODELAY on)

---@class net.Address
---@field address string
---@field family string 'IPv4' | 'IPv6'
---@field port integer

---A TCP or Unix-socket connection: a Duplex stream.  Events 'connect',
---'ready', 'data'(chunk), 'end', 'drain', 'finish', 'timeout',
---'error'(err), 'close'(hadError).  In a coroutine,
---`await(sock:read())`, `await(sock:read(n))`, `await(sock:readline())`.
---@class net.Socket: Duplex
---@overload fun(opts?: net.SocketOptions): net.Socket
---@field remoteAddress string|nil
---@field remotePort integer|nil
---@field remoteFamily string|nil
---@field localAddress string|nil
---@field localPort integer|nil
---@field localFamily string|nil
---@field bytesRead integer
---@field bytesWritten integer
---@field connecting boolean connect() was called and 'connect' has not come yet
---@field pending boolean not connected yet
---@field readyState 'opening'|'open'|'closed'
---@field allowHalfOpen boolean
---@field timeout integer|nil the idle timeout setTimeout set
---@field server net.Server|nil the server that accepted it
local Socket = {}
---A new, unconnected socket; see connect.
---@param opts? net.SocketOptions
---@return net.Socket
function Socket.new(opts) end
---Connect: `connect(port[, host][, cb])`, `connect(path[, cb])` or
---`connect{port=, host=, path=, family=, timeout=, noDelay=}[, cb]`;
---`cb` is a 'connect' listener.
---@param port integer|string|net.ConnectOptions
---@param host? string|fun()
---@param cb? fun()
---@return net.Socket
function Socket:connect(port, host, cb) end
---A promise of the socket once connected (rejects with its error):
---`await(sock:connected())`.
---@return Promise|net.Socket
function Socket:connected() end
---TCP_NODELAY on (the default) or off.
---@param on? boolean default true
---@return net.Socket
function Socket:setNoDelay(on) end
---TCP keep-alive probes after `delay` ms idle.
---@param on? boolean
---@param delay? integer
---@return net.Socket
function Socket:setKeepAlive(on, delay) end
---'timeout' (and `cb`) after `ms` without reads or writes (0: off); the
---socket stays open unless the listener ends it.
---@param ms integer
---@param cb? fun()
---@return net.Socket
function Socket:setTimeout(ms, cb) end
---The local address (`{}` when not connected).
---@return net.Address|table
function Socket:address() end
---Keep the loop alive while the socket is open (the default).
---@return net.Socket
function Socket:ref() end
---Let the process exit even though the socket is open.
---@return net.Socket
function Socket:unref() end
---Finish the writable side (the socket closes once both sides are done).
function Socket:destroySoon() end
---Close at once (Node sends RST; luster closes the descriptor).
---@return net.Socket
function Socket:resetAndDestroy() end

---@class net.ServerOptions
---@field allowHalfOpen? boolean for the accepted sockets
---@field highWaterMark? integer for the accepted sockets
---@field pauseOnConnect? boolean accepted sockets start paused
---@field noDelay? boolean false: keep Nagle's algorithm on accepted sockets

---@class net.ListenOptions
---@field port? integer 0 (the default) picks a free port
---@field host? string default '::' (and 0.0.0.0)
---@field path? string a Unix socket
---@field backlog? integer
---@field reusePort? boolean SO_REUSEPORT (in a cluster worker: its own socket)
---@field exclusive? boolean in a cluster worker: do not share the port

---A TCP or Unix-socket server.  Events 'listening', 'connection'(socket),
---'close', 'error'(err).  In a cluster worker the port is shared with the
---other workers.  The class, like every EventEmitter subclass in Node,
---also has the `events` statics.
---@class net.Server: events
---@overload fun(opts?: net.ServerOptions|fun(socket: net.Socket), listener?: fun(socket: net.Socket)): net.Server
---@field listening boolean
---@field maxConnections integer|nil more connections than this are closed at once
local Server = {}
---@param opts? net.ServerOptions|fun(socket: net.Socket)
---@param listener? fun(socket: net.Socket)
---@return net.Server
function Server.new(opts, listener) end
---`listen(port[, host][, backlog][, cb])`, `listen(path[, cb])` or
---`listen{port=, host=, path=, backlog=, reusePort=, exclusive=}[, cb]`;
---'listening' (and cb) follow on the next tick, or 'error'.
---@param port? integer|string|net.ListenOptions
---@param host? string|integer|fun()
---@param backlog? integer|fun()
---@param cb? fun()
---@return net.Server
function Server:listen(port, host, backlog, cb) end
---`{port=, address=, family=}`, or the path of a Unix socket; nil when
---not listening.
---@return net.Address|string|nil
function Server:address() end
---Stop accepting; 'close' (and `cb`) once every connection has ended
---(ERR_SERVER_NOT_RUNNING to `cb` when not listening).
---@param cb? fun(err?: table)
---@return net.Server
function Server:close(cb) end
---The number of open connections (also given to `cb(nil, n)` next tick).
---@param cb? fun(err: table|nil, count: integer)
---@return integer
function Server:getConnections(cb) end
---@return net.Server
function Server:ref() end
---@return net.Server
function Server:unref() end

---@class net
local net = {}

---@type net.Socket
net.Socket = Socket
---@type net.Server
net.Server = Server

---A server; `listener(socket)` becomes a 'connection' listener.
---@param opts? net.ServerOptions|fun(socket: net.Socket)
---@param listener? fun(socket: net.Socket)
---@return net.Server
function net.createServer(opts, listener) end

---A connecting socket: `connect(port[, host][, cb])`, `connect(path[, cb])`
---or `connect{...}[, cb]`.
---@param port integer|string|net.ConnectOptions
---@param host? string|fun()
---@param cb? fun()
---@return net.Socket
function net.connect(port, host, cb) end

---Alias of `connect`.
---@param port integer|string|net.ConnectOptions
---@param host? string|fun()
---@param cb? fun()
---@return net.Socket
function net.createConnection(port, host, cb) end

---4 or 6 for an IP address literal, else 0.
---@param s string
---@return 0|4|6
function net.isIP(s) end

---@param s string
---@return boolean
function net.isIPv4(s) end

---@param s string
---@return boolean
function net.isIPv6(s) end

return net
