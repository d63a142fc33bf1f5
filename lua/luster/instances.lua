--- The primary of `luster -i N|max script.lua` (runtime/instances.c calls
--- main): keeps N workers of an unmodified script running, sharing its ports.
---
--- * Each instance is a slot with an index (LUSTER_INSTANCE, 0-based).  A
---   worker that exits on its own is restarted after a delay that grows ×1.5
---   from 100 ms to 15 s, and goes back to 100 ms once a worker has stayed
---   up 30 s.  A slot whose workers keep dying within a second of starting
---   is given up after LUSTER_MAX_RESTARTS (default 15) such restarts in a
---   row; when every slot is given up the primary exits with code 1.
--- * SIGHUP reloads the slots one at a time: a new worker starts, and only
---   when it is listening (or has sent process.send('ready')) is the old one
---   disconnected — it gets no new connections, finishes the ones it has and
---   exits.  So a reload drops no request.
--- * SIGTERM / SIGINT disconnect every worker; whatever has not exited
---   --kill-timeout ms later gets SIGKILL.  A second SIGINT kills at once.
--- * --max-memory MB: a worker whose RSS passes it is replaced like a reload.
--- * Worker output is read line by line and printed with a `[id] ` prefix,
---   so lines of different workers never mix.
--- Listening sockets stay open while a slot restarts (cluster_shares
--- keep_open): connections wait in the backlog instead of being refused.
local cluster = require('luster.cluster_primary')
local shares = require('luster.cluster_shares')
local native_process = require('native.process')
local process = require('process')
local timers = require('timers')
local Promise = require('luster.promise')
local os_ = require('os')
-- operating features (control socket, logs, systemd, watch, IPC hooks):
-- lua/luster/instances_ops.lua; the calls into it are marked `ops.`
local ops = require('luster.instances_ops')

local M = {}

local BACKOFF_START, BACKOFF_FACTOR, BACKOFF_MAX = 100, 1.5, 15000
local STABLE_MS = 30000      -- up this long: the backoff starts over
local QUICK_CRASH_MS = 1000  -- died sooner: counts toward the crash-loop limit
local READY_GRACE_MS = 3000  -- a worker that never listens is ready after this

local function now() return native_process.hrtime() / 1e6 end

local function log(fmt, ...)
  native_process.write(2, '[luster] ' .. fmt:format(...) .. '\n')
end

-- ---- output: whole lines, prefixed with the worker's id ----
local function prefixer(worker, fd)
  local rest = ''
  local tag = '[' .. worker.id .. '] '
  return function(data)
    if data == nil then
      if rest ~= '' then ops.output(worker, fd, tag .. rest .. '\n') end
      rest = ''
      return
    end
    local buf = rest .. data
    local last = buf:match('.*()\n')
    if not last then rest = buf return end
    rest = buf:sub(last + 1)
    local lines = buf:sub(1, last)
    ops.output(worker, fd, (lines:gsub('([^\n]*\n)', function(l) return tag .. l end)))
  end
end

local function rss_mb(pid)
  local f = io.open('/proc/' .. pid .. '/statm')
  if not f then return 0 end
  local s = f:read('*l') or ''
  f:close()
  local pages = tonumber(s:match('^%d+%s+(%d+)')) or 0
  return pages * 4096 / 1048576
end

