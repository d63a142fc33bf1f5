--- `luster -i --name NAME`: the control socket that `luster ls`, `status`,
--- `reload`, `restart`, `stop` and `logs` (lua/luster/instances_cli.lua)
--- talk to.  It is a Unix socket, DIR/NAME.sock, DIR being
--- $XDG_RUNTIME_DIR/luster, else /run/luster (root), else /tmp/luster-UID.
--- The protocol is JSON lines: one request {cmd=, ...}; one reply (logs
--- --follow: then one {line=} per line of output until the client leaves).
--- Nothing runs until a request comes: CPU% is measured between requests
--- (since the instance started, the first time), so an idle socket costs
--- the primary nothing.
local net = require('net')
local json = require('json')
local fs = require('fs')
local process = require('process')
local Promise = require('luster.promise')
local native_process = require('native.process')

local M = {}

local LOG_LINES = 1000 -- the last lines of output kept for `luster logs`
local MAX_REQUEST = 65536    -- a request line longer than this closes the connection
local MAX_FOLLOW_BACKLOG = 1048576 -- a `logs --follow` client this far behind is dropped
local CLK_TCK = 100    -- Linux's USER_HZ, what /proc/PID/stat counts in

--- The directory of control sockets.
function M.dir()
  local xdg = process.env.XDG_RUNTIME_DIR
  if xdg and xdg ~= '' then return xdg .. '/luster' end
  local uid = my_uid()
  if uid == 0 then return '/run/luster' end
  return '/tmp/luster-' .. tostring(uid or 'user')
end

local function read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local function my_uid()
  local status = io.open('/proc/self/status')
  local uid = status and tonumber(status:read('*a'):match('\nUid:%s*(%d+)'))
  if status then status:close() end
  return uid
end

local function now_ms() return native_process.hrtime() / 1e6 end

