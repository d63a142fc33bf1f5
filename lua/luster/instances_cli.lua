--- The client commands of `luster -i --name` primaries (cli.c routes here):
---   luster ls [--json]                  every running app's instances
---   luster status [NAME] [--json]       the same, with each primary's details
---   luster reload NAME                  rolling reload; exit 1 if an instance failed
---   luster restart NAME                 every instance at once
---   luster stop NAME                    drain and end the primary; waits for it
---   luster logs NAME [--lines N] [--follow]
---   luster start luster.config.lua      (lua/luster/instances_config.lua)
--- They speak JSON lines over the control socket (instances_control.lua).
local net = require('net')
local json = require('json')
local fs = require('fs')
local process = require('process')
local Promise = require('luster.promise')
local timers = require('timers')
local control = require('luster.instances_control')

local M = {}

local function out(s) io.stdout:write(s) io.stdout:flush() end
local function fail(code, fmt, ...)
  io.stderr:write('luster: ' .. fmt:format(...) .. '\n')
  process.exitCode = code
end

local function sock_path(name) return control.dir() .. '/' .. name .. '.sock' end

--- Send `req` to app `name`; on_line(reply) for every JSON line back.
--- A promise of true once the primary closed the connection, or of
--- nil, message when it cannot be reached.
function M.request(name, req, on_line)
  return Promise.new(function(resolve)
    local buf, settled = '', false
    local function settle(ok, msg) if not settled then settled = true resolve({ ok = ok, message = msg }) end end
    local c = net.connect({ path = sock_path(name) })
    c:on('connect', function() c:write(json.encode(req) .. '\n') end)
    c:on('data', function(data)
      buf = buf .. data
      while true do
        local line, rest = buf:match('^([^\n]*)\n(.*)$')
        if not line then break end
        buf = rest
        local ok, v = pcall(json.decode, line)
        if ok then on_line(v) end
      end
    end)
    c:on('error', function(err) settle(false, tostring(err.code or err.message or err)) end)
    c:on('close', function() settle(true) end)
  end)
end

local function ask(name, req)
  local reply
  local r = Promise.await(M.request(name, req, function(v) reply = reply or v end))
  if not reply then return nil, r.message or 'no answer' end
  return reply
end

