-- `luster -i --name NAME` and its control socket (API.md "Operating
-- `luster -i`"): ls / status / reload / restart / stop / logs drive a real
-- primary over its Unix socket.
local h = require('helpers.instances')
local json = require('json')

local SERVER = [[
local http = require('http')
http.createServer(function(req, res)
  res:finish(('pid %d instance %s'):format(process.pid, process.env.LUSTER_INSTANCE))
end):listen(tonumber(process.env.PORT))
console.log('started ' .. process.env.LUSTER_INSTANCE)
setInterval(function() end, 1000)
]]

after_each(h.cleanup)

local function app(name, n, extra_env, args)
  local env = h.env(extra_env)
  env.PORT = env.PORT or tostring(h.free_port())
  local argv = { '-i', tostring(n), '--name', name }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = h.script(SERVER)
  local p = h.start(argv, env)
  assert.is_true(h.wait_state(env, n), p.err())
  return p, env
end

describe('luster -i --name', function()
  it('lists its instances with ls --json and an aligned table', function()
    local p, env = app('web', 2)
    local rows = h.ls(env)
    assert.are.equal(2, #rows)
    for k, r in ipairs(rows) do
      assert.are.equal('web', r.name)
      assert.are.equal(k - 1, r.id)
      assert.is_true(h.alive(r.pid))
      assert.is_true(r.rss > 1024 * 1024)
      assert.are.equal(0, r.restarts)
      assert.are.equal('number', type(r.cpu))
      assert.are.equal('number', type(r.uptime))
    end
    local t = h.ctl(env, 'ls')
    assert.are.equal(0, t.code)
    local lines = {}
    for l in t.out:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.are.equal(3, #lines)
    assert.is_truthy(lines[1]:find('^name%s+id%s+pid%s+state%s+uptime%s+restarts%s+rss%s+cpu$'))
    -- aligned: every row's 'state' column starts where the header's does
    local col = lines[1]:find('state')
    for k = 2, 3 do
      assert.are.equal('listening', lines[k]:sub(col, col + 8))
      assert.are.equal(#lines[1], #lines[k])
    end
    assert.is_truthy(lines[2]:find(tostring(rows[1].pid), 1, true))
    p.kill('SIGTERM')
    assert.are.equal(0, await(p.done).code)
  end)

  it('status NAME --json gives the primary and its instances; an unknown name fails', function()
    local p, env = app('stat', 1)
    local r = h.ctl(env, 'status', 'stat', '--json')
    assert.are.equal(0, r.code, r.err)
    local st = json.decode(r.out)
    assert.are.equal('stat', st.name)
    assert.are.equal(p.pid, st.pid)
    assert.are.equal(1, #st.instances)
    local t = h.ctl(env, 'status', 'stat')
    assert.is_truthy(t.out:find('stat: primary pid ' .. p.pid, 1, true))
    local bad = h.ctl(env, 'status', 'nope')
    assert.are.equal(1, bad.code)
    assert.is_truthy(bad.err:find('no app named nope'))
  end)

  it('reload NAME replaces every instance one by one and reports the outcome', function()
    local p, env = app('rl', 2)
    local before = h.pids(h.ls(env))
    local r = h.ctl(env, 'reload', 'rl')
    assert.are.equal(0, r.code, r.err)
    assert.is_truthy(r.out:find('rl: reloaded 2 instances, 0 failed', 1, true))
    local after, n = h.pids(h.ls(env))
    assert.are.equal(2, n)
    for pid in pairs(before) do assert.is_nil(after[pid]) end
    assert.is_truthy(p.err():find('replaces worker'))
  end)

  it('reload NAME reports a failure and exits 1 when a new instance dies before it is ready', function()
    local flag = h.tmpdir() .. '/broken'
    local env = h.env({ FLAG = flag })
    local p = h.start({ '-i', '1', '--name', 'bad', h.script([[
      local f = io.open(process.env.FLAG)
      if f then f:close() error('broken build') end
      require('http').createServer(function(_, res) res:finish('ok') end):listen(0)
    ]]) }, env)
    assert.is_true(h.wait_state(env, 1), p.err())
    io.open(flag, 'w'):close()
    local r = h.ctl(env, 'reload', 'bad')
    assert.are.equal(1, r.code)
    assert.is_truthy(r.out:find('reloaded 0 instances, 1 failed', 1, true))
  end)

  it('restart NAME replaces every instance and counts the restarts', function()
    local _, env = app('rs', 2)
    local before = h.pids(h.ls(env))
    local r = h.ctl(env, 'restart', 'rs')
    assert.are.equal(0, r.code, r.err)
    assert.is_truthy(r.out:find('restarted 2 instances', 1, true))
    local ok, rows = h.wait_state(env, 2)
    assert.is_true(ok)
    for _, row in ipairs(rows) do
      assert.is_nil(before[row.pid])
      assert.are.equal(1, row.restarts)
    end
  end)

  it('stop NAME drains the primary and its instances, and removes the socket', function()
    local p, env = app('st', 2)
    local pids = h.pids(h.ls(env))
    local r = h.ctl(env, 'stop', 'st')
    assert.are.equal(0, r.code, r.err)
    assert.is_truthy(r.out:find('st: stopped'))
    local done = await(p.done)
    assert.are.equal(0, done.code)
    for pid in pairs(pids) do assert.is_false(h.alive(pid)) end
    assert.are.same({}, h.ls(env))
    local f = io.open(env.XDG_RUNTIME_DIR .. '/luster/st.sock')
    assert.is_nil(f)
  end)

  it('logs NAME --lines N prints the last lines; --follow streams new ones', function()
    local env = h.env()
    local p = h.start({ '-i', '1', '--name', 'lg', h.script([[
      local n = 0
      console.log('started')
      setInterval(function() n = n + 1 console.log('tick ' .. n) end, 100)
    ]]) }, env)
    assert.is_true(h.wait_for(function() return p.out():find('tick 5') ~= nil end, 8000), p.err())
    local r = h.ctl(env, 'logs', 'lg', '--lines', '2')
    assert.are.equal(0, r.code, r.err)
    local lines = {}
    for l in r.out:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.are.equal(2, #lines)
    local a, b = lines[1]:match('^%[1%] tick (%d+)$'), lines[2]:match('^%[1%] tick (%d+)$')
    assert.are.equal(tonumber(a) + 1, tonumber(b))
    -- --follow: a client that keeps reading; stopped by the test
    local f = h.start({ 'logs', 'lg', '--lines', '0', '--follow' }, env)
    assert.is_true(h.wait_for(function() return select(2, f.out():gsub('tick', '')) >= 3 end, 5000), f.err())
    f.kill('SIGTERM')
    await(f.done)
    p.kill('SIGTERM')
    await(p.done)
  end)

  it('refuses a second primary with the same name, and replaces a stale socket', function()
    local p, env = app('dup', 1)
    local second = await(h.run({ h.bin, '-i', '1', '--name', 'dup', h.script(SERVER) },
      { XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR, PORT = tostring(h.free_port()) }))
    assert.are.equal(1, second.code)
    assert.is_truthy(second.err:find('already running'))
    p.kill('SIGKILL') -- leaves its socket file behind
    await(p.done)
    local again = h.start({ '-i', '1', '--name', 'dup', h.script(SERVER) },
      { XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR, PORT = tostring(h.free_port()) })
    assert.is_true(h.wait_state(env, 1), again.err())
  end)

  it('closes a control connection whose request never ends, and keeps serving', function()
    local _, env = app('big', 1)
    local net = require('net')
    local closed = await(require('luster.promise').new(function(resolve)
      local c = net.connect({ path = env.XDG_RUNTIME_DIR .. '/luster/big.sock' })
      c:on('connect', function() c:write(string.rep('x', 70000)) end)
      c:on('error', function() end)
      c:on('close', function() resolve(true) end)
    end))
    assert.is_true(closed)
    assert.are.equal(1, #h.ls(env))
  end)

  it('refuses a name that is not a plain file name, and a control directory owned by someone else', function()
    local r = h.ctl(h.env(), '-i', '1', '--name', '../evil', h.script(SERVER))
    assert.are.equal(1, r.code)
    assert.is_truthy(r.err:find('use letters, digits'))
    if os.execute('test "$(id -u)" = 0') ~= 0 then return end -- chown needs root
    local env = h.env()
    os.execute(('mkdir %s/luster && chown 65534 %s/luster'):format(env.XDG_RUNTIME_DIR, env.XDG_RUNTIME_DIR))
    local s = h.ctl(env, '-i', '1', '--name', 'x', h.script(SERVER))
    assert.are.equal(1, s.code)
    assert.is_truthy(s.err:find('belongs to another user'))
  end)

  it('rejects --name without -i, and a control command without a name', function()
    local r = h.ctl(h.env(), '--name', 'x', h.script(SERVER))
    assert.are.equal(9, r.code)
    assert.is_truthy(r.err:find('needs %-i'))
    local s = h.ctl(h.env(), 'reload')
    assert.are.equal(9, s.code)
  end)
end)
