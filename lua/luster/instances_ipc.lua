--- User messages under `luster -i`: an instance's process.send(msg)
--- reaches the --primary hooks file:
---
---   -- hooks.lua, run in the primary as a chunk; `...` is the primary handle
---   local primary = ...
---   return {
---     message = function(instance, msg, primary) ... end,  -- instance = {id=, pid=, send=}
---   }
---
--- primary.broadcast(msg) sends msg to every live instance and returns how
--- many got it; primary.instances() lists them.  Without hooks a message is
--- not dropped in silence: the primary warns once per instance index.
--- The string 'ready' is the instances' readiness signal, not a user message.
local cluster = require('luster.cluster_primary')

local M = {}

local function handle_of(w)
  return {
    id = w.slot and w.slot.index, worker = w.id, pid = w.process.pid,
    send = function(msg) return w:send(msg) end,
  }
end

function M.attach(api, ops, hooks_path)
  local primary = {}
  function primary.instances()
    local list = {}
    for _, slot in ipairs(api.slots) do
      local w = slot.worker
      if w and not w:isDead() then list[#list + 1] = handle_of(w) end
    end
    return list
  end
  function primary.broadcast(msg)
    local n = 0
    for _, slot in ipairs(api.slots) do
      local w = slot.worker
      if w and w:isConnected() and not w.stopping then
        w:send(msg)
        n = n + 1
      end
    end
    return n
  end
  api.primary = primary

  local hooks
  if hooks_path then
    local chunk, err = loadfile(hooks_path)
    if not chunk then ops.fatal('--primary %s: %s', hooks_path, tostring(err)) end
    local ok, res = pcall(chunk, primary)
    if not ok then ops.fatal('--primary %s: %s', hooks_path, tostring(res)) end
    if type(res) ~= 'table' then ops.fatal('--primary %s must return a table of hooks', hooks_path) end
    hooks = res
  end

  local warned = {}
  cluster:on('message', function(w, msg)
    if msg == 'ready' then return end
    if hooks and type(hooks.message) == 'function' then
      local ok, err = pcall(hooks.message, handle_of(w), msg, primary)
      if not ok then api.log('--primary hooks: message handler failed: %s', tostring(err)) end
      return
    end
    local index = w.slot and w.slot.index or -1
    if not warned[index] then
      warned[index] = true
      api.log('instance %d (worker %d, pid %d) sent a message but no --primary hooks.lua handles messages;'
        .. ' this and later ones from it are ignored', index, w.id, w.process.pid)
    end
  end)
end

return M
