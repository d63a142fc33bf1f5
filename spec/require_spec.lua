-- require (API.md "require").  Module trees are written to temporary
-- directories and run in a child process started from another directory.
local child = require('helpers.child')

-- Write files {relative path = source} into a new directory, run main.lua
-- from `/` and return the result (the directory is removed afterwards).
local function run_tree(files, opts)
  local dir = child.tmpdir()
  for name, src in pairs(files) do child.write(dir .. '/' .. name, src) end
  opts = opts or {}
  local r = child.run(files['main.lua'], { dir = dir, cwd = opts.cwd or '/', env = opts.env })
  r.dir = dir
  child.rmdir(dir)
  return r
end

describe('builtin modules', function()
  it('loads each builtin by name', function()
    for _, name in ipairs({ 'events', 'timers', 'process', 'path', 'fs', 'json', 'cjson', 'os' }) do
      local ok, m = pcall(require, name)
      assert.is_true(ok, name .. ': ' .. tostring(m))
      assert.are.equal('table', type(m), name)
    end
  end)

  it('gives the same objects as the globals', function()
    assert.are.equal(process, require('process'))
    assert.are.equal(os, require('os'))
  end)

  it('accepts the node: prefix', function()
    assert.are.equal(require('events'), require('node:events'))
    assert.are.equal(require('path'), require('node:path'))
    assert.are.equal(require('fs'), require('node:fs'))
  end)

  it('prefers the builtin over a file of the same name next to the script', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(type(require('events').new), require('path').sep) ]],
      ['events.lua'] = [[ return { fake = true } ]],
      ['path.lua'] = [[ return { sep = 'fake' } ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('function /\n', r.out)
  end)
end)

describe('modules next to the script', function()
  it('loads name.lua from the script\'s directory, whatever the working directory', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('util').greet('you')) ]],
      ['util.lua'] = [[ return { greet = function(n) return 'hello ' .. n end } ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('hello you\n', r.out)
  end)

  it('maps dots to directories and loads a directory\'s init.lua', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('lib.strings').name, require('pkg').name) ]],
      ['lib/strings.lua'] = [[ return { name = 'lib.strings' } ]],
      ['pkg/init.lua'] = [[ return { name = 'pkg/init' } ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('lib.strings pkg/init\n', r.out)
  end)

  it('lets a nested module require others by their name from the script\'s directory', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('lib.a').value) ]],
      ['lib/a.lua'] = [[ return { value = 'a+' .. require('lib.b') } ]],
      ['lib/b.lua'] = [[ return 'b' ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('a+b\n', r.out)
  end)

  it('passes the module name and file to the module chunk', function()
    local r = run_tree({
      ['main.lua'] = [[ local m = require('mod') console.log(m[1], (m[2]:gsub('^.*/', ''))) ]],
      ['mod.lua'] = [[ return { ... } ]],
    })
    assert.are.equal('mod mod.lua\n', r.out)
  end)

  it('returns true for a module that returns nothing', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('side')) ]],
      ['side.lua'] = [[ SIDE_EFFECT = 1 ]],
    })
    assert.are.equal('true\n', r.out)
  end)
end)

describe('relative paths', function()
  it('loads ./x relative to the script, not the working directory', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('./x').v, require('./x.lua').v) ]],
      ['x.lua'] = [[ return { v = 'x' } ]],
    }, { cwd = '/tmp' })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('x x\n', r.out)
  end)

  it('loads ./x relative to the module that requires it', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('./sub/a')) ]],
      ['sub/a.lua'] = [[ return 'a sees ' .. require('./b') .. ' and ' .. require('../top') ]],
      ['sub/b.lua'] = [[ return 'sub/b' ]],
      ['b.lua'] = [[ return 'WRONG b' ]],
      ['top.lua'] = [[ return 'top' ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('a sees sub/b and top\n', r.out)
  end)

  it('loads a directory\'s init.lua for ./dir', function()
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('./dir')) ]],
      ['dir/init.lua'] = [[ return 'dir init' ]],
    })
    assert.are.equal('dir init\n', r.out)
  end)

  it('loads an absolute path', function()
    local dir = child.tmpdir()
    child.write(dir .. '/abs.lua', 'return "absolute"')
    local r = child.run(('console.log(require(%q))'):format(dir .. '/abs'))
    child.rmdir(dir)
    assert.are.equal('absolute\n', r.out)
  end)

  it('raises MODULE_NOT_FOUND naming a missing relative module', function()
    local r = run_tree({
      ['main.lua'] = [[
        local ok, e = pcall(require, './missing')
        console.log(ok, e.code, e.message)
      ]],
    })
    assert.are.equal("false MODULE_NOT_FOUND Cannot find module './missing'\n", r.out)
  end)
