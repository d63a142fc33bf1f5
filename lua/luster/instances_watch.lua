--- `luster -i --watch`: a change to a Lua file under the script's directory
--- triggers the rolling reload (as SIGHUP does).  The tree is polled: every
--- half second the modification times and sizes of its *.lua files are
--- compared with the last scan (no inotify watch per directory to keep in
--- step with renames).  A scan is synchronous, a few milliseconds of the
--- primary's loop per few hundred files: fine for development, which is
--- what --watch is for.  A change reloads at the first scan that finds nothing
--- new (debounce), so saving several files reloads once.
--- Skipped: directories starting with '.', node_modules, lua_modules,
--- and the --log directory.
local fs = require('fs')
local timers = require('timers')

local M = {}

local POLL_MS = 500
local MAX_FILES = 10000
local SKIP = { node_modules = true, lua_modules = true }

local function real(path)
  local p = io.popen('realpath -m -- \'' .. path:gsub("'", "'\\''") .. '\' 2>/dev/null')
  local r = p and p:read('*l')
  if p then p:close() end
  return r or path
end

function M.attach(api, ops)
  local root = real((api.script:match('^(.*)/[^/]*$') or '.'))
  local log_dir = api.log_dir and real(api.log_dir)
  local function scan()
    local seen, n = {}, 0
    local function walk(dir)
      if n >= MAX_FILES then return end
      local ok, names = pcall(fs.readdirSync, dir)
      if not ok then return end
      for _, name in ipairs(names) do
        local path = dir .. '/' .. name
        local okst, st = pcall(fs.statSync, path)
        if okst then
          if st.isDirectory() then
            if name:sub(1, 1) ~= '.' and not SKIP[name] and path ~= log_dir then walk(path) end
          elseif name:match('%.lua$') then
            n = n + 1
            seen[path] = tostring(st.mtimeMs or st.mtime) .. ':' .. tostring(st.size)
          end
        end
      end
    end
    walk(root)
    return seen
  end

  local last = scan()
  local dirty
  local function changed(now)
    for p, v in pairs(now) do if last[p] ~= v then return p end end
    for p in pairs(last) do if not now[p] then return p end end
  end
  local poll = timers.setInterval(function()
    if api.is_shutting_down() then return end
    local now = scan()
    local what = changed(now)
    last = now
    if what then dirty = what return end
    if not dirty then return end
    local file = dirty
    dirty = nil
    api.log('--watch: %s changed; reloading', file)
    api.reload()
  end, POLL_MS)
  poll:unref()
  ops.on('stopping', function() timers.clearInterval(poll) end)
end

return M
