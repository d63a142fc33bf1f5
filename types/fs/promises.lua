---@meta fs/promises
-- require('fs/promises') is fs.promises (types/fs.lua).
return require('fs').promises
