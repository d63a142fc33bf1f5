--- Node's `path` (POSIX flavour): join, resolve, normalize, dirname,
--- basename, extname, relative, isAbsolute, parse, format, sep, delimiter.
local errors = require('luster.errors')

local M = { sep = '/', delimiter = ':' }

local function split(p)
  local parts = {}
  for part in p:gmatch('[^/]+') do parts[#parts + 1] = part end
  return parts
end

local function normalize_parts(parts, absolute)
  local out = {}
  for _, p in ipairs(parts) do
    if p == '..' then
      if #out > 0 and out[#out] ~= '..' then out[#out] = nil
      elseif not absolute then out[#out + 1] = '..' end
    elseif p ~= '.' and p ~= '' then
      out[#out + 1] = p
    end
  end
  return out
end

---@param p string
---@return string
function M.normalize(p)
  if p == '' then return '.' end
  local absolute = p:sub(1, 1) == '/'
  local trailing = p:sub(-1) == '/'
  local s = table.concat(normalize_parts(split(p), absolute), '/')
  if s == '' then
    if absolute then return '/' end
    return trailing and './' or '.'
  end
  if trailing then s = s .. '/' end
  return (absolute and '/' or '') .. s
end

---@return string
function M.join(...)
  local parts = {}
  for i = 1, select('#', ...) do
    local a = select(i, ...)
    if type(a) ~= 'string' then errors.check_type(a, 'path', 'string') end
    if a ~= '' then parts[#parts + 1] = a end
  end
  if #parts == 0 then return '.' end
  return M.normalize(table.concat(parts, '/'))
end

---@return string
function M.resolve(...)
  local resolved = ''
  for i = select('#', ...), 1, -1 do
    local a = select(i, ...)
    if type(a) ~= 'string' then errors.check_type(a, 'path', 'string') end
    if a ~= '' then
      resolved = a .. (resolved ~= '' and ('/' .. resolved) or '')
      if a:sub(1, 1) == '/' then break end
    end
  end
  if resolved:sub(1, 1) ~= '/' then
    resolved = require('native.process').cwd() .. (resolved ~= '' and ('/' .. resolved) or '')
  end
  local s = '/' .. table.concat(normalize_parts(split(resolved), true), '/')
  return s
end

function M.isAbsolute(p) return p:sub(1, 1) == '/' end

---@return string
function M.dirname(p)
  if p == '' then return '.' end
  local s = p:gsub('/+$', '')
  if s == '' then return '/' end
  local d = s:match('^(.*)/[^/]*$')
  if d == nil then return '.' end
  if d == '' then return '/' end
  return (d:gsub('/+$', ''))
end

---@return string
function M.basename(p, ext)
  local s = p:gsub('/+$', '')
  local b = s:match('([^/]*)$') or ''
  if ext and ext ~= b and b:sub(-#ext) == ext then b = b:sub(1, -#ext - 1) end
  return b
end

---@return string
function M.extname(p)
  local b = M.basename(p)
  local e = b:match('^.+(%.[^.]*)$')
  return e or ''
end

---@return string
function M.relative(from, to)
  local f, t = split(M.resolve(from)), split(M.resolve(to))
  local i = 1
  while i <= #f and i <= #t and f[i] == t[i] do i = i + 1 end
  local out = {}
  for _ = i, #f do out[#out + 1] = '..' end
  for k = i, #t do out[#out + 1] = t[k] end
  return table.concat(out, '/')
end

function M.parse(p)
  local root = p:sub(1, 1) == '/' and '/' or ''
  local base = M.basename(p)
  local ext = M.extname(p)
  local dir = M.dirname(p)
  if dir == '.' and not p:find('/') then dir = '' end
  return { root = root, dir = dir, base = base, ext = ext, name = ext ~= '' and base:sub(1, -#ext - 1) or base }
end

function M.format(o)
  local dir = o.dir or o.root or ''
  local base = o.base or ((o.name or '') .. (o.ext or ''))
  if dir == '' then return base end
  if dir == o.root then return dir .. base end
  return dir .. '/' .. base
end

M.posix = M
return M
