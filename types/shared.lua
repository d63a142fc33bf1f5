---@meta shared
-- LuaCATS definitions for luster's `shared`: dictionaries shared by every
-- worker thread and every cluster process of one primary (or one
-- `luster -i`), like OpenResty's ngx.shared.DICT (docs/shared.md).

---@class shared.Dict
---@field name string the dictionary's name
local Dict = {}

---The value of `key` (string, number or boolean, as stored), or nil when it
---is absent or expired.
---@param key string
---@return string|number|boolean|nil
function Dict:get(key) end

---Store `value` (nil deletes) with an optional ttl in seconds (0 or nil:
---never expires).  `forcible` is true when other entries were evicted.
---@param key string
---@param value string|number|boolean|nil
---@param ttl? number
---@return boolean|nil ok, string|nil err, boolean forcible
function Dict:set(key, value, ttl) end

---Store only when `key` is absent: `nil, 'exists'` otherwise.
---@param key string
---@param value string|number|boolean
---@param ttl? number
---@return boolean|nil ok, string|nil err, boolean forcible
function Dict:add(key, value, ttl) end

---Store only when `key` is present: `nil, 'not found'` otherwise.
---@param key string
---@param value string|number|boolean
---@param ttl? number
---@return boolean|nil ok, string|nil err, boolean forcible
function Dict:replace(key, value, ttl) end

---Add `delta` atomically and return the new value; an absent key starts at
---`init + delta` (with `ttl`) when `init` is given, else `nil, 'not found'`;
---a non-number value gives `nil, 'not a number'`.
---@param key string
---@param delta number
---@param init? number
---@param ttl? number
---@return number|nil value, string|nil err, boolean forcible
function Dict:incr(key, delta, init, ttl) end

---Set `key` to `new` only if it holds `old` (nil: absent; `new` nil deletes).
---@param key string
---@param old string|number|boolean|nil
---@param new string|number|boolean|nil
---@param ttl? number
---@return boolean swapped, string|nil err, boolean forcible
function Dict:cas(key, old, new, ttl) end

---Remove `key`.
---@param key string
---@return boolean
function Dict:delete(key) end

---Seconds left before `key` expires (0: never), or `nil, 'not found'`.
---@param key string
---@return number|nil seconds, string|nil err
function Dict:ttl(key) end

---Give `key` a new ttl in seconds (0: never expires), or `nil, 'not found'`.
---@param key string
---@param ttl number
---@return boolean|nil ok, string|nil err
function Dict:expire(key, ttl) end

---Up to `max` keys that have not expired (default 1024, 0: all).
---@param max? integer
---@return string[]
function Dict:keys(max) end

---Remove every entry.
function Dict:flushAll() end

---Bytes the dictionary's heap has free (possibly fragmented).
---@return integer
function Dict:freeSpace() end

---The arena's size in bytes.
---@return integer
function Dict:capacity() end

---@class shared
local shared = {}

---The dictionary class (its methods above).
---@type shared.Dict
shared.Dict = Dict

---Create or attach the dictionary `name` of this process's scope (the
---primary and all its workers and threads).  `size` ('10m', '512k' or
---bytes; default '1m') counts only for whoever creates it.
---@param name string
---@param options? {size?: number|string}
---@return shared.Dict
function shared.dict(name, options) end

return shared
