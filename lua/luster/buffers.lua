--- luster.buffers — ArrayBuffer, SharedArrayBuffer and the typed-array views.
---
--- The bytes live in C blocks (runtime/shared_memory.c), reference counted
--- across threads; a SharedArrayBuffer's are a memfd mapping, so cluster IPC
--- can send them to another process.  Lua holds them through FFI cdata:
---   * a buffer is a `struct lstr_sab *` / `struct lstr_ab *` pointing at the
---     block header, with an ffi.gc finalizer that drops its reference;
---   * a view is a small struct {block, byteOffset, length}, one ctype per
---     element type, whose metatype __gc drops its reference.
--- Views read the block header's data pointer on every access: a transfer
--- clears that pointer, which detaches every view of the buffer at once.
--- Indexing is a metatype __index/__newindex on a cdata, which LuaJIT
--- compiles into the trace (no table lookups on the hot path).
local ffi = require('ffi')
local bit = require('bit')

local C = ffi.C
local cast, istype = ffi.cast, ffi.istype
local floor, huge = math.floor, math.huge
local type, tonumber, tostring = type, tonumber, tostring

ffi.cdef [[
struct lstr_blockh { uint8_t *_data; size_t _bytes; int32_t _shared; int32_t _flags; };
struct lstr_sab    { uint8_t *_data; size_t _bytes; int32_t _shared; int32_t _flags; };
struct lstr_ab     { uint8_t *_data; size_t _bytes; int32_t _shared; int32_t _flags; };
struct lstr_blockh *lstr_block_new(double nbytes, int shared);
struct lstr_blockh *lstr_block_retain(void *b);
void lstr_block_release(void *b);
void lstr_block_mark_untransferable(void *b);
void lstr_block_move(void *dst, const void *src, size_t n);
]]

local DETACHED = 1

---@class luster.buffers
local M = {}
-- Helpers for atomics.lua, clone hooks and worker_threads live behind
-- __index, so that `pairs(require('luster.buffers'))` yields only the
-- constructors the contract puts in _G.
local internal = {}
setmetatable(M, { __index = internal })

-- ------------------------------------------------------------------ errors

local errors do
  local ok, e = pcall(require, 'luster.errors')
  if ok and type(e) == 'table' and e.new then errors = e end
end

local ErrorMT = { __tostring = function(e) return e.code .. ': ' .. e.message end }

--- Raise a runtime error table {code=, message=, stack=}.
---@param code string
---@param msg string
local function raise(code, msg)
  if errors then error(errors.new(code, msg), 0) end
  error(setmetatable({ code = code, message = msg, stack = debug.traceback(msg, 2) }, ErrorMT), 0)
end
internal._raise = raise

local function range_error(msg) raise('ERR_OUT_OF_RANGE', msg) end
local function type_error(msg) raise('ERR_INVALID_ARG_TYPE', msg) end
local function detached_error(what)
  raise('ERR_INVALID_STATE', 'Cannot perform ' .. (what or 'access') .. ' on a detached ArrayBuffer')
end
internal._detached_error = detached_error

-- ----------------------------------------------------------------- buffers

local BLOCKP = ffi.typeof('struct lstr_blockh *')
local SABP = ffi.typeof('struct lstr_sab *')
local ABP = ffi.typeof('struct lstr_ab *')

local function is_sab(x) return type(x) == 'cdata' and istype(SABP, x) end
local function is_ab(x) return type(x) == 'cdata' and istype(ABP, x) end

--- Check a byte/element count argument (a non-negative integer).
local function check_size(n, name)
  if type(n) ~= 'number' or n < 0 or n ~= floor(n) or n >= 2 ^ 53 then
    range_error(('Invalid %s: %s'):format(name, tostring(n)))
  end
  return n
end

--- A new block with one reference owned by the caller.
local function alloc(nbytes, shared)
  local b = C.lstr_block_new(nbytes, shared and 1 or 0)
  if b == nil then range_error('Array buffer allocation failed') end
  return b
end

--- Wrap a block in a buffer handle; the handle takes over one reference.
local function wrap_buffer(b, shared)
  return ffi.gc(cast(shared and SABP or ABP, b), C.lstr_block_release)
end

local function bytes_of(b) return b._data ~= nil and tonumber(b._bytes) or 0 end

--- JS relative index: negative counts from the end, clamped to [0, len].
local function rel(x, len, default)
  if x == nil then return default end
  x = tonumber(x) or 0
  if x ~= x then return 0 end
  x = x < 0 and math.ceil(x) or floor(x) -- truncate toward zero, as JS
  if x < 0 then x = len + x; if x < 0 then x = 0 end
  elseif x > len then x = len end
  return x
