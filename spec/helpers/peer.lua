--- Real peers for specs: programs started in the background by pid (redis-
--- server, a Node script, openssl s_server...) and waited for without
--- blocking the spec's own loop, so a luster server in the spec can talk to
--- them.
---
---   local peer = require('helpers.peer')
---   local port = peer.free_port()
---   local p = peer.start({ 'redis-server', '--port', port }, { port = port })
---   ...; p:stop()
---   local r = await(peer.run({ 'node', script }))   -- {out=, err=, code=}
local run = require('helpers.run')

local M = {}
local q = run.quote

function M.have(cmd) return os.execute('command -v ' .. cmd .. ' >/dev/null 2>&1') == 0 end

--- A TCP port that was free a moment ago (the OS picked it).
function M.free_port()
  local p = io.popen([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
  local port = tonumber(p:read('*l'))
  p:close()
  return port
end

local function cmdline(argv)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = q(a) end
  return table.concat(parts, ' ')
end

local function slurp(path)
  local f = io.open(path, 'rb')
  if not f then return '' end
  local s = f:read('*a')
  f:close()
  return s
end

local function sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

local Peer = {}
Peer.__index = Peer

--- Start argv in the background.  opts.port: wait (up to opts.wait ms,
--- default 5000) until it accepts TCP connections on 127.0.0.1:port.
function M.start(argv, opts)
  opts = opts or {}
  local base = os.tmpname()
  local self = setmetatable({ out = base .. '.out', err = base .. '.err', base = base }, Peer)
  local p = io.popen(('%s >%s 2>%s </dev/null & echo $!'):format(cmdline(argv), q(self.out), q(self.err)))
  self.pid = tonumber(p:read('*l'))
  p:close()
  if opts.port then
    local deadline = os.time() + math.ceil((opts.wait or 5000) / 1000)
    repeat
      local ok = os.execute(('bash -c %s 2>/dev/null'):format(q('exec 3<>/dev/tcp/127.0.0.1/' .. opts.port))) == 0
      if ok then return self end
      sleep(50)
    until os.time() > deadline
    self:stop()
    error('peer did not listen on ' .. opts.port .. ': ' .. slurp(self.err))
  end
  return self
end

--- End the peer (SIGTERM to the pid we started, SIGKILL if it lingers).
function Peer:stop()
  if self.stopped then return end
  self.stopped = true
  os.execute(('kill %d 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 %d 2>/dev/null || break; sleep 0.05; done; kill -9 %d 2>/dev/null'):format(self.pid, self.pid, self.pid))
  for _, f in ipairs { self.out, self.err, self.base } do os.remove(f) end
end

function Peer:output() return slurp(self.out), slurp(self.err) end

--- Run argv to its end without blocking the loop: a promise of
--- {out=, err=, code=}.  Bounded by opts.timeout ms (default 20000);
--- opts.env adds environment variables.
function M.run(argv, opts)
  opts = opts or {}
  local base = os.tmpname()
  local out, err, rc = base .. '.out', base .. '.err', base .. '.rc'
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = q(k .. '=' .. tostring(v)) end
  local prefix = #env > 0 and ('env ' .. table.concat(env, ' ') .. ' ') or ''
  local p = io.popen(('(%s%s >%s 2>%s </dev/null; echo $? >%s) & echo $!'):format(prefix, cmdline(argv), q(out), q(err), q(rc)))
  local pid = tonumber(p:read('*l'))
  p:close()
  return Promise.new(function(resolve)
    local waited = 0
    local timer
    timer = setInterval(function()
      waited = waited + 20
      local code = slurp(rc)
      if code ~= '' or waited > (opts.timeout or 20000) then
        clearInterval(timer)
        if code == '' then os.execute('kill ' .. pid .. ' 2>/dev/null') end
        resolve({ out = slurp(out), err = slurp(err), code = tonumber(code) })
        for _, f in ipairs { out, err, rc, base } do os.remove(f) end
      end
    end, 20)
  end)
end

--- Write a temporary file with `text`; returns its path.
function M.tmp(suffix, text)
  local path = os.tmpname() .. suffix
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
  return path
end

return M
