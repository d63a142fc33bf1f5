-- The second round's examples run as written: fetch_json, redis_ping,
-- hash_passwords and compress_files (issues 9 and 10), with real peers.
local H = require('helpers.http')
local peer = require('helpers.peer')
local child = require('helpers.child')
local json = require('json')

local dir = (os.getenv('LUSTER_SOURCE_DIR') or '.') .. '/examples/'

describe('examples/fetch_json.lua', function()
  it('answers from its upstream through fetch, and 502 when the upstream is down', function()
    local srv = H.spawn({ PORT = 0 }, dir .. 'fetch_json.lua')
    local body = json.decode(H.curl('-s http://127.0.0.1:' .. srv.port .. '/weather/paris'))
    assert.are.same({ 'paris', 14, 57.2, 'stand-in' }, { body.city, body.celsius, body.fahrenheit, body.via })
    assert.truthy(H.curl('-s -o /dev/null -w %{http_code} http://127.0.0.1:' .. srv.port .. '/weather/atlantis'):find('404'))
    srv:stop()
    local down = H.spawn({ PORT = 0, UPSTREAM = 'http://127.0.0.1:' .. peer.free_port() }, dir .. 'fetch_json.lua')
    local out = H.curl('-s -w " %{http_code}" http://127.0.0.1:' .. down.port .. '/weather/paris')
    down:stop()
    assert.truthy(out:find('ECONNREFUSED', 1, true), out)
    assert.truthy(out:find(' 502$'), out)
  end)
end)

describe('examples/redis_ping.lua', function()
  it('speaks RESP with a real redis-server', function()
    if not peer.have('redis-server') then pending('redis-server is not installed') return end
    local port = peer.free_port()
    local redis = peer.start({ 'redis-server', '--port', tostring(port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no' }, { port = port })
    local r = await(peer.run({ child.bin(), dir .. 'redis_ping.lua' }, { env = { REDIS_PORT = port } }))
    redis:stop()
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('PING -> PONG\nSET greeting -> OK\nGET greeting -> hello from luster\n' ..
      'INCR visits -> 1\nLRANGE -> a,b\n', r.out)
  end)
end)

describe('examples/hash_passwords.lua', function()
  it('registers and logs in with scrypt, while /health stays fast', function()
    local srv = H.spawn({ PORT = 0 }, dir .. 'hash_passwords.lua')
    local base = 'http://127.0.0.1:' .. srv.port
    local function post(path, user, pw)
      return H.curl(("-s -w ' %%{http_code}' -XPOST %s%s -H 'Content-Type: application/json' -d '%s'")
        :format(base, path, json.encode({ user = user, password = pw })))
    end
    assert.truthy(post('/register', 'ada', 's3cret'):find(' 201$'))
    assert.truthy(post('/register', 'ada', 'again'):find(' 409$'))
    assert.truthy(post('/login', 'ada', 's3cret'):find('"ok":true'))
    assert.truthy(post('/login', 'ada', 'wrong'):find(' 401$'))
    -- 8 registrations at once (scrypt on the threadpool) and /health meanwhile
    local list = os.tmpname()
    local cmds = {}
    for i = 1, 8 do
      cmds[#cmds + 1] = ("curl -s -o /dev/null -w 'register %%{time_total}\\n' -XPOST %s/register -H 'Content-Type: application/json' -d '{\"user\":\"u%d\",\"password\":\"pw%d\"}' >> %s &")
        :format(base, i, i, list)
    end
    cmds[#cmds + 1] = 'sleep 0.02'
    for _ = 1, 5 do
      cmds[#cmds + 1] = ("curl -s -o /dev/null -w 'health %%{time_total}\\n' %s/health >> %s"):format(base, list)
    end
    cmds[#cmds + 1] = 'wait'
    os.execute(table.concat(cmds, '\n'))
    local times = { register = {}, health = {} }
    for line in io.lines(list) do
      local kind, t = line:match('^(%a+) ([%d.]+)')
      table.insert(times[kind], tonumber(t))
    end
    os.remove(list)
    srv:stop()
    assert.are.equal(8, #times.register)
    assert.are.equal(5, #times.health)
    table.sort(times.register)
    table.sort(times.health)
    local slowest_register, median_health = times.register[8], times.health[3]
    assert.is_true(median_health < slowest_register / 2,
      ('health %.3fs vs register %.3fs'):format(median_health, slowest_register))
  end)
end)

describe('examples/compress_files.lua', function()
  it('gzips a directory in a WorkerPool, readable by gzip -d', function()
    local d = child.tmpdir()
    local texts = {}
    for i = 1, 12 do
      texts[i] = ('file %d: '):format(i) .. ('lorem ipsum dolor sit amet '):rep(200 * i)
      child.write(('%s/f%02d.txt'):format(d, i), texts[i])
    end
    local r = child.luster(dir .. 'compress_files.lua', d, '3')
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:match('^compressed 12 files, %d+ %-> %d+ bytes, on 3 threads'), r.out)
    for i = 1, 12 do
      local out = child.sh(('gzip -dc %s/f%02d.txt.gz'):format(d, i)).out
      assert.are.equal(texts[i], out)
    end
    child.rmdir(d)
  end)
end)
