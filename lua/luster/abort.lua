--- luster.abort — AbortController and AbortSignal (the globals), as in
--- Node: `controller:abort([reason])`, `signal.aborted`, `signal.reason`,
--- `signal:addEventListener('abort', fn)` (and `signal.onabort = fn`),
--- `signal:throwIfAborted()`, `AbortSignal.abort([reason])`,
--- `AbortSignal.timeout(ms)` (an unref'd timer: it never keeps the process
--- alive) and `AbortSignal.any{signals...}`.
--- The default reason is an error named 'AbortError' (code 'ABORT_ERR');
--- a timeout's is named 'TimeoutError' (code 'TIMEOUT_ERR').
local errors = require('luster.errors')

local M = {}

local function dom_error(name, code, message)
  local e = errors.new(code, message, 3)
  e.name = name
  return e
end

function M.abort_error(message)
  return dom_error('AbortError', 'ABORT_ERR', message or 'This operation was aborted')
end

function M.timeout_error()
  return dom_error('TimeoutError', 'TIMEOUT_ERR', 'The operation was aborted due to timeout')
end

---@class AbortSignal
local AbortSignal = {}
AbortSignal.__index = AbortSignal
AbortSignal.__name = 'AbortSignal'
M.AbortSignal = AbortSignal

local function new_signal()
  return setmetatable({ aborted = false, reason = nil, _listeners = {} }, AbortSignal)
end

--- Listen for 'abort'; opts.once removes the listener after one call.
function AbortSignal:addEventListener(kind, fn, opts)
  if kind ~= 'abort' or type(fn) ~= 'function' then return end
  for _, l in ipairs(self._listeners) do if l.fn == fn then return end end
  self._listeners[#self._listeners + 1] = { fn = fn, once = type(opts) == 'table' and opts.once }
end

function AbortSignal:removeEventListener(kind, fn)
  local ls = self._listeners
  for i = #ls, 1, -1 do if ls[i].fn == fn then table.remove(ls, i) end end
end

--- Raise the reason when aborted.
function AbortSignal:throwIfAborted()
  if self.aborted then error(self.reason, 2) end
end

-- Mark aborted and tell every listener once (in the order they were added).
local function fire(self, reason)
  if self.aborted then return end
  self.aborted = true
  self.reason = reason == nil and M.abort_error() or reason
  local event = { type = 'abort', target = self }
  local ls = self._listeners
  self._listeners = {}
  if type(self.onabort) == 'function' then self.onabort(event) end
  for _, l in ipairs(ls) do l.fn(event) end
end

--- An already aborted signal.
function AbortSignal.abort(reason)
  local s = new_signal()
  fire(s, reason)
  return s
end

--- A signal that aborts with a TimeoutError after `ms`.
function AbortSignal.timeout(ms)
  errors.check_type(ms, 'delay', 'number')
  local s = new_signal()
  local t = setTimeout(function() fire(s, M.timeout_error()) end, ms)
  t:unref()
  return s
end

--- A signal that aborts when any of `signals` does (with its reason).
function AbortSignal.any(signals)
  local s = new_signal()
  for _, other in ipairs(signals) do
    if other.aborted then
      fire(s, other.reason)
      return s
    end
  end
  for _, other in ipairs(signals) do
    other:addEventListener('abort', function() fire(s, other.reason) end)
  end
  return s
end

setmetatable(AbortSignal, { __call = function()
  error(errors.new('ERR_ILLEGAL_CONSTRUCTOR', 'Illegal constructor'), 2)
end })

---@class AbortController
local AbortController = {}
AbortController.__index = AbortController
AbortController.__name = 'AbortController'
M.AbortController = AbortController

function AbortController.new()
  return setmetatable({ signal = new_signal() }, AbortController)
end

--- Abort the controller's signal (once; later calls do nothing).
function AbortController:abort(reason) fire(self.signal, reason) end

setmetatable(AbortController, { __call = function() return AbortController.new() end })

return M
