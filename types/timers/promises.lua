---@meta timers/promises
-- require('timers/promises') is timers.promises (types/timers.lua).
return require('timers').promises
