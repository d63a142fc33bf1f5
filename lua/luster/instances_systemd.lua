--- `luster -i` under systemd (examples/systemd/):
--- * Type=notify: READY=1 once every instance is ready (listening, or sent
---   process.send('ready'), or up 3 s without either, as instances.lua
---   counts readiness), RELOADING=1 then READY=1 around a rolling reload,
---   STOPPING=1 when draining begins.  Only when $NOTIFY_SOCKET is set.
--- * Socket activation: the sockets passed as fds 3.. (LISTEN_FDS, for
---   this pid) are adopted by the primary; an instance listening on the
---   port of one uses it instead of binding, so while luster itself
---   restarts, connections wait in the socket systemd holds.
local native = require('native.systemd')
local cluster = require('luster.cluster_primary')
local shares = require('luster.cluster_shares')
local timers = require('timers')
local process = require('process')

local M = {}

local READY_GRACE_MS = 3000

function M.attach(api, ops)
  local n = native.listen_fds()
  for fd = 3, 3 + n - 1 do
    local port, err = shares.inherit(fd)
    if port then api.log('socket activation: fd %d is port %d', fd, port)
    else api.log('socket activation: fd %d ignored: %s', fd, tostring(err and err.message)) end
  end

  if not (process.env.NOTIFY_SOCKET or ''):match('^[/@]') then return end
  local function notify(state)
    local ok, err = native.notify(state)
    if ok == nil then api.log('sd_notify %s failed: %s', state, tostring(err and err.message)) end
  end

  local ready_sent, reloading = false, false
  local function check()
    if ready_sent or reloading or api.is_shutting_down() then return end
    for _, slot in ipairs(api.slots) do
      local w = slot.worker
      if not slot.given_up and not (w and w.ops_ready) then return end
    end
    ready_sent = true
    notify('READY=1\nSTATUS=' .. #api.slots .. ' instances ready')
  end
  local function mark(w)
    w.ops_ready = true
    check()
  end
  cluster:on('listening', mark)
  cluster:on('message', function(w, m) if m == 'ready' then mark(w) end end)
  cluster:on('online', function(w)
    local t = timers.setTimeout(function() if not w:isDead() then mark(w) end end, READY_GRACE_MS)
    t:unref()
  end)
  ops.on('reloading', function()
    reloading = true
    notify('RELOADING=1')
  end)
  ops.on('reloaded', function()
    reloading = false
    ready_sent = false
    check()
  end)
  ops.on('stopping', function() notify('STOPPING=1') end)
end

return M
