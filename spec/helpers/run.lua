--- Helpers for specs that run the luster binary as a child process.
local M = {}

M.bin = os.getenv('LUSTER_BIN') or (os.getenv('LUSTER_BUILD_DIR') or 'build') .. '/luster'

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.quote = shell_quote

--- Run a shell command; returns stdout, stderr, exit code.
function M.sh(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local ok, how, code = os.execute(cmd .. ' >' .. out .. ' 2>' .. err)
  -- LuaJIT's os.execute returns the raw wait status
  local status = type(ok) == 'number' and ok or code
  if type(ok) == 'number' then status = math.floor(ok / 256) end
  local function slurp(p) local f = io.open(p); local s = f:read('*a'); f:close(); os.remove(p); return s end
  return slurp(out), slurp(err), status
end

--- Run `luster ARGS...`; returns stdout, stderr, exit code.
function M.luster(...)
  local parts = { shell_quote(M.bin) }
  for i = 1, select('#', ...) do parts[#parts + 1] = shell_quote((select(i, ...))) end
  return M.sh(table.concat(parts, ' '))
end

--- Run a Lua source string as a script file; returns stdout, stderr, code.
function M.script(src, ...)
  local base = os.tmpname() -- creates an empty file; the script sits beside it
  local path = base .. '.lua'
  local f = io.open(path, 'w')
  f:write(src)
  f:close()
  local out, err, code = M.luster(path, ...)
  os.remove(path)
  os.remove(base)
  return out, err, code
end

return M
