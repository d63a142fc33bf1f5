--- `require` as a Node user expects it, on top of Lua's:
---   * `node:` prefixes are dropped (require('node:cluster'));
---   * builtins win over files (require('events') is always ours);
---   * './x', '../x', '/abs/x' load that file (x, x.lua, x/init.lua),
---     relative to the directory of the script that calls require;
---   * other names are tried relative to the calling script's directory
---     first (name.lua, name/init.lua, dots as slashes), then package.path
---     and package.cpath (so Debian's /usr/share/lua/5.1 modules load).
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

-- Directory of the first Lua function up the stack that was loaded from a file.
local function caller_dir()
  for level = 3, 8 do
    local info = debug.getinfo(level, 'S')
    if not info then break end
    local src = info.source
    if src:sub(1, 1) == '@' and src:sub(1, 8) ~= '@luster/' then
      local d = dirname(src:sub(2))
      if d:sub(1, 1) ~= '/' then d = cwd() .. '/' .. d end
      return d
    end
  end
  return nil
end

local function load_file(key, file, name)
  local fn, err = core.loadfile(file)
  if not fn then error(err, 0) end
  local r = fn(name, file)
  if r == nil then r = loaded[key] == nil and true or loaded[key] end
  loaded[key] = r
  return r
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
    local dir = caller_dir()
    if dir then
      local rel = dir .. '/' .. name:gsub('%.', '/')
      for _, file in ipairs({ rel .. '.lua', rel .. '/init.lua' }) do
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
