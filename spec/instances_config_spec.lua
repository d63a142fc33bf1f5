-- `luster start luster.config.lua` (API.md "Operating `luster -i`"):
-- several apps from one file, each its own background primary, managed
-- afterwards with ls / stop.
local h = require('helpers.instances')
local child = require('helpers.child')

-- `luster start` puts its primaries in sessions of their own: a failed
-- test stops whatever it started through their control sockets
local started_env
after_each(function()
  if started_env then
    for _, name in ipairs({ 'api', 'admin' }) do pcall(h.ctl, started_env, 'stop', name) end
    started_env = nil
  end
  h.cleanup()
end)

local APP = [[
require('http').createServer(function(req, res)
  res:finish(('%s %s %s'):format(process.env.GREETING, process.env.LUSTER_INSTANCE, table.concat(process.argv, ' ', 3)))
end):listen(tonumber(process.env.PORT))
console.log('up ' .. process.env.LUSTER_INSTANCE)
]]

describe('luster start luster.config.lua', function()
  it('starts every app in the background and returns; ls, the apps and their logs show it', function()
    local dir = h.tmpdir()
    child.write(dir .. '/api/app.lua', APP)
    local pa, pb = h.free_port(), h.free_port()
    child.write(dir .. '/luster.config.lua', ([[
      return { apps = {
        { name = 'api', script = 'api/app.lua', instances = 2, args = { '--mode', 'fast' },
          env = { PORT = %d, GREETING = 'hello' }, kill_timeout = 600, max_memory = 500 },
        { name = 'admin', script = 'api/app.lua', instances = 1, log = 'admin-logs',
          env = { PORT = %d, GREETING = 'admin' }, kill_timeout = 600 },
      } }
    ]]):format(pa, pb))
    local env = h.env()
    started_env = env
    local r = h.ctl(env, 'start', dir .. '/luster.config.lua')
    assert.are.equal(0, r.code, r.err)
    assert.is_truthy(r.out:find('api: started'))
    assert.is_truthy(r.out:find('admin: started'))
    assert.is_true(h.wait_state(env, 3), r.err)
    local per = {}
    for _, row in ipairs(h.ls(env)) do per[row.name] = (per[row.name] or 0) + 1 end
    assert.are.same({ api = 2, admin = 1 }, per)
    local body = await(h.curl(('http://127.0.0.1:%d/'):format(pa)))
    assert.is_truthy(body:match('^hello [01] %-%-mode fast$'), body)
    assert.is_truthy(await(h.curl(('http://127.0.0.1:%d/'):format(pb))):match('^admin 0'))
    -- logs: the default logs/ beside the config, or the app's `log`
    assert.is_true(h.wait_for(function()
      return (child.read(dir .. '/logs/api-0.out.log') or ''):find('up 0') ~= nil
        and (child.read(dir .. '/admin-logs/admin-0.out.log') or ''):find('up 0') ~= nil
    end, 5000))
    -- a second start does not start them twice
    local again = h.ctl(env, 'start', dir .. '/luster.config.lua')
    assert.is_truthy(again.out:find('api: already running'))
    assert.are.equal(3, #h.ls(env))
    for _, name in ipairs({ 'api', 'admin' }) do
      local s = h.ctl(env, 'stop', name)
      assert.are.equal(0, s.code, s.err)
    end
    assert.are.same({}, h.ls(env))
  end)

  it('rejects a config that does not return apps, naming the file', function()
    local dir = h.tmpdir()
    local cfg = child.write(dir .. '/luster.config.lua', 'return { apps = { { name = "x" } } }')
    local r = h.ctl(h.env(), 'start', cfg)
    assert.are.equal(9, r.code)
    assert.is_truthy(r.err:find('luster.config.lua: apps%[1%] needs a script'))
  end)
end)