-- rss (bytes) and CPU ticks of a pid, from /proc
local function proc_usage(pid)
  local statm = read_file('/proc/' .. pid .. '/statm') or ''
  local rss = (tonumber(statm:match('^%d+%s+(%d+)')) or 0) * 4096
  local stat = read_file('/proc/' .. pid .. '/stat') or ''
  local after = stat:match('.*%)%s+(.*)$') or ''
  local fields = {}
  for f in after:gmatch('%S+') do fields[#fields + 1] = f end
  local ticks = (tonumber(fields[12]) or 0) + (tonumber(fields[13]) or 0)
  return rss, ticks
end

local function state_of(slot)
  local w = slot.worker
  if slot.given_up then return 'errored' end
  if not w then return slot.timer and 'restarting' or 'stopped' end
  if w.stopping then return 'stopping' end
  if slot.replacing then return 'reloading' end
  if w.state == 'listening' then return 'listening' end
  if w.state == 'online' then return 'online' end
  return 'starting'
end

function M.attach(api, ops)
  local dir = M.dir()
  local made, err = pcall(fs.mkdirSync, dir, { recursive = true })
  if not made then ops.fatal('cannot create the control directory %s: %s', dir, tostring(err.message or err)) end
  -- whoever owns the directory could stand in for this primary's socket
  local st = fs.statSync(dir)
  if st.uid ~= my_uid() then ops.fatal('the control directory %s belongs to another user (uid %d)', dir, st.uid) end
  local path = dir .. '/' .. api.name .. '.sock'
  api.control_path = path

  -- a previous primary of this name: still running is an error, a socket
  -- left by one that died is removed
  if fs.existsSync(path) then
    local alive = Promise.await(Promise.new(function(resolve)
      local c = net.connect({ path = path })
      -- (destroyed on the next tick: net starts reading right after 'connect')
      c:on('connect', function() process.nextTick(function() c:destroy() end) resolve(true) end)
      c:on('error', function() resolve(false) end)
    end))
    if alive then ops.fatal('an app named %s is already running (%s)', api.name, path) end
    os.remove(path)
  end

  -- the recent output, for `logs`, and the clients following it
  local lines, first, count = {}, 1, 0
  local followers = {}
  ops.tap(function(_, fd, text)
    for line in text:gmatch('([^\n]*)\n') do
      local entry = { line = line, stream = fd == 2 and 'err' or 'out' }
      if count < LOG_LINES then count = count + 1 lines[count] = entry
      else lines[first] = entry first = first % LOG_LINES + 1 end
      for sock in pairs(followers) do
        if not sock:write(json.encode(entry) .. '\n') and sock.writableLength > MAX_FOLLOW_BACKLOG then
          followers[sock] = nil
          sock:destroy()
        end
      end
    end
  end)
  local function recent(n)
    local out = {}
    for k = math.max(1, count - n + 1), count do
      out[#out + 1] = lines[(first + k - 2) % LOG_LINES + 1]
    end
    return out
  end

  local samples = {} -- pid -> {ticks=, at=}
  local function instances()
    local list = {}
    local t = now_ms()
    for _, slot in ipairs(api.slots) do
      local w = slot.worker
      local row = { name = api.name, id = slot.index, state = state_of(slot),
                    restarts = math.max(0, (slot.forks or 1) - 1), pid = json.null,
                    uptime = 0, rss = 0, cpu = 0 }
      if w and not w:isDead() then
        local pid = w.process.pid
        local rss, ticks = proc_usage(pid)
        local prev = samples[pid] or { ticks = 0, at = w.started }
        local dt = (t - prev.at) / 1000
        row.pid, row.rss = pid, rss
        row.uptime = math.floor((t - w.started) / 1000)
        row.cpu = dt > 0 and math.floor((ticks - prev.ticks) / CLK_TCK / dt * 1000 + 0.5) / 10 or 0
        samples[pid] = { ticks = ticks, at = t }
      end
      list[#list + 1] = row
    end
    for pid in pairs(samples) do -- forget the dead
      if not pcall(native_process.kill, pid, 0) then samples[pid] = nil end
    end
    return json.array(list)
  end

  local function status()
    local rss = proc_usage(process.pid)
    return { name = api.name, pid = process.pid, script = api.script, rss = rss,
             log = api.log_dir or json.null, instances = instances() }
  end

  local cmds = {}
  function cmds.status() return status() end
  function cmds.reload()
    local outcome = api.reload()
    if not outcome then return { ok = true, queued = true } end
    return { ok = outcome.failed == 0, replaced = outcome.replaced, failed = outcome.failed }
  end
  function cmds.restart()
    local n = 0
    for _, slot in ipairs(api.slots) do
      local old = slot.worker
      if old and not old.stopping and not slot.replacing then
        old.replaced = true
        slot.worker = api.start(slot)
        api.stop(old)
        n = n + 1
      end
    end
    api.log('restart: %d instances restarted', n)
    return { ok = true, restarted = n }
  end
  function cmds.stop()
    process.nextTick(function() api.shutdown('SIGTERM') end)
    return { ok = true, pid = process.pid }
  end
  function cmds.logs(req, sock)
    local n = math.max(0, math.floor(tonumber(req.lines) or 15))
    local reply = { lines = json.array(recent(n)), log = api.log_dir or json.null }
    if req.follow then
      followers[sock] = true
      sock:on('close', function() followers[sock] = nil end)
    end
    return reply
  end

  local server = net.createServer(function(sock)
    local buf = ''
    sock:on('error', function() end)
    sock:on('data', function(data)
      buf = buf .. data
      local line = buf:match('^([^\n]*)\n')
      if not line then
        if #buf > MAX_REQUEST then sock:destroy() end
        return
      end
      buf = ''
      local ok, req = pcall(json.decode, line)
      local fn = ok and type(req) == 'table' and cmds[req.cmd]
      local reply
      if not fn then reply = { error = 'unknown request: ' .. line:sub(1, 100) }
      else
        local good, res = pcall(fn, req, sock)
        reply = good and res or { error = tostring(type(res) == 'table' and res.message or res) }
      end
      sock:write(json.encode(reply) .. '\n')
      if not (fn == cmds.logs and req.follow) then sock:finish() end
    end)
  end)
  server:on('error', function(err)
    api.log('control socket %s: %s', path, tostring(err.message or err))
  end)
  server:listen(path, function() server:unref() end)
  process:on('exit', function() os.remove(path) end)
  require('luster.cluster_primary'):on('fork', function(w)
    if w.slot then w.slot.forks = (w.slot.forks or 0) + 1 end
  end)
end

return M
