--- Process warnings (Node's `process.emitWarning` and the 'warning' event).
---
--- A warning is an error-shaped table `{name=, message=, code=, stack=}`.
--- As in Node it is delivered on the next tick, so the code that caused it
--- finishes first: process 'warning' listeners get it, and it is printed
--- to stderr as `(luster:PID) Name: message`, listeners or not.
local sched = require('luster.scheduler')
local errors = require('luster.errors')

local M = {}

---@class Warning
---@field name string e.g. 'MaxListenersExceededWarning'
---@field message string
---@field code? string
local Warning = {}
Warning.__index = Warning
Warning.__tostring = function(w) return tostring(w.name) .. ': ' .. tostring(w.message) end
M.Warning = Warning

--- A new warning table (its stack starts at the caller of new).
---@return Warning
function M.new(name, message, code)
  local w = setmetatable({ name = name or 'Warning', message = message, code = code }, Warning)
  w.stack = debug.traceback(tostring(w), 2)
  return w
end

local function deliver(w)
  local process = package.loaded['process']
  local text = ('(luster:%d) %s%s: %s\n'):format(process and process.pid or 0,
    w.code and ('[' .. tostring(w.code) .. '] ') or '', tostring(w.name), tostring(w.message))
  if w.detail then text = text .. tostring(w.detail) .. '\n' end
  require('native.process').write(2, text)
  if process then process:emit('warning', w) end
end

--- `process.emitWarning(warning[, type[, code]])` or
--- `process.emitWarning(warning, {type=, code=, detail=})`; `warning` is a
--- string or a table (then it is delivered as it is).
function M.emit(warning, kind, code)
  local w = warning
  if type(warning) == 'string' then
    local detail
    if type(kind) == 'table' then kind, code, detail = kind.type, kind.code, kind.detail end
    if kind ~= nil and type(kind) ~= 'string' then errors.check_type(kind, 'type', 'string') end
    w = M.new(kind, warning, code)
    w.stack = debug.traceback(tostring(w), 2)
    w.detail = detail
  elseif type(warning) ~= 'table' then
    error(errors.new('ERR_INVALID_ARG_TYPE',
      'The "warning" argument must be of type string or table. Received ' .. type(warning), 2), 2)
  end
  sched.next_tick(deliver, w)
end

return M
