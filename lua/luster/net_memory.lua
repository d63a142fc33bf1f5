--- luster.net_memory — handing freed heap memory back to the OS after a
--- burst (net.lua notes connections coming and going).
---
--- A burst of connections or requests frees memory in between what stays:
--- sockets and pooled state live on, while the requests' parsers, buffers
--- and Lua objects die.  The allocator (jemalloc, runtime/state.c) keeps
--- such pages until told to purge them, so `lstr_heap_trim` runs at the end
--- of a collector cycle (a finalizer made again for each) when
---   - connections came or went within the two cycles before (C memory the
---     Lua heap does not show: sockets, parsers, resolver threads' arenas),
---   - or the Lua heap a cycle leaves is well below the largest one since
---     the last trim (the burst's objects died a few cycles later),
--- (the first at most once every TRIM_MS).  Without a burst it costs a
--- counter per churn and a comparison per cycle.  Nothing runs before the first
--- connection.
local native = require('native.socket')

local TRIM_MS = 50
local SHRINK_KIB = 4096 -- a smaller drop is ordinary collector breathing

local cycles_since_churn, last_trim, armed = 2, -math.huge, false
local heap_peak = 0 -- KiB: the largest heap a cycle left since the last trim
local arm

local ms_now = require('timers')._loop_now
local heap_kib = collectgarbage

local function on_cycle_end()
  arm()
  local heap = heap_kib('count')
  if heap > heap_peak then heap_peak = heap end
  local churned = cycles_since_churn < 2
  if churned then cycles_since_churn = cycles_since_churn + 1 end
  -- a drop this large needs a burst since the last trim: it never repeats
  -- quickly, so it waits for no TRIM_MS
  local shrank = heap_peak - heap > SHRINK_KIB and heap < heap_peak * 0.75
  local t = ms_now()
  if shrank or (churned and t - last_trim >= TRIM_MS) then
    last_trim = t
    heap_peak = heap
    native.trim()
  end
end

arm = function()
  getmetatable(newproxy(true)).__gc = on_cycle_end
end

local function note_churn()
  cycles_since_churn = 0
  if not armed then
    armed = true
    arm()
  end
end

local M = {}
M.note_churn = note_churn
return M
