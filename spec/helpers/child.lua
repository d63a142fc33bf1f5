--- Helpers for specs that run Lua code in a separate `luster` process and
--- look at what it printed and how it exited.  Built on helpers.run.
---
---   local child = require('helpers.child')
---   local r = child.run([[ console.log(1 + 1) ]])
---   assert.are.equal('2\n', r.out); assert.are.equal(0, r.code)
local run = require('helpers.run')

local M = {}
local q = run.quote

local function cwd()
  local p = io.popen('pwd')
  local d = p:read('*l')
  p:close()
  return d
end

--- The luster binary as an absolute path (usable after a `cd`).
function M.bin()
  local b = run.bin
  if b:sub(1, 1) ~= '/' then b = cwd() .. '/' .. b end
  return b
end

--- A new empty directory under /tmp; remove it with M.rmdir.
function M.tmpdir()
  local p = io.popen('mktemp -d /tmp/luster-spec.XXXXXX')
  local d = p:read('*l')
  p:close()
  return d
end

function M.rmdir(d)
  assert(d:match('^/tmp/luster%-spec%.'), 'refusing to remove ' .. tostring(d))
  os.execute('rm -rf ' .. q(d))
end

--- Write `text` to `path` (creating parent directories).
function M.write(path, text)
  os.execute('mkdir -p ' .. q(path:match('^(.*)/[^/]*$') or '.'))
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
  return path
end

function M.read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

--- Run a shell command line; returns {out=, err=, code=}.
function M.sh(cmd)
  local out, err, code = run.sh(cmd)
  return { out = out, err = err, code = code }
end

--- Run `luster ARGS...` (from the current directory); returns {out=, err=, code=}.
function M.luster(...)
  local parts = { q(M.bin()) }
  for i = 1, select('#', ...) do parts[#parts + 1] = q((select(i, ...))) end
  return M.sh(table.concat(parts, ' '))
end

--- Run Lua source as a script file in a new process.
--- opts: args (list), cwd (directory to run from), env (name -> value),
--- stdin (text piped in), name (script file name, default main.lua),
--- dir (directory to put the script in; default: a new temporary one),
--- timeout (seconds before the process is killed).
--- Returns {out=, err=, code=, script=}.
function M.run(src, opts)
  opts = opts or {}
  local dir = opts.dir or M.tmpdir()
  local script = M.write(dir .. '/' .. (opts.name or 'main.lua'), src)
  local cmd = {}
  if opts.cwd then cmd[#cmd + 1] = 'cd ' .. q(opts.cwd) .. ' &&' end
  if opts.env then
    cmd[#cmd + 1] = 'env'
    for k, v in pairs(opts.env) do cmd[#cmd + 1] = q(k .. '=' .. v) end
  end
  if opts.timeout then cmd[#cmd + 1] = 'timeout ' .. tostring(opts.timeout) end
  cmd[#cmd + 1] = q(M.bin())
  cmd[#cmd + 1] = q(script)
  for _, a in ipairs(opts.args or {}) do cmd[#cmd + 1] = q(a) end
  local line = table.concat(cmd, ' ')
  if opts.stdin then line = 'printf %s ' .. q(opts.stdin) .. ' | ' .. line
  else line = line .. ' </dev/null' end
  local r = M.sh(line)
  r.script = script
  if not opts.dir then M.rmdir(dir) end
  return r
end

--- The lines of a text, as a list.
function M.lines(s)
  local t = {}
  for l in s:gmatch('([^\n]*)\n') do t[#t + 1] = l end
  return t
end

return M
