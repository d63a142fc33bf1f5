--- The operating side of `luster -i` (API.md "Operating `luster -i`"):
--- lua/luster/instances.lua keeps the workers alive and calls here at a
--- few marked points; each feature lives in its own file:
---   instances_control  --name: the control socket (ls/status/reload/...)
---   instances_log      --log DIR: per-instance log files, rotation, SIGUSR2
---   instances_ipc      process.send from instances, --primary hooks.lua
---   instances_systemd  $NOTIFY_SOCKET and LISTEN_FDS
---   instances_watch    --watch: rolling reload on a changed Lua file
local native_process = require('native.process')

local M = {}

--- Options from the command line, name -> value ("true" for flags).
M.opts = {}

--- configure{"name=value", ...}: cli.c passes the -i options it does not
--- handle itself.
function M.configure(list)
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match('^([^=]+)=(.*)$')
    if k then M.opts[k] = v end
  end
end

local listeners = {}

--- Run fn(...) on each `event` (from instances.lua: 'reloading',
--- 'reloaded'(outcome), 'stopping').
function M.on(event, fn)
  listeners[event] = listeners[event] or {}
  table.insert(listeners[event], fn)
end

function M.event(event, ...)
  for _, fn in ipairs(listeners[event] or {}) do fn(...) end
end

local sink  -- instances_log's writer, when --log
local taps = {}

--- Run fn(worker, fd, lines) on every piece of instance output (whole
--- lines, already prefixed with `[id] `).
function M.tap(fn) taps[#taps + 1] = fn end

--- Instance output: to the log files with --log, else the primary's own
--- stdout/stderr.
function M.output(worker, fd, text)
  if sink then sink(worker, fd, text) else native_process.write(fd, text) end
  for i = 1, #taps do taps[i](worker, fd, text) end
end

--- A start-up error (bad hooks file, name in use): one line, exit 1; no
--- worker has started yet.
function M.fatal(fmt, ...)
  native_process.write(2, 'luster: ' .. fmt:format(...) .. '\n')
  os.exit(1)
end

local function basename(path)
  return (path:match('([^/]+)$') or path):gsub('%.lua$', '')
end

--- instances.lua hands over its handles before the first worker starts:
--- {slots=, script=, reload=, shutdown=, stop=, start=, log=, is_shutting_down=}.
function M.attach(api)
  local o = M.opts
  api.name = o.name or basename(api.script)
  if o.name and not o.name:match('^[%w._-]+$') then
    M.fatal('--name %q: use letters, digits, . _ and - only (it names a socket file)', o.name)
  end
  M.api = api
  if o.log then sink = require('luster.instances_log').open(api, M, o) end
  require('luster.instances_ipc').attach(api, M, o.primary)
  require('luster.instances_systemd').attach(api, M)
  if o.name then require('luster.instances_control').attach(api, M) end
  if o.watch then require('luster.instances_watch').attach(api, M) end
end

return M
