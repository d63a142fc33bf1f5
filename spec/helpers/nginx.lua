--- nginx as a real peer for specs: a server block written into a temporary
--- prefix directory, nginx run in the foreground by pid and stopped by it.
---
---   local nginx = require('helpers.nginx')
---   local n = nginx.start { server = 'location / { return 200 "hi"; }', http = 'upstream u { ... }' }
---   ... 'http://127.0.0.1:' .. n.port ...; n:stop()
local peer = require('helpers.peer')
local run = require('helpers.run')

local M = {}

function M.have() return peer.have('nginx') end

local function write(path, text)
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end

local Nginx = {}
Nginx.__index = Nginx

--- Start nginx listening on a free 127.0.0.1 port.  opts.server: the body
--- of the server block (after its listen line); opts.http: more
--- directives of the http block (upstreams); opts.files: {name = text}
--- written under the prefix's html/ directory (the default root).
function M.start(opts)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute('mkdir -p ' .. run.quote(dir .. '/html') .. ' ' .. run.quote(dir .. '/logs')) == 0)
  for name, text in pairs(opts.files or {}) do write(dir .. '/html/' .. name, text) end
  -- nginx started as root runs its workers as nobody: let them read the prefix
  os.execute('chmod -R a+rwX ' .. run.quote(dir))
  local port = peer.free_port()
  write(dir .. '/nginx.conf', ([[
daemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/logs/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;
  uwsgi_temp_path %s; scgi_temp_path %s;
  keepalive_requests 100000;
  %s
  server {
    listen 127.0.0.1:%d;
    root %s/html;
    %s
  }
}
]]):format(dir, dir, dir, dir, dir, dir, dir, opts.http or '', port, dir, opts.server or ''))
  local self = setmetatable({ dir = dir, port = port }, Nginx)
  self.peer = peer.start({ 'nginx', '-p', dir, '-c', dir .. '/nginx.conf', '-e', dir .. '/logs/error.log' },
    { port = port })
  return self
end

function Nginx:errors()
  local f = io.open(self.dir .. '/logs/error.log')
  if not f then return '' end
  local s = f:read('*a')
  f:close()
  return s
end

--- Stop the nginx master we started (by its pid; it takes its workers
--- along) and remove the prefix.
function Nginx:stop()
  self.peer:stop()
  os.execute('rm -rf ' .. run.quote(self.dir))
end

return M
