--- Helpers for HTTP specs: run a server script in a child `luster` and talk
--- to it with real clients (python3's http.client and raw sockets, curl).
---
---   local H = require('helpers.http')
---   local srv = H.serve([[ ... server:listen(0, '127.0.0.1', function()
---       console.log('port', server:address().port) end) ]])
---   local out = H.py(srv.port, [[ ... python using PORT ... ]])
---   srv:stop()
---
--- The spec's own loop is not needed while a client runs, so clients are
--- plain blocking io.popen calls.
local run = require('helpers.run')

local M = {}
local q = run.quote

local function tmp(suffix, text)
  local path = os.tmpname() .. suffix
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
  return path
end
M.tmp = tmp

local function slurp(path)
  local f = io.open(path, 'rb')
  if not f then return '' end
  local s = f:read('*a')
  f:close()
  return s
end
M.slurp = slurp

local Server = {}
Server.__index = Server

--- Stop the server (SIGTERM to the pid we started) and return its stderr.
function Server:stop()
  if not self.stopped then
    self.stopped = true
    os.execute('kill ' .. self.pid .. ' 2>/dev/null; true')
    self.pipe:close()
  end
  local err = slurp(self.errfile)
  os.remove(self.errfile)
  if self.script then os.remove(self.script) end
  return err
end

--- What the server printed to stderr so far.
function Server:stderr() return slurp(self.errfile) end

--- The next line the server prints on stdout.
function Server:line() return self.pipe:read('*l') end

--- Whether the server process is still running.
function Server:alive()
  return os.execute('kill -0 ' .. self.pid .. ' 2>/dev/null') == 0
end

--- Start `luster path args...` with extra environment variables `env`
--- ({NAME = value} or nil); the script must print '... port <n>' first.
---@return table server {pid=, port=, stop=, stderr=, line=}
function M.spawn(env, path, ...)
  local errfile = os.tmpname()
  local args, vars = {}, {}
  for i = 1, select('#', ...) do args[#args + 1] = q((select(i, ...))) end
  for k, v in pairs(env or {}) do vars[#vars + 1] = q(k .. '=' .. tostring(v)) end
  -- sh prints its pid, then becomes luster (so the pid is the server's)
  local cmd = ("exec env %s sh -c 'echo $$; exec \"$0\" \"$@\" 2>%s' %s %s %s"):format(
    table.concat(vars, ' '), errfile, q(run.bin), q(path), table.concat(args, ' '))
  local pipe = assert(io.popen(cmd, 'r'))
  local pid = tonumber(pipe:read('*l'))
  local self = setmetatable({ pid = pid, pipe = pipe, errfile = errfile }, Server)
  local line = pipe:read('*l') or ''
  self.port = tonumber(line:match('port%s+(%d+)'))
  if not self.port then
    local err = self:stop()
    error('server did not start: ' .. line .. '\n' .. err, 2)
  end
  return self
end

--- Start `luster path args...` (see M.spawn).
function M.start(path, ...) return M.spawn(nil, path, ...) end

--- Start a server from Lua source (see M.start).
function M.serve(src, ...)
  local path = tmp('.lua', src)
  local s = M.start(path, ...)
  s.script = path
  return s
end

--- Run python3 source with PORT set; returns stdout (and stderr, code).
function M.py(port, src)
  local path = tmp('.py', 'PORT = ' .. tostring(port) .. '\n' .. src)
  local out, err, code = run.sh('python3 ' .. q(path))
  os.remove(path)
  return out, err, code
end

-- Raw socket client: send bytes (in parts, with pauses), read until the
-- server closes or `timeout` seconds pass without data.
local RAW = [[
import socket, sys, time
data = open(sys.argv[1], 'rb').read()
parts = [p for p in sys.argv[2].split(',') if p] if len(sys.argv) > 2 else []
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
shut = len(sys.argv) > 4 and sys.argv[4] == 'shut'
s = socket.create_connection(('127.0.0.1', int(sys.argv[5])))
s.settimeout(timeout)
cuts = [int(p) for p in parts]
last = 0
for c in cuts + [len(data)]:
    if c > last:
        s.sendall(data[last:c]); last = c
    if c != len(data): time.sleep(0.05)
if shut: s.shutdown(socket.SHUT_WR)
out = b''
try:
    while True:
        b = s.recv(65536)
        if not b:
            out += b'<EOF>'
            break
        out += b
except socket.timeout:
    out += b'<TIMEOUT>'
except ConnectionResetError:
    out += b'<RESET>'
sys.stdout.buffer.write(out)
]]

--- Send raw bytes; returns everything received, ending in <EOF>, <TIMEOUT>
--- or <RESET>.  opts: cuts = {byte offsets to pause at}, timeout = s,
--- shut = half-close after sending.
function M.raw(port, bytes, opts)
  opts = opts or {}
  local script = tmp('.py', RAW)
  local data = tmp('.bin', bytes)
  local cuts = table.concat(opts.cuts or {}, ',')
  local out = run.sh(('python3 %s %s %s %s %s %d'):format(q(script), q(data), q(cuts ~= '' and cuts or ','),
    tostring(opts.timeout or 2), opts.shut and 'shut' or 'no', port))
  os.remove(script)
  os.remove(data)
  return out
end

--- Count the HTTP responses (status lines) in a raw reply.
function M.statuses(reply)
  local t = {}
  for code in reply:gmatch('HTTP/1%.1 (%d%d%d)') do t[#t + 1] = tonumber(code) end
  return t
end

--- curl with arguments; returns stdout, stderr, exit code.
function M.curl(args)
  return run.sh('curl -s --max-time 10 ' .. args)
end

return M
