--- Runtime errors: tables {code=, message=, stack=} that print as
--- `code: message`, like Node's `err.code` + `err.message`.
local M = {}

---@class LusterError
---@field code string Node's error code, e.g. 'ERR_WORKER_OUT_OF_MEMORY'
---@field message string
---@field stack string `code: message` followed by the Lua traceback
local Error = {}
Error.__index = Error
Error.__tostring = function(e)
  if e.code then return tostring(e.code) .. ': ' .. tostring(e.message) end
  return tostring(e.message)
end
M.Error = Error

local traceback = debug.traceback

--- A new error table.  `level` is where the traceback starts (default: the
--- caller of new).
---@param code string
---@param message string
---@param level? integer
---@return LusterError
function M.new(code, message, level)
  local e = setmetatable({ code = code, message = message }, Error)
  -- the frames below a runtime callback (xpcall, the scheduler) are noise
  e.stack = traceback(tostring(e), (level or 1) + 1):gsub("\n\t%[C%]: in function 'xpcall'.*$", '')
  return e
end

--- Raise a new error at the caller's level.
---@param code string
---@param fmt string
function M.throw(code, fmt, ...)
  error(M.new(code, select('#', ...) > 0 and fmt:format(...) or fmt, 2), 2)
end

--- Whether a value is a runtime error table.
function M.is(e) return getmetatable(e) == Error end

--- Raise `ERR_INVALID_ARG_TYPE` unless `value` has Lua type `want`.
---@param value any
---@param name string the argument's name, as the message shows it
---@param want string
function M.check_type(value, name, want)
  local got = type(value)
  if got ~= want then
    error(M.new('ERR_INVALID_ARG_TYPE',
      ('The "%s" argument must be of type %s. Received %s'):format(name, want, got), 2), 3)
  end
end

-- The name of a value that cannot speak for itself: `table: 0x...`,
-- whatever its metatable does.
local function plain_name(v)
  local t = type(v)
  if t == 'table' or t == 'userdata' or t == 'function' or t == 'thread' or t == 'cdata' then
    return ('%s: %p'):format(t, v)
  end
  return t
end

--- tostring that never raises: a value whose __tostring raises or returns
--- something other than a string is named by its type and address.
---@param value any
---@return string
function M.tostring(value)
  local ok, s = pcall(tostring, value)
  if ok and type(s) == 'string' then return s end
  return plain_name(value)
end
local safe_tostring = M.tostring

local function describe(value, trace, origin)
  if origin == 'unhandledRejection' then
    return 'Uncaught (in promise) ' .. M.describe(value, trace)
  end
  if type(value) == 'table' then
    if type(value.stack) == 'string' then return value.stack end
    local mt = getmetatable(value)
    if type(mt) == 'table' and mt.__tostring then return tostring(value) .. (trace and ('\n' .. trace) or '') end
    return require('luster.inspect').inspect(value) .. (trace and ('\n' .. trace) or '')
  end
  return tostring(value) .. (trace and ('\n' .. trace) or '')
end

--- Text for an error value nobody handled: its stack when it has one.
--- Never raises, whatever the value's metatable does (a "strict" table
--- whose __index raises on a missing key, a __tostring that raises): the
--- report of an error must not become a second, fatal one.
---@param value any the error value
---@param trace? string traceback captured where it was raised
---@param origin? string 'unhandledRejection' for a promise nobody handled
---@return string
function M.describe(value, trace, origin)
  local ok, s = pcall(describe, value, trace, origin)
  if ok and type(s) == 'string' then return s end
  -- the value fought back: say what it is and why it could not be printed
  local stack = type(value) == 'table' and rawget(value, 'stack')
  local text = type(stack) == 'string' and stack
    or (plain_name(value) .. ' (could not be printed: ' .. safe_tostring(s) .. ')')
  if origin == 'unhandledRejection' then text = 'Uncaught (in promise) ' .. text end
  if type(trace) == 'string' and text ~= stack then text = text .. '\n' .. trace end
  return text
end

return M