end

local buffer_getters = {
  byteLength = function(h) return bytes_of(h) end,
  detached = function(h) return bit.band(h._flags, DETACHED) ~= 0 end,
}

local function buffer_methods(shared)
  local methods = {}
  --- Copy bytes [b, e) into a new buffer of the same kind.
  ---@param b? integer
  ---@param e? integer
  function methods.slice(h, b, e)
    if h._data == nil then detached_error('ArrayBuffer.prototype.slice') end
    local len = tonumber(h._bytes)
    b, e = rel(b, len, 0), rel(e, len, len)
    local n = e > b and e - b or 0
    local nb = alloc(n, shared)
    if n > 0 then ffi.copy(nb._data, h._data + b, n) end
    return wrap_buffer(nb, shared)
  end
  return methods
end

local function buffer_mt(name, shared)
  local methods = buffer_methods(shared)
  return {
    __index = function(h, k)
      local g = buffer_getters[k]
      if g then return g(h) end
      return methods[k]
    end,
    __len = function(h) return bytes_of(h) end,
    __tostring = function(h)
      return ('%s { byteLength: %d }'):format(name, bytes_of(h))
    end,
  }
end
ffi.metatype('struct lstr_sab', buffer_mt('SharedArrayBuffer', true))
ffi.metatype('struct lstr_ab', buffer_mt('ArrayBuffer', false))

local function buffer_ctor(shared)
  local function new(n)
    n = check_size(n == nil and 0 or n, 'array buffer length')
    return wrap_buffer(alloc(n, shared), shared)
  end
  local ctor = setmetatable({ new = new }, { __call = function(_, ...) return new(...) end })
  return ctor
end

--- `SharedArrayBuffer(n)`: n zeroed bytes, shared with every state it is posted to.
M.SharedArrayBuffer = buffer_ctor(true)
--- `ArrayBuffer(n)`: n zeroed private bytes; transferable.
M.ArrayBuffer = buffer_ctor(false)

-- ------------------------------------------------------------------- views

local KINDS = {
  { 'Int8Array', 'int8_t', 1, 'i8' },
  { 'Uint8Array', 'uint8_t', 1, 'u8' },
  { 'Int16Array', 'int16_t', 2, 'i16' },
  { 'Uint16Array', 'uint16_t', 2, 'u16' },
  { 'Int32Array', 'int32_t', 4, 'i32' },
  { 'Uint32Array', 'uint32_t', 4, 'u32' },
  { 'Float32Array', 'float', 4, 'f32' },
  { 'Float64Array', 'double', 8, 'f64' },
  { 'BigInt64Array', 'int64_t', 8, 'i64' },
  { 'BigUint64Array', 'uint64_t', 8, 'u64' },
}

for _, k in ipairs(KINDS) do
  ffi.cdef(('struct lstr_view_%s { struct lstr_blockh *const _b; const double _off; const double _len; };'):format(k[4]))
end

--- kind descriptors by index (1..10) and by view ctype test
---@class luster.ViewKind
---@field name string
---@field index integer
---@field ctype ffi.ctype*  the view struct
---@field ptr ffi.ctype*    pointer to one element
---@field size integer      BYTES_PER_ELEMENT
---@field atom string       suffix of the lstr_atomic_* C functions
local kinds = {}
internal._kinds = kinds

--- The kind descriptor of a view, or nil.
---@param v any
---@return luster.ViewKind|nil
local function kind_of(v)
  if type(v) ~= 'cdata' then return nil end
  for i = 1, #kinds do
    if istype(kinds[i].ctype, v) then return kinds[i] end
  end
  return nil
end
internal._kind_of = kind_of

local function view_len(v) return v._b._data ~= nil and v._len or 0 end

--- Make a view; it takes over one block reference (`b` already retained).
local function make_view(k, b, off, len) return k.ctype(b, off, len) end

