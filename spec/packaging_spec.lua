-- What an installed luster needs and shows to scripts: native modules only
-- through require, lua-cjson found at run time on package.cpath.
local child = require('helpers.child')

describe('native modules', function()
  it('are reachable through require and leave no global `native` in a script', function()
    local r = child.run([[
      local os_native = require('native.os')
      require('native.timer')
      require('http')
      console.log(type(os_native), rawget(_G, 'native') == nil, native == nil)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('table true true\n', r.out)
  end)

  it('leave no global `native` in a worker thread either', function()
    local r = child.run([[
      local wt = require('worker_threads')
      if wt.isMainThread then
        local w = wt.Worker(__filename)
        w:on('message', function(m) console.log(m) end)
      else
        require('native.worker')
        wt.parentPort.postMessage(tostring(rawget(_G, 'native')) .. ' ' .. type(require('native.fs')))
      end
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('nil table\n', r.out)
  end)

  it('are the same table on every require', function()
    local r = child.run([[ console.log(require('native.fs') == require('native.fs')) ]])
    assert.are.equal('true\n', r.out)
  end)
end)

describe('lua-cjson', function()
  it('is found on package.cpath at run time (LUA_CPATH)', function()
    local dir = child.tmpdir()
    local found = child.sh([[luster_cjson=$(ls /usr/lib/*/lua/5.1/cjson.so /usr/lib/lua/5.1/cjson.so 2>/dev/null | head -1); echo $luster_cjson]]).out:gsub('%s+$', '')
    assert.is_truthy(found ~= '', 'lua-cjson is not installed')
    os.execute(('cp %q %q/cjson.so'):format(found, dir))
    -- only our directory: the copy there is the one loaded
    local r = child.run([[
      console.log(require('json').encode({ 1, 2 }))
      local maps = io.open('/proc/self/maps'):read('*a')
      console.log(maps:find(']] .. dir .. [[/cjson.so', 1, true) ~= nil)
    ]], { env = { LUA_CPATH = dir .. '/?.so' } })
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ '[1,2]', 'true' }, child.lines(r.out))
    child.rmdir(dir)
  end)

  it('missing from package.cpath gives an error that says what to install', function()
    local r = child.run([[
      package.cpath = '/nonexistent/?.so'
      local ok, err = pcall(require, 'cjson')
      console.log(ok, (tostring(err):match('lua%-cjson')))
      -- still not loaded: a second require fails the same way
      ok, err = pcall(require, 'cjson')
      console.log(ok, (tostring(err):match('lua%-cjson')))
    ]])
    assert.are.equal('false lua-cjson\nfalse lua-cjson\n', r.out)
  end)
end)
