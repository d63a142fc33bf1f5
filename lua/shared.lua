--- `shared`: dictionaries shared by every thread and every cluster process
--- of one primary (or of one `luster -i`), like OpenResty's ngx.shared.DICT.
---
---   local cache = require('shared').dict('cache', { size = '10m' })
---   cache:set('k', 'v', 60)  --> true, nil, forcible
---   cache:incr('hits', 1, 0) --> 1
---
--- Each method is one LuaJIT FFI call into runtime/shared_dict_ops.c (no Lua
--- C API on the way), so a `get` compiles to a hash, a lock and a copy.
--- docs/shared.md says how the arena is built and found.
local ffi = require('ffi')
local errors = require('luster.errors')
local native = require('native.shared_dict')

local C = ffi.C
local type, tostring, floor = type, tostring, math.floor
local ffi_string = ffi.string

ffi.cdef [[
typedef struct lstr_sdict lstr_sdict;
typedef struct lstr_sdict_res { double num; size_t len; int32_t type; int32_t forcible; } lstr_sdict_res;
lstr_sdict *lstr_sdict_open(const char *name, double size, int scope, char *err, size_t errlen);
void lstr_sdict_close(lstr_sdict *d);
int lstr_sdict_get(lstr_sdict *d, const char *k, size_t kl, lstr_sdict_res *r, char *buf, size_t cap);
int lstr_sdict_store(lstr_sdict *d, int mode, const char *k, size_t kl, int type, const char *s,
                     size_t sl, double num, double ttl, lstr_sdict_res *r);
int lstr_sdict_incr(lstr_sdict *d, const char *k, size_t kl, double delta, int has_init, double init,
                    double ttl, lstr_sdict_res *r);
int lstr_sdict_cas(lstr_sdict *d, const char *k, size_t kl, int otype, const char *os, size_t osl,
                   double onum, int ntype, const char *ns, size_t nsl, double nnum, double ttl,
                   lstr_sdict_res *r);
int lstr_sdict_delete(lstr_sdict *d, const char *k, size_t kl);
int lstr_sdict_ttl(lstr_sdict *d, const char *k, size_t kl, lstr_sdict_res *r);
int lstr_sdict_expire(lstr_sdict *d, const char *k, size_t kl, double ttl);
int lstr_sdict_keys(lstr_sdict *d, int max, char *buf, size_t cap, lstr_sdict_res *r);
void lstr_sdict_flush_all(lstr_sdict *d);
double lstr_sdict_free_space(lstr_sdict *d);
double lstr_sdict_capacity(lstr_sdict *d);
int lstr_sdict_check(lstr_sdict *d);
int lstr_sdict_debug_die_holding(lstr_sdict *d, const char *k, size_t kl);
]]

local NIL, NUMBER, BOOLEAN, STRING = 0, 1, 2, 3
local SET, ADD, REPLACE = 0, 1, 2
local ERRS = { [-1] = 'not found', [-2] = 'exists', [-3] = 'not a number', [-4] = 'no memory' }
local ESMALL = -5
local MAX_KEY = 65535

-- One result struct and one copy buffer per Lua state: a call never yields,
-- so nothing else in this state can use them in between.
local res = ffi.new('lstr_sdict_res')
local cap = 4096
local buf = ffi.new('char[?]', cap)
local function grow(n)
  while cap < n do cap = cap * 2 end
  buf = ffi.new('char[?]', cap)
end

local function bad_arg(name, want, v)
  errors.throw('ERR_INVALID_ARG_TYPE', 'The "%s" argument must be %s. Received %s', name, want, type(v))
end

--- Key check: strings (numbers are turned into strings, as OpenResty does).
local function check_key(key)
  local t = type(key)
  if t == 'number' then key = tostring(key)
  elseif t ~= 'string' then bad_arg('key', 'a string', key) end
  if #key == 0 then return nil, 'empty key' end
  if #key > MAX_KEY then return nil, 'key too long' end
  return key
end

local function check_ttl(ttl, name)
  if ttl == nil then return 0 end
  if type(ttl) ~= 'number' then bad_arg(name or 'ttl', 'a number', ttl) end
  if not (ttl >= 0) then
    errors.throw('ERR_OUT_OF_RANGE', 'The "%s" argument must be >= 0. Received %s', name or 'ttl', tostring(ttl))
  end
  return ttl