local function new_view(k, a, off, len)
  local size = k.size
  if type(a) == 'number' or a == nil then
    local n = check_size(a == nil and 0 or a, 'typed array length')
    return make_view(k, alloc(n * size, false), 0, n)
  end
  if is_sab(a) or is_ab(a) then
    if a._data == nil then detached_error('construct') end
    local total = tonumber(a._bytes)
    off = off == nil and 0 or check_size(off, 'offset')
    if off % size ~= 0 then
      range_error(('start offset of %s should be a multiple of %d'):format(k.name, size))
    end
    if off > total then range_error(('Start offset %d is outside the bounds of the buffer'):format(off)) end
    if len == nil then
      if (total - off) % size ~= 0 then
        range_error(('byte length of %s should be a multiple of %d'):format(k.name, size))
      end
      len = (total - off) / size
    else
      len = check_size(len, 'typed array length')
      if off + len * size > total then range_error(('Invalid typed array length: %d'):format(len)) end
    end
    return make_view(k, C.lstr_block_retain(a), off, len)
  end
  local src_kind = kind_of(a)
  if src_kind or type(a) == 'table' then
    local n = src_kind and view_len(a) or #a
    local v = make_view(k, alloc(n * size, false), 0, n)
    local p = cast(k.ptr, v._b._data)
    if src_kind then
      local sp = cast(src_kind.ptr, a._b._data + a._off)
      for i = 0, n - 1 do p[i] = sp[i] end
    else
      for i = 1, n do p[i - 1] = a[i] end
    end
    return v
  end
  type_error(('%s: cannot construct from %s'):format(k.name, type(a)))
end

