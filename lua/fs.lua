--- The `fs` subset: synchronous forms (`readFileSync`...), promise forms
--- (`fs.promises.readFile`...) and Node-style callback forms
--- (`fs.readFile(path, cb)`).  The asynchronous ones run on libuv's
--- threadpool (runtime/fs.c), so they never block the loop.
--- Strings are bytes: an `encoding` argument is accepted and ignored.
local native = require('native.fs')
local Promise = require('luster.promise')
local path = require('path')

local M = { promises = {} }

--- The native operations behind each name: op, and how to read the arguments.
local ops = {
  readFile = function(p) return 'read', p end,
  writeFile = function(p, data) return 'write', p, tostring(data) end,
  appendFile = function(p, data) return 'append', p, tostring(data) end,
  stat = function(p) return 'stat', p end,
  lstat = function(p) return 'lstat', p end,
  readdir = function(p) return 'readdir', p end,
  unlink = function(p) return 'unlink', p end,
  rmdir = function(p) return 'rmdir', p end,
  rename = function(a, b) return 'rename', a, b end,
}

-- Results get Node's shape: stats have is* methods, directory listings
-- are sorted by name (as libuv's scandir gives them to Node).
local function stat_object(st)
  local isFile, isDir, isLink = st.isFile, st.isDirectory, st.isSymbolicLink
  st.isFile = function() return isFile end
  st.isDirectory = function() return isDir end
  st.isSymbolicLink = function() return isLink end
  return st
end
local function sorted(names) table.sort(names) return names end
local shape = { stat = stat_object, lstat = stat_object, readdir = sorted }
local function same(v) return v end

for name, args in pairs(ops) do
  local post = shape[name] or same
  M[name .. 'Sync'] = function(...) return post(native.sync(args(...))) end
  M.promises[name] = function(...)
    local a, b, c = args(...)
    return Promise.new(function(resolve, reject)
      native.async(a, b, c, function(err, res)
        if err then reject(err) else resolve(post(res)) end
      end)
    end)
  end
  -- callback form: the last argument is cb(err, result)
  M[name] = function(...)
    local n = select('#', ...)
    local cb = select(n, ...)
    assert(type(cb) == 'function', 'fs.' .. name .. ': the last argument must be a callback')
    local a, b, c = args(...) -- each op reads only the arguments it takes
    native.async(a, b, c, function(err, res)
      if err then return cb(err) end
      return cb(nil, post(res))
    end)
  end
end

--- Whether a path exists.
function M.existsSync(p) return (pcall(native.sync, 'stat', p)) end
function M.promises.access(p)
  return M.promises.stat(p):next(function() return nil end)
end

local function mkdir_sync(p, opts)
  local recursive = type(opts) == 'table' and opts.recursive
  if not recursive then return native.sync('mkdir', p) end
  local ok, err = pcall(native.sync, 'mkdir', p)
  if ok then return true end
  if err.code == 'EEXIST' then return nil end
  if err.code ~= 'ENOENT' then error(err, 0) end
  mkdir_sync(path.dirname(p), opts)
  return native.sync('mkdir', p)
end
M.mkdirSync = mkdir_sync
function M.promises.mkdir(p, opts)
  return Promise.new(function(resolve, reject)
    -- directory creation is quick; recursive creation walks parents in order
    local ok, err = pcall(mkdir_sync, p, opts)
    if ok then resolve(nil) else reject(err) end
  end)
end

--- fs.mkdir(path[, opts], cb)
function M.mkdir(p, opts, cb)
  if cb == nil then cb, opts = opts, nil end
  assert(type(cb) == 'function', 'fs.mkdir: the last argument must be a callback')
  local ok, err = pcall(mkdir_sync, p, opts)
  -- called back later, as every callback form is
  require('timers').setImmediate(function() if ok then cb(nil) else cb(err) end end)
end

--- Remove a file or (with {recursive=true}) a directory tree.  A symbolic
--- link is removed itself, never what it points to.
function M.rmSync(p, opts)
  local ok, st = pcall(native.sync, 'lstat', p)
  if not ok then
    if opts and opts.force then return end
    error(st, 0)
  end
  if st.isDirectory then
    if not (opts and opts.recursive) then return native.sync('rmdir', p) end
    for _, name in ipairs(native.sync('readdir', p)) do M.rmSync(p .. '/' .. name, opts) end
    return native.sync('rmdir', p)
  end
  return native.sync('unlink', p)
end

function M.promises.rm(p, opts)
  return Promise.new(function(resolve, reject)
    local ok, err = pcall(M.rmSync, p, opts)
    if ok then resolve(nil) else reject(err) end
  end)
end

return M
