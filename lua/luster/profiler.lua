--- The user-facing sampling profiler behind `luster --prof` (LuaJIT's
--- jit.profile underneath, as `luajit -jp`).
---
--- The command line puts its options in the environment (LUSTER_PROF=file,
--- LUSTER_PROF_FORMAT=text|folded, LUSTER_PROF_INTERVAL=ms,
--- LUSTER_PROF_THREAD=id, LUSTER_PROF_PID=the pid that was given the flag),
--- so cluster workers (processes) and worker threads (states) see them as
--- they boot: bootstrap calls start_from_env.  Each profiled state writes
--- its own file when it ends: the main thread of the process given --prof
--- writes FILE, any other state FILE.<pid>.<threadId>.
---
--- LuaJIT samples one Lua state per process at a time (its profiler keeps
--- one global state and uses the process's SIGPROF timer), so in each
--- process the thread named by LUSTER_PROF_THREAD (the main thread, 0, by
--- default) is the one sampled.
local M = {}

local active = nil -- the running profile: { file=, folded=, samples=, ... }

-- "[builtin#N]" is how dumpstack names a fast function: give its name.
local function builtin_names(s)
  if not s:find('[builtin#', 1, true) then return s end
  local ffnames = require('jit.vmdef').ffnames
  return (s:gsub('%[builtin#(%d+)%]', function(n) return ffnames[tonumber(n)] or ('builtin#' .. n) end))
end

local VM_STATES = { N = 'compiled', I = 'interpreted', C = 'C code', G = 'garbage collector', J = 'JIT compiler' }

local function sorted_keys(counts)
  local keys = {}
  for k in pairs(counts) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  return keys
end

local function pct(n, total) return n * 100 / total end

-- The text report: VM states, the hottest functions and, under each, its
-- hottest lines; then the hottest lines overall.
local function report(p, out)
  local total = p.samples
  out:write(('luster --prof: %d samples, every %d ms (pid %d, thread %d)\n\n')
    :format(total, p.interval, p.pid, p.thread))
  if total == 0 then out:write('[no samples collected]\n') return end
  out:write('VM states:\n')
  for _, k in ipairs(sorted_keys(p.vm)) do
    out:write(('  %5.1f%%  %s\n'):format(pct(p.vm[k], total), VM_STATES[k] or k))
  end
  out:write('\nHottest functions (self time), with their hottest lines:\n')
  local shown = 0
  for _, fn in ipairs(sorted_keys(p.fns)) do
    local share = pct(p.fns[fn], total)
    if shown >= 30 or (shown >= 5 and share < 1) then break end
    shown = shown + 1
    out:write(('  %5.1f%%  %s\n'):format(share, fn))
    local lines, k = p.fn_lines[fn], 0
    for _, line in ipairs(sorted_keys(lines)) do
      k = k + 1
      if k > 3 then break end
      out:write(('          %5.1f%%  %s\n'):format(pct(lines[line], total), line))
    end
  end
  out:write('\nHottest lines:\n')
  for i, line in ipairs(sorted_keys(p.lines)) do
    if i > 20 then break end
    out:write(('  %5.1f%%  %s\n'):format(pct(p.lines[line], total), line))
  end
end

-- Folded stacks: "outer;...;inner count", one line each, what
-- flamegraph.pl, speedscope and inferno read.
local function folded(p, out)
  for _, stack in ipairs(sorted_keys(p.stacks)) do
    out:write(stack, ' ', p.stacks[stack], '\n')
  end
end

--- Start sampling this state.  opts: file (required), format 'text' (the
--- default) or 'folded', interval in ms (default 1).
function M.start(opts)
  if active then return false end
  local profile = require('jit.profile')
  local format = opts.format or 'text'
  if format ~= 'text' and format ~= 'folded' then
    error(require('luster.errors').new('ERR_INVALID_ARG_VALUE',
      "The profile format must be 'text' or 'folded'. Received '" .. tostring(format) .. "'"), 2)
  end
  local info = require('native.core').info()
  local p = {
    file = opts.file, folded = format == 'folded', interval = math.max(1, math.floor(tonumber(opts.interval) or 1)),
    samples = 0, vm = {}, fns = {}, fn_lines = {}, lines = {}, stacks = {},
    pid = require('process').pid or 0, thread = info.threadId or 0,
  }
  local dumpstack = profile.dumpstack
  local vm, fns, fn_lines, lines, stacks = p.vm, p.fns, p.fn_lines, p.lines, p.stacks
  profile.start((p.folded and 'f' or 'l') .. 'i' .. p.interval, function(th, n, vmstate)
    p.samples = p.samples + n
    vm[vmstate] = (vm[vmstate] or 0) + n
    if p.folded then
      -- the frames of the scheduler that called the script are noise
      local s = builtin_names(dumpstack(th, 'fZ;', -100)):gsub('^.-;xcall;xpcall;', '')
      stacks[s] = (stacks[s] or 0) + n
    else
      local fn = builtin_names(dumpstack(th, 'F', 1))
      local line = dumpstack(th, 'l', 1)
      fns[fn] = (fns[fn] or 0) + n
      lines[line] = (lines[line] or 0) + n
      local fl = fn_lines[fn]
      if not fl then fl = {}; fn_lines[fn] = fl end
      fl[line] = (fl[line] or 0) + n
    end
  end)
  active = p
  -- written on 'exit' (before the parent hears that the state ended, so a
  -- process that exits right after its worker still finds the file), and
  -- at the latest when the state closes (a worker that is terminated)
  if process and process.on then process:on('exit', function() M.stop() end) end
  p.guard = newproxy(true)
  getmetatable(p.guard).__gc = function() M.stop() end
  return true
end

--- Stop sampling and write the file; returns its path (nil when the
--- profiler was not running).  Safe to call more than once.
function M.stop()
  local p = active
  if not p then return nil end
  active = nil
  require('jit.profile').stop()
  local out, err = io.open(p.file, 'w')
  if not out then
    io.stderr:write('luster --prof: cannot write ', tostring(p.file), ': ', tostring(err), '\n')
    return nil
  end
  if p.folded then folded(p, out) else report(p, out) end
  out:close()
  return p.file
end

--- Whether a profile is being taken in this state.
function M.running() return active ~= nil end

--- Where this state's profile goes: FILE for the main thread of the process
--- given --prof, FILE.<pid>.<threadId> for every other state.
function M.file_for(base, given_pid, pid, thread)
  if thread == 0 and tostring(pid) == tostring(given_pid) then return base end
  return ('%s.%s.%s'):format(base, pid, thread)
end

--- Called by bootstrap for every state: start when LUSTER_PROF asks for it.
function M.start_from_env()
  local base = os.getenv('LUSTER_PROF')
  if not base or base == '' then return false end
  local thread = require('native.core').info().threadId or 0
  if tostring(thread) ~= (os.getenv('LUSTER_PROF_THREAD') or '0') then return false end
  local pid = require('process').pid
  return M.start({
    file = M.file_for(base, os.getenv('LUSTER_PROF_PID'), pid, thread),
    format = os.getenv('LUSTER_PROF_FORMAT') or 'text',
    interval = os.getenv('LUSTER_PROF_INTERVAL'),
  })
end

return M