--- The names of the apps whose control sockets are in the directory.
function M.names()
  local ok, list = pcall(fs.readdirSync, control.dir())
  local names = {}
  for _, f in ipairs(ok and list or {}) do
    local n = f:match('^(.+)%.sock$')
    if n then names[#names + 1] = n end
  end
  return names
end

-- ---- the table ----
local function human_time(s)
  if s < 60 then return s .. 's' end
  if s < 3600 then return math.floor(s / 60) .. 'm' end
  if s < 86400 then return math.floor(s / 3600) .. 'h' end
  return math.floor(s / 86400) .. 'd'
end
local function mb(bytes) return ('%.1f MB'):format((bytes or 0) / 1048576) end

local COLUMNS = { 'name', 'id', 'pid', 'state', 'uptime', 'restarts', 'rss', 'cpu' }
local RIGHT = { id = true, pid = true, uptime = true, restarts = true, rss = true, cpu = true }

local function cells(row)
  return {
    name = row.name, id = tostring(row.id), pid = row.pid == json.null and '-' or tostring(row.pid),
    state = row.state, uptime = human_time(row.uptime or 0), restarts = tostring(row.restarts),
    rss = mb(row.rss), cpu = ('%.1f%%'):format(row.cpu or 0),
  }
end

function M.table(rows)
  local width, lines = {}, {}
  for _, c in ipairs(COLUMNS) do width[c] = #c end
  local all = {}
  for _, r in ipairs(rows) do
    local cs = cells(r)
    all[#all + 1] = cs
    for _, c in ipairs(COLUMNS) do width[c] = math.max(width[c], #cs[c]) end
  end
  local function line(cs)
    local parts = {}
    for _, c in ipairs(COLUMNS) do
      local pad = (' '):rep(width[c] - #cs[c])
      parts[#parts + 1] = RIGHT[c] and pad .. cs[c] or cs[c] .. pad
    end
    return (table.concat(parts, '  '):gsub('%s+$', ''))
  end
  local head = {}
  for _, c in ipairs(COLUMNS) do head[c] = c end
  lines[1] = line(head)
  for _, cs in ipairs(all) do lines[#lines + 1] = line(cs) end
  return table.concat(lines, '\n') .. '\n'
end

-- ---- commands ----
local cmds = {}

local function statuses(names)
  local list = {}
  for _, n in ipairs(names) do
    local st = ask(n, { cmd = 'status' })
    if st then list[#list + 1] = st end
  end
  return list
end

function cmds.ls(args)
  local rows = {}
  for _, st in ipairs(statuses(M.names())) do
    for _, r in ipairs(st.instances or {}) do rows[#rows + 1] = r end
  end
  if args.json then out(json.encode(json.array(rows)) .. '\n') else out(M.table(rows)) end
end

function cmds.status(args)
  local names = args[1] and { args[1] } or M.names()
  local list = statuses(names)
  if args[1] and #list == 0 then return fail(1, 'no app named %s is running (%s)', args[1], sock_path(args[1])) end
  if args.json then
    out(json.encode(args[1] and list[1] or json.array(list)) .. '\n')
    return
  end
  for k, st in ipairs(list) do
    if k > 1 then out('\n') end
    out(('%s: primary pid %d, %s, %s, script %s%s\n'):format(st.name, st.pid, mb(st.rss),
      #st.instances .. ' instances', st.script, st.log ~= json.null and (', logs in ' .. st.log) or ''))
    out(M.table(st.instances))
  end
end

local function need_name(args, cmd)
  if not args[1] then fail(9, '%s needs an app name', cmd) return nil end
  return args[1]
end

local function simple(cmd, done)
  return function(args)
    local name = need_name(args, cmd)
    if not name then return end
    local reply, err = ask(name, { cmd = cmd })
    if not reply then return fail(1, 'no app named %s is running (%s: %s)', name, sock_path(name), err) end
    if reply.error then return fail(1, '%s %s: %s', cmd, name, reply.error) end
    done(name, reply)
  end
end

cmds.reload = simple('reload', function(name, r)
  if r.queued then out(('%s: a reload was running; another pass follows it\n'):format(name)) return end
  out(('%s: reloaded %d instances, %d failed\n'):format(name, r.replaced, r.failed))
  if r.failed > 0 then process.exitCode = 1 end
end)

cmds.restart = simple('restart', function(name, r)
  out(('%s: restarted %d instances\n'):format(name, r.restarted))
end)

cmds.stop = simple('stop', function(name, r)
  -- the primary drains first: wait for it to be gone (its socket too)
  local waited = 0
  while pcall(require('native.process').kill, r.pid, 0) and waited < 60000 do
    Promise.await(Promise.new(function(res) timers.setTimeout(res, 50) end))
    waited = waited + 50
  end
  out(('%s: stopped\n'):format(name))
end)

function cmds.logs(args)
  local name = need_name(args, 'logs')
  if not name then return end
  local function show(e) out(e.line .. '\n') end
  local got = false
  local r = Promise.await(M.request(name, { cmd = 'logs', lines = tonumber(args.lines) or 15, follow = args.follow },
    function(v)
      if not got then
        got = true
        for _, e in ipairs(v.lines or {}) do show(e) end
      else
        show(v)
      end
    end))
  if not got then fail(1, 'no app named %s is running (%s: %s)', name, sock_path(name), r.message or '') end
end

function cmds.start(args)
  if not args[1] then return fail(9, 'start needs a config file (luster.config.lua)') end
  require('luster.instances_config').start(args[1])
end

-- {positional..., json=, follow=, lines=}
local function parse(argv)
  local args = {}
  local k = 3
  while k <= #argv do
    local a = argv[k]
    if a == '--json' then args.json = true
    elseif a == '--follow' or a == '-f' then args.follow = true
    elseif a == '--lines' or a == '-n' then k = k + 1 args.lines = argv[k]
    else args[#args + 1] = a end
    k = k + 1
  end
  return args
end

function M.run()
  local argv = process.argv
  local cmd = cmds[argv[2]]
  cmd(parse(argv))
end

return M