function M.main(count, kill_timeout, max_memory, script, ...)
  local n = count == 'max' and os_.availableParallelism() or math.floor(tonumber(count) or 1)
  kill_timeout = tonumber(kill_timeout) or 5000
  max_memory = tonumber(max_memory) or 0
  local max_restarts = tonumber(process.env.LUSTER_MAX_RESTARTS) or 15
  local args = { ... }
  process.argv = { process.execPath, script, ... }

  shares.keep_open = true
  -- detached: a Ctrl-C in the terminal reaches the primary only, which then
  -- drains the workers instead of them dying mid-request
  cluster.setupPrimary({ exec = script, args = args, silent = true, detached = true })

  local slots = {}
  local live = {}           -- every worker not yet exited
  local shutting_down = false
  local reloading, reload_again = false, false
  local memory_timer

  local function all_given_up()
    for _, slot in ipairs(slots) do if not slot.given_up then return false end end
    return true
  end

  local function maybe_finish()
    if shutting_down and next(live) == nil then process:exit() end -- keeps exitCode
  end

  -- Ask a worker to finish; SIGTERM once it has drained, SIGKILL at the timeout.
  local function stop(w)
    if w.stopping or w:isDead() then return end
    w.stopping = true
    local kill_timer = timers.setTimeout(function()
      if not w:isDead() then
        log('worker %d did not exit within %d ms: SIGKILL', w.id, kill_timeout)
        w:kill('SIGKILL')
      end
    end, kill_timeout)
    local term_timer
    w:once('exit', function()
      timers.clearTimeout(kill_timer)
      if term_timer then timers.clearTimeout(term_timer) end
    end)
    if w:isConnected() then
      w:once('disconnect', function()
        -- its servers are closed and drained; a timer may still hold it
        -- (its last responses may still be leaving: give them time)
        term_timer = timers.setTimeout(function()
          if not w:isDead() then w:kill('SIGTERM') end
        end, kill_timeout / 2)
      end)
      w:disconnect()
    else
      w:kill('SIGTERM')
    end
  end

  local on_exit

  local function start(slot)
    local w = cluster.fork({ LUSTER_INSTANCE = slot.index })
    w.slot, w.started = slot, now()
    live[w] = true
    w.process.stdout:on('data', prefixer(w, 1))
    w.process.stdout:on('end', prefixer(w, 1))
    local err_out = prefixer(w, 2)
    w.process.stderr:on('data', err_out)
    w.process.stderr:on('end', function() err_out(nil) end)
    w:on('exit', function(code, signal) on_exit(w, code, signal) end)
    return w
  end

  local function restart_later(slot, why)
    if slot.given_up or shutting_down then return end
    log('instance %d: %s; restarting in %d ms', slot.index, why, slot.delay)
    slot.timer = timers.setTimeout(function()
      slot.timer = nil
      if not shutting_down then slot.worker = start(slot) end
    end, slot.delay)
    slot.delay = math.min(slot.delay * BACKOFF_FACTOR, BACKOFF_MAX)
  end

  function on_exit(w, code, signal)
    live[w] = nil
    if shutting_down then return maybe_finish() end
    local slot = w.slot
    if w.candidate or w.replaced or slot.worker ~= w then return end
    slot.worker = nil
    local up = now() - w.started
    if up >= STABLE_MS then slot.delay = BACKOFF_START end
    if up < QUICK_CRASH_MS then slot.quick = slot.quick + 1 else slot.quick = 0 end
    local how = signal and ('signal ' .. signal) or ('code ' .. tostring(code))
    if slot.quick > max_restarts then
      slot.given_up = true
      log('instance %d: worker %d exited with %s, %d times in a row within %d ms of starting; giving up on it',
        slot.index, w.id, how, slot.quick, QUICK_CRASH_MS)
      if all_given_up() then
        log('every instance is crash-looping; exiting')
        process.exitCode = 1
        shutting_down = true
        maybe_finish()
      end
      return
    end
    restart_later(slot, ('worker %d (pid %d) exited with %s after %d ms'):format(w.id, w.process.pid, how, up))
  end

  -- A promise of the worker being ready: listening, 'ready' sent, or up a
  -- while without either; rejected if it dies first.
  local function ready(w)
    return Promise.new(function(resolve, reject)
      local grace
      local function done(ok)
        if grace then timers.clearTimeout(grace) grace = nil end
        if ok then resolve(true) else reject(false) end
      end
      w:once('listening', function() done(true) end)
      w:on('message', function(m) if m == 'ready' then done(true) end end)
      w:once('online', function() grace = timers.setTimeout(function() done(true) end, READY_GRACE_MS) end)
      w:once('exit', function() done(false) end)
    end)
  end

  -- Replace one slot's worker: the new one is ready before the old one goes.
  local function replace(slot, why)
    local old = slot.worker
    if not old or old.stopping or slot.replacing or shutting_down then return end
    slot.replacing = true
    local new = start(slot)
    new.candidate = true
    local ok = pcall(Promise.await, ready(new))
    slot.replacing = false
    new.candidate = nil
    if not ok then
      if shutting_down then return false end
      log('instance %d: the new worker %d died before it was ready; keeping worker %d', slot.index, new.id, old.id)
      return false
    end
    if shutting_down then stop(new) return end
    if slot.worker == old then
      slot.worker = new
      old.replaced = true
      log('instance %d: worker %d replaces worker %d (%s)', slot.index, new.id, old.id, why)
      stop(old)
      if not old:isDead() then pcall(Promise.await, Promise.new(function(res) old:once('exit', res) end)) end
    else -- the old one crashed meanwhile and a restart is pending: this one takes over
      if slot.timer then timers.clearTimeout(slot.timer) slot.timer = nil end
      slot.worker = new
    end
    return true
  end

  -- Returns {replaced=, failed=} of the last pass (nil when it only asked
  -- a reload already running for another pass).
  local function reload()
    if reloading then reload_again = true return end
    reloading = true
    ops.event('reloading')
    local outcome
    repeat
      reload_again = false
      outcome = { replaced = 0, failed = 0 }
      log('SIGHUP: reloading %d instances one by one', #slots)
      for _, slot in ipairs(slots) do
        if shutting_down then break end
        local ok = replace(slot, 'reload')
        if ok then outcome.replaced = outcome.replaced + 1 elseif ok == false then outcome.failed = outcome.failed + 1 end
      end
    until not reload_again or shutting_down
    reloading = false
    ops.event('reloaded', outcome)
    return outcome
  end

  local function shutdown(signal)
    if shutting_down then
      if signal == 'SIGINT' then
        for w in pairs(live) do w:kill('SIGKILL') end
      end
      return
    end
    shutting_down = true
    ops.event('stopping')
    log('%s: stopping %d workers', signal, #slots)
    if memory_timer then timers.clearTimeout(memory_timer) end
    for _, slot in ipairs(slots) do
      if slot.timer then timers.clearTimeout(slot.timer) slot.timer = nil end
    end
    for w in pairs(live) do stop(w) end
    maybe_finish()
  end

  process:on('SIGHUP', reload)
  process:on('SIGTERM', function() shutdown('SIGTERM') end)
  process:on('SIGINT', function() shutdown('SIGINT') end)

  if max_memory > 0 then
    memory_timer = timers.setInterval(function()
      for _, slot in ipairs(slots) do
        local w = slot.worker
        if w and not w.stopping and not slot.replacing and not w:isDead() then
          local mb = rss_mb(w.process.pid)
          if mb > max_memory then
            log('instance %d: worker %d uses %.1f MB > --max-memory %d MB', slot.index, w.id, mb, max_memory)
            replace(slot, 'max-memory')
          end
        end
      end
    end, 1000)
    memory_timer:unref()
  end

  ops.attach({ slots = slots, script = script, reload = reload, shutdown = shutdown, stop = stop,
               start = start, log = log, is_shutting_down = function() return shutting_down end })
  for i = 1, n do
    slots[i] = { index = i - 1, delay = BACKOFF_START, quick = 0 }
    slots[i].worker = start(slots[i])
  end
end

return M
