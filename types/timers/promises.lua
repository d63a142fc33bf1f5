---@meta timers/promises
-- require('timers/promises') is timers.promises (types/timers.lua).
---@type timers.promises
local promises = require('timers').promises
return promises
