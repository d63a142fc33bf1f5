---@meta json
-- LuaCATS definitions for luster's `json` module (on lua-cjson).

---@class json
local json = {}

---JSON's null, distinct from Lua's nil (lua-cjson's `cjson.null`).
---@type lightuserdata
json.null = nil

---The metatable json.array puts on a table (`{__jsontype = 'array'}`,
---dkjson's convention: a table carrying it encodes as an array).
---@type table
json.array_mt = {}

---The metatable json.object puts on a table (`{__jsontype = 'object'}`).
---@type table
json.object_mt = {}

---A read-only value that encodes as `[]`.
---@type table
json.empty_array = {}

---Mark `t` (default a new table) as a JSON array, so that it encodes as
---`[]` even when empty (the mark is its metatable: one it had is replaced).
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---Mark `t` (default a new table) as a JSON object, so that it encodes as
---`{}` even when it is a list.
---@generic T: table
---@param t? T
---@return T
function json.object(t) end

---Encode a value as JSON: tables with keys 1..n are arrays, other tables
---objects; whole numbers up to 2^53 are written exactly.
---@param value any
---@return string
function json.encode(value) end

---Decode JSON text; raises ERR_INVALID_JSON on bad input, or with
---`{safe = true}` returns nil and the message.  Empty arrays come back
---marked (json.array), so `[]` read and written again stays `[]`.
---@param text string
---@param opts? {safe?: boolean}
---@return any value
---@return string? err
function json.decode(text, opts) end

---Alias of `encode` (JavaScript's `JSON.stringify`).
---@param value any
---@return string
function json.stringify(value) end

---Alias of `decode` (JavaScript's `JSON.parse`).
---@param text string
---@param opts? {safe?: boolean}
---@return any value
---@return string? err
function json.parse(text, opts) end

return json
