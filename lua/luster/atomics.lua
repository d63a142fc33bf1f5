--- luster.atomics — the `Atomics` global.
---
--- Every operation is a LuaJIT FFI call to a one-instruction C function in
--- runtime/shared_memory.c (lock xadd, cmpxchg, ...), so a loop of
--- `Atomics.add` compiles to a guard, a bounds check and a direct call.
--- wait/notify go to the block's waiter queue in C (and to a process-shared
--- futex once the SharedArrayBuffer has been sent to or from another
--- process); waitAsync registers a waiter on this state's libuv loop
--- (require('native.atomics')).
local ffi = require('ffi')
local bit = require('bit')
local buffers = require('luster.buffers')

local C = ffi.C
local cast, istype = ffi.cast, ffi.istype
local floor, huge = math.floor, math.huge
local type, tostring = type, tostring
local raise, detached_error = buffers._raise, buffers._detached_error

local INT_KINDS = { 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64' }
local CTYPES = {
  i8 = 'int8_t', u8 = 'uint8_t', i16 = 'int16_t', u16 = 'uint16_t',
  i32 = 'int32_t', u32 = 'uint32_t', i64 = 'int64_t', u64 = 'uint64_t',
}
local OPS = { 'load', 'store', 'add', 'sub', 'and', 'or', 'xor', 'exchange', 'cas' }

do
  local decls = {}
  for _, n in ipairs(INT_KINDS) do
    local T = CTYPES[n]
    for _, op in ipairs(OPS) do
      if op == 'load' then
        decls[#decls + 1] = ('%s lstr_atomic_load_%s(%s *p);'):format(T, n, T)
      elseif op == 'cas' then
        decls[#decls + 1] = ('%s lstr_atomic_cas_%s(%s *p, %s e, %s v);'):format(T, n, T, T, T)
      else
        decls[#decls + 1] = ('%s lstr_atomic_%s_%s(%s *p, %s v);'):format(T, op, n, T, T)
      end
    end
  end
  decls[#decls + 1] = [[
int lstr_atomic_wait(struct lstr_blockh *b, size_t off, int width, int64_t expected, double timeout_ms);
int lstr_atomic_notify(struct lstr_blockh *b, size_t off, double count);
]]
  ffi.cdef(table.concat(decls, '\n'))
end

-- kind descriptors of the integer views, by atom name
local K = {}
for _, k in ipairs(buffers._kinds) do
  if CTYPES[k.atom] then K[k.atom] = k end
end
local I32V, I64V, U32V, U8V = K.i32.ctype, K.i64.ctype, K.u32.ctype, K.u8.ctype
local I8V, I16V, U16V, U64V = K.i8.ctype, K.i16.ctype, K.u16.ctype, K.u64.ctype

--- The kind of an integer view; the istype chain folds to a constant in a
--- trace because the view's ctype is already guarded there.
local function int_kind(v)
  if type(v) == 'cdata' then
    if istype(I32V, v) then return K.i32 end
    if istype(I64V, v) then return K.i64 end
    if istype(U32V, v) then return K.u32 end
    if istype(U8V, v) then return K.u8 end
    if istype(I8V, v) then return K.i8 end
    if istype(I16V, v) then return K.i16 end
    if istype(U16V, v) then return K.u16 end
    if istype(U64V, v) then return K.u64 end
  end
  raise('ERR_INVALID_ARG_TYPE', ('Atomics: %s is not an integer typed array'):format(tostring(v)))
end

local function bad_index(v, i)
  raise('ERR_OUT_OF_RANGE', ('Atomics: index %s is out of range (length %d)'):format(tostring(i), #v))
end

-- Per kind: one closure per operation, with the element pointer type and the
-- C function as upvalues.
for _, n in ipairs(INT_KINDS) do
  local k = K[n]
  local PT = k.ptr
  local function cell(v, i)
    if type(i) ~= 'number' or not (i >= 0 and i < v._len) or i ~= floor(i) then bad_index(v, i) end
    local d = v._b._data
    if d == nil then detached_error('Atomics') end
    return cast(PT, d + v._off) + i
  end
  k.cell = cell
  local load = C['lstr_atomic_load_' .. n]
  k.load = function(v, i) return load(cell(v, i)) end
  for _, op in ipairs(OPS) do
    if op ~= 'load' and op ~= 'cas' then
      local f = C['lstr_atomic_' .. op .. '_' .. n]
      k[op] = function(v, i, x) return f(cell(v, i), x) end
    end
  end
  local cas = C['lstr_atomic_cas_' .. n]
  k.cas = function(v, i, e, x) return cas(cell(v, i), e, x) end
end

---@class luster.Atomics
local Atomics = {}

--- Read view[i] atomically.
---@param v ffi.cdata* an integer typed array
---@param i integer 0-based index
---@return number|ffi.cdata*
function Atomics.load(v, i) return int_kind(v).load(v, i) end

--- Write x to view[i] atomically; returns the value stored.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
function Atomics.store(v, i, x) return int_kind(v).store(v, i, x) end

--- view[i] += x; returns the old value.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
function Atomics.add(v, i, x) return int_kind(v).add(v, i, x) end

--- view[i] -= x; returns the old value.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
function Atomics.sub(v, i, x) return int_kind(v).sub(v, i, x) end

--- view[i] &= x; returns the old value.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
Atomics['and'] = function(v, i, x) return int_kind(v)['and'](v, i, x) end

--- view[i] |= x; returns the old value.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
Atomics['or'] = function(v, i, x) return int_kind(v)['or'](v, i, x) end

--- view[i] ^= x; returns the old value.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
function Atomics.xor(v, i, x) return int_kind(v).xor(v, i, x) end

--- view[i] = x; returns the old value.
---@param v ffi.cdata*
---@param i integer
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
function Atomics.exchange(v, i, x) return int_kind(v).exchange(v, i, x) end

--- If view[i] == expected then view[i] = x; returns the old value either way.
---@param v ffi.cdata*
---@param i integer
---@param expected number|ffi.cdata*
---@param x number|ffi.cdata*
---@return number|ffi.cdata*
function Atomics.compareExchange(v, i, expected, x) return int_kind(v).cas(v, i, expected, x) end

--- Whether operations on n-byte cells are lock-free (1, 2, 4, 8 on x86-64/arm64).
---@param n integer
---@return boolean
function Atomics.isLockFree(n) return n == 1 or n == 2 or n == 4 or n == 8 end

-- ------------------------------------------------------------ wait / notify

local RESULTS = { [0] = 'ok', 'not-equal', 'timed-out' }

--- Validate a wait target: an Int32Array/BigInt64Array over a
--- SharedArrayBuffer.  Returns kind, block, byte offset of the cell.
local function wait_target(v, i, need_shared)
  local k
  if type(v) == 'cdata' then
    if istype(I32V, v) then k = K.i32 elseif istype(I64V, v) then k = K.i64 end
  end
  if not k then
    raise('ERR_INVALID_ARG_TYPE', 'Atomics: expected an Int32Array or BigInt64Array, got ' .. tostring(v))
  end
  k.cell(v, i) -- bounds and detach check
  local b = v._b
  if need_shared and b._shared == 0 then
    raise('ERR_INVALID_ARG_TYPE', 'Atomics: ' .. k.name .. ' is not a shared typed array')
  end
  return k, b, v._off + i * k.size
end

local function timeout_of(t)
  if t == nil then return huge end
  t = tonumber(t)
  if t == nil or t ~= t then return huge end
  return t < 0 and 0 or t
end

--- Block this thread until view[i] is notified, unless it differs from value.
---@param v ffi.cdata* Int32Array or BigInt64Array over a SharedArrayBuffer
---@param i integer
---@param value number|ffi.cdata*
---@param timeoutMs? number default: forever
---@return 'ok'|'not-equal'|'timed-out'
function Atomics.wait(v, i, value, timeoutMs)
  local k, b, off = wait_target(v, i, true)
  local width = k.size
  local expected = width == 4 and bit.tobit(tonumber(value) or 0) or cast('int64_t', value)
  return RESULTS[C.lstr_atomic_wait(b, off, width, expected, timeout_of(timeoutMs))]
end

--- Wake up to `count` waiters on view[i] (all when nil); returns how many woke.
---@param v ffi.cdata*
---@param i integer
---@param count? integer
---@return integer
function Atomics.notify(v, i, count)
  local _, b, off = wait_target(v, i, false)
  if count == nil then count = -1
  else
    count = tonumber(count) or 0
    if count ~= count or count < 0 then count = 0 end
    if count == huge then count = -1 end
  end
  if b._shared == 0 then return 0 end
  return C.lstr_atomic_notify(b, off, count)
end

local native_atomics

--- Like wait, but never blocks: the result comes as a promise.
---@param v ffi.cdata*
---@param i integer
---@param value number|ffi.cdata*
---@param timeoutMs? number
---@return {async: boolean, value: any}
function Atomics.waitAsync(v, i, value, timeoutMs)
  local k, b, off = wait_target(v, i, true)
  local lo, hi
  if k.size == 4 then
    lo, hi = bit.tobit(tonumber(value) or 0), 0
  else
    local u = cast('uint64_t', cast('int64_t', value))
    lo, hi = tonumber(bit.band(u, 0xffffffffULL)), tonumber(bit.rshift(u, 32))
  end
  native_atomics = native_atomics or require('native.atomics')
  local resolve_fn
  local p = Promise.new(function(resolve) resolve_fn = resolve end)
  local r = native_atomics.wait_async(buffers._addr(b), off, k.size, lo, hi,
    timeout_of(timeoutMs), resolve_fn)
  if r == true then return { async = true, value = p } end
  return { async = false, value = r }
end

return Atomics
