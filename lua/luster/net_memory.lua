--- luster.net_memory — handing the C heap's freed memory back to the OS
--- after connections churn (net.lua notes the churn).
---
--- A burst of connections coming and going (a pool filling, handshakes,
--- requests answered) frees C memory in between what stays: sockets, the
--- parsers and buffers of requests (freed by the collector), the resolver
--- threads' arenas.  That freed memory goes back to the OS at the end of
--- the two collector cycles that follow churn (a finalizer made again for
--- each, so a full collectgarbage() is followed by one), at most once every
--- TRIM_MS; without churn nothing runs.  Noting churn costs a counter.
local native = require('native.socket')

local TRIM_MS = 50
local cycles_since_churn, last_trim, armed = 2, -math.huge, false
local arm

local ms_now = require('timers')._loop_now

local function on_cycle_end()
  armed = false
  if cycles_since_churn >= 2 then return end
  cycles_since_churn = cycles_since_churn + 1
  local t = ms_now()
  if t - last_trim >= TRIM_MS then
    last_trim = t
    native.trim()
  end
  if cycles_since_churn < 2 then arm() end
end

arm = function()
  armed = true
  getmetatable(newproxy(true)).__gc = on_cycle_end
end

local function note_churn()
  cycles_since_churn = 0
  if not armed then arm() end
end

local M = {}
M.note_churn = note_churn
return M