end

--- A value's type code, string, number.
local function encode(v, name)
  local t = type(v)
  if t == 'string' then return STRING, v, #v, 0 end
  if t == 'number' then return NUMBER, nil, 0, v end
  if t == 'boolean' then return BOOLEAN, nil, 0, v and 1 or 0 end
  if v == nil then return NIL, nil, 0, 0 end
  bad_arg(name or 'value', 'a string, number, boolean or nil', v)
end

---@class shared.Dict
---@field name string
local Dict = {}
Dict.__index = Dict

-- A string value larger than the copy buffer: grow it and ask again (kept
-- out of Dict:get so that get has no loop and compiles into its caller).
local function get_large(d, key)
  while true do
    grow(tonumber(res.len))
    local t = C.lstr_sdict_get(d, key, #key, res, buf, cap)
    if t ~= ESMALL then return t end
  end
end

--- The value of key, or nil when it is absent or expired.
---@param key string
---@return string|number|boolean|nil
function Dict:get(key)
  if type(key) ~= 'string' or #key == 0 or #key > MAX_KEY then
    local k, err = check_key(key)
    if not k then return nil, err end
    key = k
  end
  local t = C.lstr_sdict_get(self._d, key, #key, res, buf, cap)
  if t == NUMBER then return res.num end
  if t == STRING then return ffi_string(buf, res.len) end
  if t == NIL then return nil end
  if t == BOOLEAN then return res.num ~= 0 end
  if get_large(self._d, key) == STRING then return ffi_string(buf, res.len) end
  return self:get(key) -- it changed type meanwhile
end

local function store(self, mode, key, value, ttl)
  local k, kerr = check_key(key)
  if not k then return nil, kerr, false end
  local t, s, sl, num = encode(value)
  local rc = C.lstr_sdict_store(self._d, mode, k, #k, t, s, sl, num, check_ttl(ttl), res)
  local forcible = res.forcible ~= 0
  if rc == 0 then return true, nil, forcible end
  return nil, ERRS[rc], forcible
end

--- Store value (nil deletes); ttl in seconds, 0 or nil = never expires.
---@return boolean|nil ok, string|nil err, boolean forcible
function Dict:set(key, value, ttl) return store(self, SET, key, value, ttl) end
--- Store only when the key is absent: `nil, 'exists'` otherwise.
function Dict:add(key, value, ttl) return store(self, ADD, key, value, ttl) end
--- Store only when the key is present: `nil, 'not found'` otherwise.
function Dict:replace(key, value, ttl) return store(self, REPLACE, key, value, ttl) end

--- Add delta to a number atomically; returns the new value.  An absent key
--- with `init` starts at init + delta (and gets `ttl`), without it is
--- `nil, 'not found'`.
---@return number|nil value, string|nil err, boolean forcible
function Dict:incr(key, delta, init, ttl)
  if type(key) ~= 'string' or #key == 0 or #key > MAX_KEY then
    local k, err = check_key(key)
    if not k then return nil, err, false end
    key = k
  end
  if type(delta) ~= 'number' then bad_arg('delta', 'a number', delta) end
  local has_init = 0
  if init ~= nil then
    if type(init) ~= 'number' then bad_arg('init', 'a number', init) end
    has_init = 1
  else
    init = 0
  end
  if ttl ~= nil then ttl = check_ttl(ttl) else ttl = 0 end
  local rc = C.lstr_sdict_incr(self._d, key, #key, delta, has_init, init, ttl, res)
  if rc == 0 then return res.num, nil, res.forcible ~= 0 end
  return nil, ERRS[rc], res.forcible ~= 0
end

--- Set key to new only if it holds old (nil = absent; new nil deletes).
---@return boolean swapped, string|nil err, boolean forcible
function Dict:cas(key, old, new, ttl)
  local k, kerr = check_key(key)
  if not k then return nil, kerr, false end
  local ot, os, osl, onum = encode(old, 'old')
  local nt, ns, nsl, nnum = encode(new, 'new')
  local rc = C.lstr_sdict_cas(self._d, k, #k, ot, os, osl, onum, nt, ns, nsl, nnum, check_ttl(ttl), res)
  if rc == 1 then return true, nil, res.forcible ~= 0 end
  if rc == 0 then return false end
  return nil, ERRS[rc], res.forcible ~= 0
end

---@return boolean
function Dict:delete(key)
  local k, kerr = check_key(key)
  if not k then return nil, kerr end
  C.lstr_sdict_delete(self._d, k, #k)
  return true
end

--- Seconds left before key expires (0: never), or `nil, 'not found'`.
function Dict:ttl(key)
  local k, kerr = check_key(key)
  if not k then return nil, kerr end
  local rc = C.lstr_sdict_ttl(self._d, k, #k, res)
  if rc == 0 then return res.num end
  return nil, ERRS[rc]
end

--- Give key a new ttl (0: never expires), or `nil, 'not found'`.
function Dict:expire(key, ttl)
  local k, kerr = check_key(key)
  if not k then return nil, kerr end
  local rc = C.lstr_sdict_expire(self._d, k, #k, check_ttl(ttl))
  if rc == 0 then return true end
  return nil, ERRS[rc]
end

--- Up to max keys (default 1024, 0 = all) that have not expired.
---@param max? integer
---@return string[]
function Dict:keys(max)
  max = max == nil and 1024 or max
  if type(max) ~= 'number' or max < 0 or max ~= floor(max) then bad_arg('max', 'a non-negative integer', max) end
  local n
  while true do
    n = C.lstr_sdict_keys(self._d, max, buf, cap, res)
    if n ~= ESMALL then break end
    grow(tonumber(res.len))
  end
  local out, pos = {}, 0
  for i = 1, n do
    local len = buf[pos] % 256 + (buf[pos + 1] % 256) * 256
    out[i] = ffi_string(buf + pos + 2, len)
    pos = pos + 2 + len
  end
  return out
end

--- Remove every entry.
function Dict:flushAll() C.lstr_sdict_flush_all(self._d) end
--- Bytes the heap has free (in blocks that may be fragmented).
function Dict:freeSpace() return C.lstr_sdict_free_space(self._d) end
--- The arena's size in bytes.
function Dict:capacity() return C.lstr_sdict_capacity(self._d) end
--- Check every internal invariant (specs): true, or false and a step number.
function Dict:_check()
  local rc = C.lstr_sdict_check(self._d)
  return rc == 0, rc
end

--- Specs only: begin a store of key and keep its locks (then get killed).
function Dict:_die_holding(key) return C.lstr_sdict_debug_die_holding(self._d, key, #key) end

local M = {}
local opened = {}

local UNITS = { [''] = 1, b = 1, k = 1024, m = 1024 * 1024, g = 1024 * 1024 * 1024 }

local function parse_size(size)
  if size == nil then return 1024 * 1024 end
  if type(size) == 'number' then return size end
  if type(size) ~= 'string' then bad_arg('options.size', 'a number or a string like "10m"', size) end
  local n, unit = size:lower():match('^%s*(%d+%.?%d*)%s*([bkmg]?)%s*$')
  if not n then errors.throw('ERR_INVALID_ARG_VALUE', 'options.size %q is not a size like "512k" or "10m"', size) end
  return tonumber(n) * UNITS[unit]
end

--- Create or attach the dictionary `name` of this process's scope.  The
--- size (default '1m') counts only for whoever creates it.
---@param name string
---@param options? {size?: number|string}
---@return shared.Dict
function M.dict(name, options)
  if type(name) ~= 'string' or #name == 0 then bad_arg('name', 'a non-empty string', name) end
  if options ~= nil and type(options) ~= 'table' then bad_arg('options', 'a table', options) end
  local d = opened[name]
  if d then return d end
  local size = parse_size(options and options.size)
  local scope = native.scope()
  local err = ffi.new('char[256]')
  local h = C.lstr_sdict_open(name, size, scope, err, 256)
  if h == nil then errors.throw('ERR_SHARED_DICT', 'shared.dict(%q): %s', name, ffi_string(err)) end
  d = setmetatable({ name = name, _d = ffi.gc(h, C.lstr_sdict_close) }, Dict)
  opened[name] = d
  return d
end

M.Dict = Dict
return M
