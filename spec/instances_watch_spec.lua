-- `luster -i --watch` (API.md "Operating `luster -i`"): editing a Lua file
-- under the script's directory reloads the instances; node_modules-like
-- directories and the log directory are ignored.
local h = require('helpers.instances')
local child = require('helpers.child')

after_each(h.cleanup)

describe('luster -i --watch', function()
  it('reloads once after a Lua file of the app changes, not for ignored directories', function()
    local dir = h.tmpdir()
    child.write(dir .. '/app/lib/version.lua', 'return "v1"')
    child.write(dir .. '/app/node_modules/dep.lua', 'return 1')
    local script = child.write(dir .. '/app/main.lua', [[
      package.path = process.argv[2]:match('^(.*)/') .. '/lib/?.lua;' .. package.path
      require('http').createServer(function(_, res) res:finish(require('version')) end)
        :listen(tonumber(process.env.PORT))
      console.log('serving ' .. require('version'))
    ]])
    local port = h.free_port()
    local env = h.env({ PORT = tostring(port) })
    local p = h.start({ '-i', '2', '--name', 'w', '--watch', '--log', dir .. '/app/logs', script }, env)
    assert.is_true(h.wait_state(env, 2), p.err())
    local url = ('http://127.0.0.1:%d/'):format(port)
    assert.are.equal('v1', await(h.curl(url)))
    -- ignored: node_modules, the log directory (written all the time), non-Lua files
    child.write(dir .. '/app/node_modules/dep.lua', 'return 2')
    child.write(dir .. '/app/notes.txt', 'x')
    await(h.sleep(1500))
    assert.is_nil(p.err():find('%-%-watch'))
    -- two saves in a row: one reload
    child.write(dir .. '/app/lib/version.lua', 'return "v2"')
    await(h.sleep(100))
    child.write(dir .. '/app/lib/version.lua', 'return "v2" -- saved again')
    assert.is_true(h.wait_for(function() return select(2, p.err():gsub('replaces worker', '')) >= 2 end, 8000), p.err())
    assert.are.equal('v2', await(h.curl(url)))
    assert.is_truthy(p.err():find('%-%-watch: .*/lib/version.lua changed; reloading'))
    await(h.sleep(1200))
    assert.are.equal(1, select(2, p.err():gsub('%-%-watch:', '')))
    p.kill('SIGTERM')
    await(p.done)
  end)
end)
