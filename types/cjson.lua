---@meta cjson
-- LuaCATS definitions for lua-cjson 2.1 (Debian's lua-cjson), which
-- `require('cjson')` loads from package.cpath.

---@class cjson
local cjson = {}

---@type string
cjson._NAME = 'cjson'
---@type string
cjson._VERSION = '2.1.0'
---@type lightuserdata
cjson.null = nil

---@param value any
---@return string
function cjson.encode(value) end

---@param text string
---@return any
function cjson.decode(text) end

---A new, independent instance with its own settings.
---@return cjson
function cjson.new() end

---@param convert? boolean|'on'|'off'
---@param ratio? integer
---@param safe? integer
function cjson.encode_sparse_array(convert, ratio, safe) end

---@param depth? integer
function cjson.encode_max_depth(depth) end

---@param depth? integer
function cjson.decode_max_depth(depth) end

---@param precision? integer
function cjson.encode_number_precision(precision) end

---@param keep? boolean|'on'|'off'
function cjson.encode_keep_buffer(keep) end

---@param setting? boolean|'on'|'off'|'null'
function cjson.encode_invalid_numbers(setting) end

---@param setting? boolean|'on'|'off'
function cjson.decode_invalid_numbers(setting) end

return cjson
