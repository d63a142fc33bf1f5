--- `require` as a Node user expects it, on top of Lua's:
---   * `node:` prefixes are dropped (require('node:cluster'));
---   * builtins win over files (require('events') is always ours);
---   * './x', '../x', '/abs/x' load that file (x, x.lua, x/init.lua),
---     relative to the directory of the script that calls require;
---   * other names are tried relative to the calling script's directory
---     first (name.lua, name/init.lua, dots as slashes), then to the entry
---     script's directory, then package.path and package.cpath (so Debian's
---     /usr/share/lua/5.1 modules load).  A module that was itself found
---     through package.path (a library) skips the first step: its bare
---     names mean top-level modules, as in plain Lua, not its siblings;
---   * a module that requires itself while loading (a cycle) raises, as
---     Lua's require does, instead of recursing.
local core = require('native.core')
local M = {}

local lua_require = require
local loaded = package.loaded

local function dirname(p) return p:match('^(.*)/[^/]*$') or '.' end

local fs = require('native.fs')
local function cwd() return require('native.process').cwd() end

-- Whether p is a regular file.
local function exists(p)
  local ok, st = pcall(fs.sync, 'stat', p)
  return ok and st.isFile
end

-- The first Lua file up the stack (the one calling require), as an
-- absolute path.
local function caller_file()
  for level = 3, 8 do
    local info = debug.getinfo(level, 'S')
    if not info then break end
    local src = info.source
    if src:sub(1, 1) == '@' and src:sub(1, 8) ~= '@luster/' then
      local f = src:sub(2)
      if f:sub(1, 1) ~= '/' then f = cwd() .. '/' .. f end
      return f
    end
  end
  return nil
end

local function caller_dir()
  local f = caller_file()
  return f and dirname(f)
end

local loading = {} -- files being loaded now (cycle detection)

local function load_file(key, file, name)
  if loading[file] then
    error(("loop or previous error loading module '%s'"):format(name), 0)
  end
  local fn, err = core.loadfile(file)
  if not fn then error(err, 0) end
  loading[file] = true
  local ok, r = pcall(fn, name, file)
  loading[file] = nil
  if not ok then error(r, 0) end
  if r == nil then r = loaded[key] == nil and true or loaded[key] end
  loaded[key] = r
  return r
end

-- Whether a file lives under one of package.path's absolute directories
-- (a library: /usr/share/lua/5.1/pl/path.lua).
local function in_package_path(file)
  for template in package.path:gmatch('[^;]+') do
    local prefix = template:match('^(/.-/)%?')
    if prefix and file:sub(1, #prefix) == prefix then return true end
  end
  return false
end

-- Directory of the entry script of this state (the cwd for -e code).
local entry_dir
local function script_dir()
  if entry_dir == nil then
    local script = core.info().script
    entry_dir = script and dirname(script) or false
  end
  return entry_dir or cwd()
end

local function try_paths(base)
  for _, cand in ipairs({ base, base .. '.lua', base .. '/init.lua' }) do
    if exists(cand) then return cand end
  end
end

local function normalize(p)
  local parts = {}
  for part in p:gmatch('[^/]+') do
    if part == '..' then parts[#parts] = nil elseif part ~= '.' then parts[#parts + 1] = part end
  end
  return '/' .. table.concat(parts, '/')
end

--- The require installed as the global.
---@param name string
function M.require(name)
  if type(name) ~= 'string' then
    error(require('luster.errors').new('ERR_INVALID_ARG_TYPE', 'require: the module name must be a string'), 2)
  end
  if name:sub(1, 5) == 'node:' then name = name:sub(6) end
  local r = loaded[name]
  if r ~= nil then return r end
  local first = name:sub(1, 1)
  if first == '.' or first == '/' then
    local base = first == '/' and name or ((caller_dir() or cwd()) .. '/' .. name)
    base = normalize(base)
    local file = try_paths(base)
    if not file then
      error(require('luster.errors').new('MODULE_NOT_FOUND', "Cannot find module '" .. name .. "'"), 2)
    end
    local done = loaded[file]
    if done ~= nil then return done end
    return load_file(file, file, name)
  end
  if not core.has_builtin(name) then
    local from = caller_file()
    local dirs = {}
    if from and not in_package_path(from) then dirs[1] = dirname(from) end
    local top = script_dir()
    if top ~= dirs[1] then dirs[#dirs + 1] = top end
    local rel = name:gsub('%.', '/')
    for _, dir in ipairs(dirs) do
      for _, file in ipairs({ dir .. '/' .. rel .. '.lua', dir .. '/' .. rel .. '/init.lua' }) do
        if exists(file) then return load_file(name, file, name) end
      end
    end
  end
  return lua_require(name)
end

function M.install()
  _G.require = M.require
end

return M