end)

describe('modules from package.path', function()
  it('loads Debian\'s /usr/share/lua/5.1 modules such as penlight', function()
    local r = child.run([[
      local pl_path = require('pl.path')
      console.log(pl_path.basename('/a/b/c.txt'), pl_path.extension('x.lua'))
    ]], { cwd = '/tmp' })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('c.txt .lua\n', r.out)
  end)

  it('lets a library require a top-level module named like one of its own files', function()
    -- like busted's files/moonscript.lua requiring 'moonscript'
    local lib = child.tmpdir()
    child.write(lib .. '/thing.lua', [[ return 'top-level thing' ]])
    child.write(lib .. '/wrap/thing.lua', [[
      local ok, m = pcall(require, 'thing')
      return { inner = ok and m or ('failed: ' .. tostring(m)) }
    ]])
    local r = child.run([[ console.log(require('wrap.thing').inner) ]],
      { env = { LUA_PATH = lib .. '/?.lua;;' } })
    child.rmdir(lib)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('top-level thing\n', r.out)
  end)

  it('prefers a module next to the script over one on package.path', function()
    local lib = child.tmpdir()
    child.write(lib .. '/dup.lua', [[ return 'from package.path' ]])
    local r = run_tree({
      ['main.lua'] = [[ console.log(require('dup')) ]],
      ['dup.lua'] = [[ return 'next to the script' ]],
    }, { env = { LUA_PATH = lib .. '/?.lua;;' } })
    child.rmdir(lib)
    assert.are.equal('next to the script\n', r.out)
  end)
end)

describe('the module cache', function()
  it('runs a module once and returns the same value every time', function()
    local r = run_tree({
      ['main.lua'] = [[
        local a = require('counted')
        local b = require('counted')
        local c = require('./sub/uses_counted')
        console.log(LOADS, a == b, a == c)
      ]],
      ['counted.lua'] = [[ LOADS = (LOADS or 0) + 1 return {} ]],
      ['sub/uses_counted.lua'] = [[ return require('counted') ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('1 true true\n', r.out)
  end)

  it('keeps loaded modules in package.loaded', function()
    local r = run_tree({
      ['main.lua'] = [[
        local m = require('cached')
        console.log(package.loaded.cached == m)
        package.loaded.cached = nil
        console.log(require('cached') == m, LOADS)
      ]],
      ['cached.lua'] = [[ LOADS = (LOADS or 0) + 1 return {} ]],
    })
    assert.are.equal('true\nfalse 2\n', r.out)
  end)
end)

describe('modules that fail', function()
  it('raises a clear error for a module that does not exist', function()
    local ok, e = pcall(require, 'luster_spec_no_such_module')
    assert.is_false(ok)
    assert.matches("module 'luster_spec_no_such_module' not found", tostring(e), 1, true)
  end)

  it('ends the script with exit 1 when a required module is missing', function()
    local r = child.run([[ require('luster_spec_no_such_module') ]])
    assert.are.equal(1, r.code)
    assert.matches('luster_spec_no_such_module', r.err)
  end)

  it('passes on the error a module raises while loading', function()
    local r = run_tree({
      ['main.lua'] = [[
        local ok, e = pcall(require, 'broken')
        console.log(ok, e)
      ]],
      ['broken.lua'] = [[ error('broken on load', 0) ]],
    })
    assert.are.equal('false broken on load\n', r.out)
  end)

  it('names the file and line of a syntax error in a module', function()
    local r = run_tree({
      ['main.lua'] = [[
        local ok, e = pcall(require, 'bad_syntax')
        console.log(ok, (tostring(e):gsub('^.*/', '')))
      ]],
      ['bad_syntax.lua'] = "local x = 1\nlocal = 2\n",
    })
    assert.matches('^false bad_syntax%.lua:2:', r.out)
  end)

  it('raises instead of recursing forever when two modules require each other', function()
    local r = run_tree({
      ['main.lua'] = [[
        local ok, e = pcall(require, 'ping')
        console.log(ok, e)
      ]],
      ['ping.lua'] = [[ return { other = require('pong') } ]],
      ['pong.lua'] = [[ return { other = require('ping') } ]],
    })
    assert.are.equal(0, r.code, r.err)
    assert.matches("^false loop or previous error loading module 'ping'", r.out)
  end)

  it('refuses a module name that is not a string', function()
    local ok, e = pcall(require, 42)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)
