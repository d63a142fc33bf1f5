---@meta json
-- LuaCATS definitions for luster's `json` module (on lua-cjson).

---@class json
local json = {}

---JSON's null, distinct from Lua's nil (lua-cjson's `cjson.null`).
---@type lightuserdata
json.null = nil

---Encode a value as JSON: tables with keys 1..n are arrays, other tables
---objects; whole numbers up to 2^53 are written exactly.
---@param value any
---@return string
function json.encode(value) end

---Decode JSON text; raises a `SyntaxError`-coded error on bad input.
---@param text string
---@return any
function json.decode(text) end

---Alias of `encode` (JavaScript's `JSON.stringify`).
---@param value any
---@return string
function json.stringify(value) end

---Alias of `decode` (JavaScript's `JSON.parse`).
---@param text string
---@return any
function json.parse(text) end

return json
