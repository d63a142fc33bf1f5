--- console: Node's console, writing whole lines with one write(2) each so
--- that output from many threads never interleaves mid-line.
local native = require('native.process')
local inspect = require('luster.inspect')
local format = inspect.format

local console = {}
local counts, timers, indent = {}, {}, ''

local function out(fd, ...)
  local s = format(...)
  if indent ~= '' then s = indent .. s:gsub('\n', '\n' .. indent) end
  native.write(fd, s .. '\n')
end

--- Print to stdout: arguments joined by spaces, tables inspected, printf
--- formats (%s %d %i %f %j %o) when the first argument has them.
function console.log(...) out(1, ...) end
console.info = console.log
console.debug = console.log
--- Print to stderr.
function console.error(...) out(2, ...) end
console.warn = console.error

function console.trace(...)
  out(2, 'Trace: ' .. format(...) .. '\n' .. debug.traceback('', 2):sub(2))
end

function console.dir(v, opts) out(1, inspect.inspect(v, opts)) end

function console.assert(cond, ...)
  if not cond then
    if select('#', ...) > 0 then out(2, 'Assertion failed: ' .. format(...))
    else out(2, 'Assertion failed') end
  end
end

function console.count(label)
  label = label or 'default'
  counts[label] = (counts[label] or 0) + 1
  out(1, ('%s: %d'):format(label, counts[label]))
end
function console.countReset(label) counts[label or 'default'] = nil end

local function now_ms() return native.hrtime() / 1e6 end
function console.time(label) timers[label or 'default'] = now_ms() end
function console.timeLog(label, ...)
  label = label or 'default'
  local t = timers[label]
  if not t then return out(2, ("Warning: No such label '%s'"):format(label)) end
  out(1, ('%s: %.3fms'):format(label, now_ms() - t), ...)
end
function console.timeEnd(label)
  console.timeLog(label)
  timers[label or 'default'] = nil
end

function console.group(...)
  if select('#', ...) > 0 then out(1, ...) end
  indent = indent .. '  '
end
function console.groupEnd() indent = indent:sub(3) end

function console.table(t) out(1, inspect.inspect(t)) end

return console
