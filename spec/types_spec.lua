-- The LuaCATS definitions in types/ (installed to share/luster/types for
-- the Lua Language Server) cover every public name of every builtin module
-- and global: the names are enumerated at run time from the real modules,
-- so a function added to a module without a definition fails here.
local child = require('helpers.child')
local ROOT = os.getenv('LUSTER_SOURCE_DIR') or (__dirname .. '/..')
local TYPES = ROOT .. '/types'
local LIST = 'ls ' .. TYPES .. '/*.lua ' .. TYPES .. '/*/*.lua'

-- ---- reading the definitions ----
-- What is understood (the shapes types/*.lua are written in):
--   ---@class Name[: Parent, ...]      opens a class; later ---@field lines add to it
--   ---@field name ...                 a member of the class being defined
--   ---@class / ---@type Name  followed by  [local] var = ...   binds var to Name
--   function var.name(  function var:name(  var.name = ...  var['name'] = ...
--   return var                          the module's class (file name = module)
local classes = {}  -- name -> {members = set, parents = list}
local globals = {}  -- global variable -> class name
local modules = {}  -- module name -> class name
local field_types = {} -- class -> member -> type name

local function class(name)
  local c = classes[name]
  if not c then c = { members = {}, parents = {} } classes[name] = c end
  return c
end

local function read_types(path, module)
  local vars = {} -- variable -> class, for this file
  local pending, open_class
  for line in io.lines(path) do
    local cname, parents = line:match('^%-%-%-@class%s+([%w_.]+)%s*:?%s*(.*)$')
    local tname = line:match('^%-%-%-@type%s+([%w_.]+)')
    local fname, ftype = line:match('^%-%-%-@field%s+([%w_]+)%??%s+([^%s|]+)')
    if cname then
      local c = class(cname)
      for p in parents:gmatch('[%w_.]+') do c.parents[#c.parents + 1] = p end
      pending, open_class = cname, cname
    elseif tname then
      pending = tname
    elseif fname and open_class then
      class(open_class).members[fname] = true
      field_types[open_class] = field_types[open_class] or {}
      field_types[open_class][fname] = ftype
    elseif not line:match('^%-%-%-') then
      local is_local, var = line:match('^(local%s+)([%w_]+)%s*=')
      if not var then var = line:match('^([%w_]+)%s*=') end
      if var and pending then
        vars[var] = pending
        if not is_local then globals[var] = pending end
      end
      local gfn = line:match('^function%s+([%w_]+)%s*%(')
      if gfn then globals[gfn] = 'function' end
      if var and not is_local and not pending then globals[var] = 'any' end
      local owner, member = line:match('^function%s+([%w_]+)[.:]([%w_]+)%s*%(')
      if not owner then owner, member = line:match('^([%w_]+)%.([%w_]+)%s*=') end
      if not owner then owner, member = line:match("^([%w_]+)%[['\"]([%w_]+)['\"]%]%s*=") end
      if owner and vars[owner] then
        class(vars[owner]).members[member] = true
        -- the member's class: `---@type T` above it, or the variable assigned
        local rhs = line:match('=%s*([%w_]+)%s*$')
        local mtype = pending or (rhs and vars[rhs])
        if mtype then
          field_types[vars[owner]] = field_types[vars[owner]] or {}
          field_types[vars[owner]][member] = mtype
        end
      end
      local ret = line:match('^return%s+([%w_]+)%s*$')
      if ret and module then modules[module] = vars[ret] end
      if line ~= '' then pending = nil end
      if not line:match('^%s') and line ~= '' then open_class = nil end
    end
  end
end

local function has_member(cname, name, seen)
  seen = seen or {}
  if not cname or seen[cname] then return false end
  seen[cname] = true
  local c = classes[cname]
  if not c then return false end
  if c.members[name] then return true end
  for _, p in ipairs(c.parents) do
    if has_member(p, name, seen) then return true end
  end
  return false
end

local function member_type(cname, name, seen)
  seen = seen or {}
  if not cname or seen[cname] then return nil end
  seen[cname] = true
  local t = field_types[cname] and field_types[cname][name]
  if t then return t end
  for _, p in ipairs((classes[cname] or { parents = {} }).parents) do
    t = member_type(p, name, seen)
    if t then return t end
  end
end

-- ---- what the runtime has ----
-- The enumerator is source text, so that it also runs in a child process
-- (the globals of a plain script, not of this busted run).  Public keys: a
-- table's own string keys, its metatable's (a singleton's class copy) and
-- its __index chain's, without `_private` ones; a member that is a table
-- with functions (a class, a namespace) is walked one level further.  The
-- marker of a lazy global's placeholder (bootstrap.lua) is not a member.
local ENUMERATE = [==[
local function public_keys(t)
  local keys, seen = {}, {}
  local function add(tbl)
    for k, v in pairs(tbl) do
      if type(k) == 'string' and not k:match('^_') and keys[k] == nil and k ~= 'luster_lazy_global' then
        keys[k] = v
      end
    end
  end
  for _ = 1, 8 do
    if type(t) ~= 'table' or seen[t] then break end
    seen[t] = true
    add(t)
    local mt = getmetatable(t)
    if type(mt) ~= 'table' then break end
    if mt.__index ~= mt then add(mt) end
    t = type(mt.__index) == 'table' and mt.__index or nil
  end
  return keys
end
local function has_functions(t)
  for _, v in pairs(public_keys(t)) do if type(v) == 'function' then return true end end
  return false
end
local function enumerate(label, value, out, depth)
  for k, v in pairs(public_keys(value)) do
    out[#out + 1] = label .. '.' .. k
    if depth < 2 and type(v) == 'table' and has_functions(v) then
      enumerate(label .. '.' .. k, v, out, depth + 1)
    end
  end
  return out
end
]==]
local enumerate = assert(loadstring(ENUMERATE .. ' return enumerate'))()

-- The paths (a.b.c) of `list` that types/ does not define, `root` being the
-- class of their first segment; only the shortest missing prefix is named.
local function undefined(list, root)
  local out, seen = {}, {}
  for _, path in ipairs(list) do
    local segs = {}
    for seg in path:gmatch('[^.]+') do segs[#segs + 1] = seg end
    local cname = root(segs[1])
    local prefix = segs[1]
    if not cname then
      if not seen[prefix] then seen[prefix] = true; out[#out + 1] = prefix end
    else
      for i = 2, #segs do
        prefix = prefix .. '.' .. segs[i]
        if not has_member(cname, segs[i]) then
          if not seen[prefix] then seen[prefix] = true; out[#out + 1] = prefix end
          break
        end
        local sub = member_type(cname, segs[i])
        cname = classes[sub] and sub or cname .. '.' .. segs[i]
      end
    end
  end
  table.sort(out)
  return out
end

local function public_modules()
  local list = {}
  for _, name in ipairs(require('native.modules').names()) do
    if not name:match('^native%.') and not name:match('^luster%.') then list[#list + 1] = name end
  end
  table.sort(list)
  return list
end

-- Lua 5.1's and LuaJIT's own globals: LuaLS defines them itself.
local STANDARD_LIST = [[_G _VERSION arg assert collectgarbage coroutine debug dofile error gcinfo
  getfenv getmetatable io ipairs load loadfile loadstring math module newproxy next os package
  pairs pcall print rawequal rawget rawset require select setfenv setmetatable string table
  tonumber tostring type unpack xpcall bit jit]]

describe('types/ (LuaCATS definitions)', function()
  setup(function()
    local p = io.popen(LIST)
    for path in p:lines() do
      -- types/a/b.lua is require('a.b'), as LuaLS finds it
      local name = path:sub(#TYPES + 2):gsub('%.lua$', ''):gsub('/', '.')
      read_types(path, name ~= 'globals' and name or nil)
    end
    p:close()
  end)

  it('start with ---@meta', function()
    local p = io.popen(LIST)
    for path in p:lines() do
      local f = assert(io.open(path))
      assert.is_truthy(f:read('*l'):match('^%-%-%-@meta'), path)
      f:close()
    end
    p:close()
  end)

  it('define a file for every public builtin module', function()
    local absent = {}
    for _, name in ipairs(public_modules()) do
      if not modules[name] then absent[#absent + 1] = name end
    end
    assert.are.same({}, absent, 'add types/<module>.lua ending in `return <its table>`')
  end)

  it('define every public function and field of every builtin module', function()
    local list = {}
    for _, name in ipairs(public_modules()) do
      if modules[name] then enumerate(name, require(name), list, 1) end
    end
    assert.are.same({}, undefined(list, function(m) return modules[m] end),
                    'names with no definition: add them to types/<module>.lua')
  end)

  it('define every global luster adds, and their members', function()
    -- in a plain script: this run's globals include busted's
    local r = child.run(ENUMERATE .. [[
      local STANDARD = ...
      local out = {}
      for k, v in pairs(_G) do
        if type(k) == 'string' and not STANDARD:find(' ' .. k .. ' ', 1, true) and not k:match('^_[^_]') then
          out[#out + 1] = k
          -- ffi's members are LuaJIT's (LuaLS's LuaJIT runtime has them)
          if type(v) == 'table' and k ~= 'ffi' then enumerate(k, v, out, 1) end
        end
      end
      console.log(table.concat(out, '\n'))
    ]], { args = { ' ' .. STANDARD_LIST:gsub('%s+', ' ') .. ' ' } })
    assert.are.equal(0, r.code, r.err)
    local list = child.lines(r.out)
    assert.is_true(#list > 20, r.out)
    assert.are.same({}, undefined(list, function(g) return globals[g] end),
                    'globals with no definition: add them to types/globals.lua')
  end)

  it('define what a worker thread and a cluster worker see in their modules', function()
    -- parentPort, workerData, cluster.worker, process.send ... exist only there
    local r = child.run(ENUMERATE .. [[
      local wt, cluster = require('worker_threads'), require('cluster')
      local function names()
        local out = {}
        enumerate('worker_threads', wt, out, 1)
        enumerate('cluster', cluster, out, 1)
        enumerate('process', process, out, 1)
        return table.concat(out, '\n')
      end
      if not wt.isMainThread then
        wt.parentPort.postMessage(names())
      elseif cluster.isWorker then
        process.send(names(), nil, nil, function() process.disconnect() end)
      elseif process.argv[3] == 'thread' then
        local w = wt.Worker(__filename, { argv = { 'thread' } })
        w:on('message', function(m) console.log(m) end)
      else
        local w = cluster.fork()
        w:on('message', function(m) console.log(m) end)
      end
    ]], { args = { 'thread' } })
    assert.are.equal(0, r.code, r.err)
    local r2 = child.run(ENUMERATE .. [[
      local cluster = require('cluster')
      local function names()
        local out = {}
        enumerate('cluster', cluster, out, 1)
        enumerate('process', process, out, 1)
        return table.concat(out, '\n')
      end
      if cluster.isWorker then
        process.send(names())
        process.disconnect()
      else
        cluster.fork():on('message', function(m) console.log(m) end)
      end
    ]])
    assert.are.equal(0, r2.code, r2.err)
    local list = child.lines(r.out .. r2.out)
    local function has(name)
      for _, l in ipairs(list) do if l == name then return true end end
      return false
    end
    assert.is_true(has('worker_threads.parentPort.postMessage'), r.out)
    assert.is_true(has('cluster.worker.send'), r2.out)
    assert.is_true(has('process.send'), r2.out)
    assert.are.same({}, undefined(list, function(m) return modules[m] end),
                    'names with no definition in types/')
  end)

  it('notice a name that has no definition', function()
    -- the checker itself: a made-up member of a real module is reported
    local fake = setmetatable({ notDefinedAnywhere = function() end }, { __index = require('path') })
    assert.are.same({ 'path.notDefinedAnywhere' },
                    undefined(enumerate('path', fake, {}, 1), function() return modules.path end))
    assert.are.same({ 'noSuchGlobal' }, undefined({ 'noSuchGlobal', 'console.log' },
                                                  function(g) return globals[g] end))
  end)
end)
