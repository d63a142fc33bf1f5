--- luster.bytes — the one place that turns "data" into bytes.
---
--- The contract: binary data is a Lua string unless a typed array or an
--- (Shared)ArrayBuffer is given, and every function that takes data takes
--- either.  Modules call `bytes.of(data, name)` at their boundary and work on
--- strings from there on (a view's bytes are copied once, with ffi.string).
local ffi = require('ffi')
local errors = require('luster.errors')

local M = {}

local buffers   -- loaded on first non-string input, like clone does
local function kinds()
  buffers = buffers or require('luster.buffers')
  return buffers
end

--- The bytes of `data`: a string as is, a typed array's viewed bytes, an
--- ArrayBuffer's or SharedArrayBuffer's whole contents.  Numbers become
--- their decimal text (as Lua's own string functions do); anything else
--- raises ERR_INVALID_ARG_TYPE naming `name`.
---@param data string|ffi.cdata*|number
---@param name? string the argument's name for the error message
---@return string
function M.of(data, name)
  local t = type(data)
  if t == 'string' then return data end
  if t == 'number' then return tostring(data) end
  if t == 'cdata' then
    local b = kinds()
    local k = b._kind_of(data)
    if k then
      local d = data._b._data
      if d == nil then return '' end
      return ffi.string(d + data._off, data._len * k.size)
    end
    local ok, bytes = pcall(function() return data._bytes end)
    if ok and bytes then
      if data._data == nil then return '' end
      return ffi.string(data._data, bytes)
    end
  end
  error(errors.new('ERR_INVALID_ARG_TYPE',
    ('The "%s" argument must be of type string or an instance of ArrayBuffer or TypedArray. Received %s')
      :format(name or 'data', t)), 3)
end

--- A new Uint8Array holding a copy of the string `s`.
---@param s string
---@return ffi.cdata*
function M.to_uint8array(s)
  local a = kinds().Uint8Array(#s)
  if #s > 0 then ffi.copy(a._b._data + a._off, s, #s) end
  return a
end

return M
