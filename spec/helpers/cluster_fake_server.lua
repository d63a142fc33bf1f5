--- A tiny server that implements the server side of the cluster seam
--- (lua/luster/net.lua) with native.tcp and the FFI, so the cluster specs
--- test port sharing without depending on lua/http.lua.  Each connection
--- reads one request and answers `HTTP/1.1 200` with the worker's pid.
local ffi = require('ffi')
local tcp = require('native.tcp')
local net = require('luster.net')
local EventEmitter = require('events')

pcall(ffi.cdef, [[
  struct luster_fake_pollfd { int fd; short events; short revents; };
  int poll(struct luster_fake_pollfd *fds, unsigned long nfds, int timeout);
  long read(int fd, void *buf, unsigned long n);
  long write(int fd, const void *buf, unsigned long n);
  int close(int fd);
]])

local Server = EventEmitter.extend({})

local function serve(fd)
  local p = ffi.new('struct luster_fake_pollfd[1]')
  p[0].fd, p[0].events = fd, 1
  ffi.C.poll(p, 1, 2000)
  local buf = ffi.new('char[4096]')
  ffi.C.read(fd, buf, 4096)
  local body = 'pid ' .. process.pid
  local res = ('HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s'):format(#body, body)
  ffi.C.write(fd, res, #res)
  ffi.C.close(fd)
end

function Server.new() return setmetatable({}, Server) end

function Server:listen(opts, cb)
  if type(opts) == 'number' then opts = { port = opts } end
  if cb then self:once('listening', cb) end
  if net.cluster_listen then return net.cluster_listen(self, opts) end
  local ok, err = self:_bind_local(opts)
  if not ok then return self:_listen_failed(err) end
  self:_listening(tcp.address(self.fd))
end

function Server:_adopt_connection_fd(fd) serve(fd) return true end
function Server:_adopt_listen_fd(fd)
  self.fd = fd
  self.acceptor = tcp.acceptor(fd, serve)
  return true
end
function Server:_bind_local(opts)
  local fd, err = tcp.listen(opts.host, opts.port or 0, opts.backlog, opts.reusePort)
  if not fd then return nil, err end
  return self:_adopt_listen_fd(fd)
end
function Server:_listening(address)
  self._address = address
  self:emit('listening', address)
end
function Server:_listen_failed(err) self:emit('error', err) end
function Server:address() return self._address or (self.fd and tcp.address(self.fd)) end
function Server:close(cb)
  if net.cluster_close then net.cluster_close(self) end
  if self.acceptor then self.acceptor:close() -- closes the fd too
  elseif self.fd then tcp.close(self.fd) end
  self.acceptor, self.fd = nil, nil
  if cb then process.nextTick(cb) end
end

return Server
