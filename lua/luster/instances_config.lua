--- `luster start luster.config.lua`: start every app of a config file.
---
---   return { apps = {
---     { name = 'api', script = 'app.lua', instances = 2,   -- or 'max'
---       env = { PORT = 8080 }, args = { '--flag' }, max_memory = 200,  -- MB
---       kill_timeout = 5000, log = 'logs', log_max_size = 10, log_date = true,
---       watch = false, primary = 'hooks.lua' },
---   } }
---
--- Each app gets its own primary (`luster -i N --name NAME ...`), started in
--- the background in a session of its own (setsid), so `luster start`
--- returns once every app answers on its control socket, as PM2's daemon
--- does; `luster ls`, `logs`, `stop NAME` manage them afterwards.  Paths are
--- relative to the config file's directory, which is each app's working
--- directory.  `log` defaults to `logs` beside the config file; the
--- primary's own output goes to LOG/NAME.primary.log.
local process = require('process')
local Promise = require('luster.promise')
local timers = require('timers')
local fs = require('fs')

local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function absolute(base, p)
  if p:sub(1, 1) == '/' then return p end
  return base .. '/' .. p
end

local function sleep(ms) Promise.await(Promise.new(function(r) timers.setTimeout(r, ms) end)) end

--- The command line that runs one app, and its log directory.
function M.command(app, base)
  local log = app.log and absolute(base, app.log) or (base .. '/logs')
  local argv = { process.execPath, '-i', tostring(app.instances or 1), '--name', app.name }
  local function opt(flag, v) if v ~= nil and v ~= false then argv[#argv + 1] = flag
    if v ~= true then argv[#argv + 1] = tostring(v) end end end
  opt('--log', log)
  opt('--log-max-size', app.log_max_size)
  opt('--log-keep', app.log_keep)
  opt('--log-date', app.log_date and true)
  opt('--max-memory', app.max_memory)
  opt('--kill-timeout', app.kill_timeout)
  opt('--watch', app.watch and true)
  opt('--primary', app.primary and absolute(base, app.primary))
  argv[#argv + 1] = absolute(base, app.script)
  for _, a in ipairs(app.args or {}) do argv[#argv + 1] = tostring(a) end
  return argv, log
end

local function check(app, k)
  if type(app) ~= 'table' then error(('apps[%d] is not a table'):format(k), 0) end
  if type(app.script) ~= 'string' then error(('apps[%d] needs a script'):format(k), 0) end
  app.name = app.name or app.script:match('([^/]+)$'):gsub('%.lua$', '')
  if not tostring(app.name):match('^[%w._-]+$') then
    error(('apps[%d]: name %q may hold only letters, digits, . _ -'):format(k, tostring(app.name)), 0)
  end
end

function M.start(path)
  local cli = require('luster.instances_cli')
  local chunk, err = loadfile(path)
  if not chunk then
    io.stderr:write('luster: ' .. tostring(err) .. '\n')
    process.exitCode = 1
    return
  end
  local ok, config = pcall(chunk)
  if ok and (type(config) ~= 'table' or type(config.apps) ~= 'table') then
    ok, config = false, 'it must return { apps = { ... } }'
  end
  if ok then ok, config = pcall(function() for k, app in ipairs(config.apps) do check(app, k) end return config end) end
  if not ok then
    io.stderr:write(('luster: %s: %s\n'):format(path, tostring(config)))
    process.exitCode = 9
    return
  end
  local base = path:match('^(.*)/[^/]*$') or '.'
  if base:sub(1, 1) ~= '/' then base = process.cwd() .. '/' .. base end

  local running = {}
  for _, n in ipairs(cli.names()) do running[n] = true end
  local started = {}
  for _, app in ipairs(config.apps) do
    if running[app.name] and Promise.await(cli.request(app.name, { cmd = 'status' }, function() end)).ok then
      io.stdout:write(('%s: already running\n'):format(app.name))
    else
      local argv, log = M.command(app, base)
      fs.mkdirSync(log, { recursive = true })
      local env = { 'env' }
      for k, v in pairs(app.env or {}) do env[#env + 1] = q(k .. '=' .. tostring(v)) end
      local parts = {}
      for _, a in ipairs(argv) do parts[#parts + 1] = q(a) end
      local line = ('cd %s && %s setsid -f %s </dev/null >>%s 2>&1'):format(q(base), table.concat(env, ' '),
        table.concat(parts, ' '), q(log .. '/' .. app.name .. '.primary.log'))
      os.execute(line)
      started[#started + 1] = app.name
    end
  end
  -- wait until each answers (its control socket is up), at most 10 s
  local missing = {}
  for _, name in ipairs(started) do
    local up = false
    for _ = 1, 200 do
      local r = Promise.await(cli.request(name, { cmd = 'status' }, function() end))
      if r.ok then up = true break end
      sleep(50)
    end
    if up then io.stdout:write(('%s: started\n'):format(name)) else missing[#missing + 1] = name end
  end
  if #missing > 0 then
    io.stderr:write(('luster: did not come up: %s (see their NAME.primary.log)\n'):format(table.concat(missing, ', ')))
    process.exitCode = 1
  end
end

return M