for index, spec in ipairs(KINDS) do
  local name, ctname, size, atom = spec[1], spec[2], spec[3], spec[4]
  local VT = ffi.typeof('struct lstr_view_' .. atom)
  local PT = ffi.typeof(ctname .. ' *')
  local k = { name = name, index = index, ctype = VT, ptr = PT, size = size, atom = atom }
  kinds[index] = k

  local methods, getters = {}, {}

  local function oob(i, v)
    range_error(('index %s is out of range for %s of length %d'):format(tostring(i), name, view_len(v)))
  end

  local mt = {}
  mt.__index = function(v, i)
    if type(i) == 'number' then
      local b = v._b
      if i >= 0 and i < v._len then
        local d = b._data
        if d ~= nil then return cast(PT, d + v._off)[i] end
        detached_error('read')
      end
      if b._data == nil then detached_error('read') end
      return nil
    end
    local g = getters[i]
    if g then return g(v) end
    return methods[i]
  end
  mt.__newindex = function(v, i, x)
    if type(i) == 'number' then
      local b = v._b
      if i >= 0 and i < v._len then
        local d = b._data
        if d ~= nil then cast(PT, d + v._off)[i] = x; return end
      end
      if b._data == nil then detached_error('write') end
      oob(i, v)
    end
    type_error(('cannot set field %s of %s'):format(tostring(i), name))
  end
  mt.__len = view_len
  mt.__gc = function(v) C.lstr_block_release(v._b) end
  mt.__tostring = function(v)
    local n = view_len(v)
    local parts = {}
    for i = 0, math.min(n, 100) - 1 do parts[#parts + 1] = tostring(v[i]):gsub('[ULL]+$', '') end
    if n > 100 then parts[#parts + 1] = ('... %d more items'):format(n - 100) end
    return ('%s(%d) [ %s ]'):format(name, n, table.concat(parts, ', '))
  end

  getters.length = view_len
  getters.byteLength = function(v) return view_len(v) * size end
  getters.byteOffset = function(v) return v._b._data ~= nil and v._off or 0 end
  getters.BYTES_PER_ELEMENT = function() return size end
  getters.buffer = function(v)
    return wrap_buffer(C.lstr_block_retain(v._b), v._b._shared ~= 0)
  end

  --- A view of elements [b, e) sharing this view's memory.
  ---@param b? integer start (negative: from the end)
  ---@param e? integer end, exclusive
  function methods.subarray(v, b, e)
    local len = view_len(v)
    b, e = rel(b, len, 0), rel(e, len, len)
    return make_view(k, C.lstr_block_retain(v._b), v._off + b * size, e > b and e - b or 0)
  end

  --- A copy of elements [b, e) in a new ArrayBuffer.
  ---@param b? integer
  ---@param e? integer
  function methods.slice(v, b, e)
    if v._b._data == nil then detached_error('slice') end
    local len = v._len
    b, e = rel(b, len, 0), rel(e, len, len)
    local n = e > b and e - b or 0
    local out = make_view(k, alloc(n * size, false), 0, n)
    if n > 0 then ffi.copy(out._b._data, v._b._data + v._off + b * size, n * size) end
    return out
  end

  --- Set elements [b, e) to x; returns the view.
  ---@param x number|ffi.cdata*
  ---@param b? integer
  ---@param e? integer
  function methods.fill(v, x, b, e)
    local d = v._b._data
    if d == nil then detached_error('fill') end
    local len = v._len
    b, e = rel(b, len, 0), rel(e, len, len)
    local p = cast(PT, d + v._off)
    for i = b, e - 1 do p[i] = x end
    return v
  end

  --- Copy a Lua array (1-based) or another view into this one at `offset`.
  ---@param src table|ffi.cdata*
  ---@param offset? integer
  function methods.set(v, src, offset)
    offset = offset == nil and 0 or check_size(offset, 'offset')
    local d = v._b._data
    if d == nil then detached_error('set') end
    local sk = kind_of(src)
    local n
    if sk then
      if src._b._data == nil then detached_error('set') end
      n = src._len
    elseif type(src) == 'table' then
      n = #src
    else
      type_error('set: source must be a table or a typed array')
    end
    if offset + n > v._len then range_error('offset is out of bounds') end
    local p = cast(PT, d + v._off)
    if sk == k then
      C.lstr_block_move(p + offset, src._b._data + src._off, n * size)
    elseif sk then
      local sp = cast(sk.ptr, src._b._data + src._off)
      local tmp = {}
      for i = 0, n - 1 do tmp[i] = sp[i] end -- the two may overlap
      for i = 0, n - 1 do p[offset + i] = tmp[i] end
    else
      for i = 1, n do p[offset + i - 1] = src[i] end
    end
  end

  --- Element i counted from the end when negative (JS `at`).
  ---@param i integer
  function methods.at(v, i)
    if i < 0 then i = view_len(v) + i end
    return v[i]
  end

  --- The elements as a 1-based Lua array.
  ---@return table
  function methods.toTable(v)
    local n, t = view_len(v), {}
    if n == 0 then return t end
    local p = cast(PT, v._b._data + v._off)
    for i = 0, n - 1 do t[i + 1] = p[i] end
    return t
  end

  ffi.metatype(VT, mt)

  local function new(a, off, len) return new_view(k, a, off, len) end
  local ctor = {
    new = new,
    BYTES_PER_ELEMENT = size,
    --- Build from a Lua array (1-based).
    from = function(t) return new_view(k, t) end,
    --- Build from the arguments.
    of = function(...) return new_view(k, { ... }) end,
  }
  M[name] = setmetatable(ctor, { __call = function(_, ...) return new(...) end })
end

--- True for any typed-array view.
---@param x any
---@return boolean
function M.ArrayBuffer.isView(x) return kind_of(x) ~= nil end

-- ---------------------------------------------------- structured clone hooks
-- runtime/clone.c walks values in C; for cdata it asks `classify`, and to
-- rebuild cdata in the receiving state it calls `make`.  Block addresses
-- cross as numbers (exact: user-space addresses are below 2^47).

local UINTPTR = ffi.typeof('uintptr_t')
local I64, U64 = ffi.typeof('int64_t'), ffi.typeof('uint64_t')
local function addr(p) return tonumber(cast(UINTPTR, p)) end

local function split64(x)
  local u = cast(U64, x)
  return tonumber(bit.band(u, 0xffffffffULL)), tonumber(bit.rshift(u, 32))
end

--- classify(x) -> 'sab'|'ab', block | 'view', block, kind, off, len |
---   'i64'|'u64', lo, hi | nil
local function classify(x)
  if istype(SABP, x) then return 'sab', addr(x) end
  if istype(ABP, x) then return 'ab', addr(x) end
  local k = kind_of(x)
  if k then return 'view', addr(x._b), k.index, x._off, x._len end
  if istype(I64, x) then return 'i64', split64(x) end
  if istype(U64, x) then return 'u64', split64(x) end
  return nil
end

--- make(tag, ...) is classify's inverse; it takes a new block reference.
local function make(tag, a, b, c, d)
  if tag == 'i64' or tag == 'u64' then
    local u = bit.bor(bit.lshift(cast(U64, b), 32), cast(U64, a))
    return tag == 'i64' and cast(I64, u) or u
  end
  local blk = C.lstr_block_retain(cast(BLOCKP, a))
  if tag == 'view' then return make_view(kinds[b], blk, c, d) end
  return wrap_buffer(blk, tag == 'sab')
end

do
  local ok, native = pcall(require, 'native.clone')
  if ok and type(native) == 'table' and native.set_cdata_hooks then
    native.set_cdata_hooks(classify, make)
  end
end

--- Mark an ArrayBuffer (or a view's buffer) as not transferable.
---@param x ffi.cdata*
function internal.markAsUntransferable(x)
  if is_ab(x) or is_sab(x) then C.lstr_block_mark_untransferable(x)
  elseif kind_of(x) then C.lstr_block_mark_untransferable(x._b) end
end

--- The block address of a SharedArrayBuffer-backed view (for native.atomics).
internal._addr = addr

return M
