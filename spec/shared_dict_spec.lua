-- shared (API.md "shared"): dictionaries shared by every thread and process
-- of one primary.  This spec's process is the primary: its cluster workers
-- see its dictionaries; a separate luster run does not.
local shared = require('shared')
local cluster = require('cluster')
local h = require('helpers.cluster')

local n = 0
local function fresh(size)
  n = n + 1
  return shared.dict(('spec%d_%d'):format(process.pid, n), { size = size or '1m' })
end

local function fork_script(src)
  cluster.setupPrimary({ exec = h.script(src), args = {} })
  return cluster.fork()
end

local function exit_of(w)
  if w:isDead() then return w.process.exitCode, w.process.signalCode end
  local e = await(h.event(w, 'exit'))
  return e[1], e[2]
end

describe('shared.dict', function()
  it('creates a dictionary by name and returns the same one when asked again', function()
    local a = shared.dict('same_' .. process.pid, { size = '256k' })
    local b = shared.dict('same_' .. process.pid)
    assert.are.equal(a, b)
    a:set('k', 1)
    assert.are.equal(1, b:get('k'))
    assert.is_true(a:capacity() >= 256 * 1024)
  end)

  it('rejects a bad name, options or size with Node-style codes', function()
    assert.has_error(function() shared.dict(42) end)
    local ok, e = pcall(shared.dict, 'x' .. process.pid, { size = 'ten' })
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_VALUE', e.code)
    ok, e = pcall(shared.dict, 'tiny' .. process.pid, { size = 1000 })
    assert.is_false(ok)
    assert.are.equal('ERR_SHARED_DICT', e.code)
  end)

  it('says there is no space when shared memory cannot hold the size asked for', function()
    local df = io.popen('df --output=avail -B1 /dev/shm | tail -1')
    local avail = tonumber(df:read('*a'))
    df:close()
    local want = math.ceil(avail * 1.5 / 4096) * 4096 + 1024 * 1024
    if want > 1e12 then return pending('more than 1t of /dev/shm') end
    local ok, e = pcall(shared.dict, 'nospace' .. process.pid, { size = want })
    assert.is_false(ok)
    assert.are.equal('ERR_SHARED_DICT', e.code)
    assert.is_truthy(e.message:find('No space left'), e.message)
    local after = shared.dict('nospace' .. process.pid, { size = '64k' }) -- nothing was left behind
    assert.are.equal(65536, after:capacity())
  end)
end)

describe('a shared dictionary', function()
  it('keeps the type of strings, numbers and booleans', function()
    local d = fresh()
    assert.are.same({ true, nil, false }, { d:set('s', 'text') })
    d:set('n', 1.5)
    d:set('t', true)
    d:set('f', false)
    d:set('empty', '')
    d:set('bin', 'a\0b')
    assert.are.equal('text', d:get('s'))
    assert.are.equal(1.5, d:get('n'))
    assert.are.equal(true, d:get('t'))
    assert.are.equal(false, d:get('f'))
    assert.are.equal('', d:get('empty'))
    assert.are.equal('a\0b', d:get('bin'))
    assert.is_nil(d:get('missing'))
    d:set('n', 'now a string')
    assert.are.equal('now a string', d:get('n'))
    d:set('s', 7)
    assert.are.equal(7, d:get('s'))
  end)

  it('deletes with set(key, nil) and delete(key)', function()
    local d = fresh()
    d:set('a', 1)
    d:set('a', nil)
    assert.is_nil(d:get('a'))
    d:set('b', 'x')
    assert.is_true(d:delete('b'))
    assert.is_nil(d:get('b'))
    assert.is_true(d:delete('never'))
  end)

  it('raises ERR_INVALID_ARG_TYPE for values it cannot store', function()
    local d = fresh()
    local ok, e = pcall(d.set, d, 'k', {})
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(d.incr, d, 'k', 'one')
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(d.set, d, 'k', 1, -1)
    assert.are.equal('ERR_OUT_OF_RANGE', e.code)
  end)

  it('takes keys up to 65535 bytes and refuses longer or empty ones', function()
    local d = fresh()
    local long = ('k'):rep(65535)
    assert.is_true(d:set(long, 'v'))
    assert.are.equal('v', d:get(long))
    assert.are.same({ nil, 'key too long', false }, { d:set(long .. 'k', 'v') })
    assert.are.same({ nil, 'empty key', false }, { d:set('', 'v') })
    d:set(12, 'number key')
    assert.are.equal('number key', d:get('12'))
  end)

  it('stores values up to the size of the dictionary', function()
    local d = fresh('1m')
    local big = ('x'):rep(900 * 1024)
    assert.is_true(d:set('big', big))
    assert.are.equal(big, d:get('big'))
    assert.are.same({ nil, 'no memory', false }, { d:set('huge', ('y'):rep(2 * 1024 * 1024)) })
  end)

  it('adds only absent keys and replaces only present ones', function()
    local d = fresh()
    assert.is_true(d:add('k', 1))
    assert.are.same({ nil, 'exists', false }, { d:add('k', 2) })
    assert.are.equal(1, d:get('k'))
    assert.are.same({ nil, 'not found', false }, { d:replace('absent', 1) })
    assert.is_nil(d:get('absent'))
    assert.is_true(d:replace('k', 'two'))
    assert.are.equal('two', d:get('k'))
  end)

  it('increments as OpenResty does: not found, init, not a number', function()
    local d = fresh()
    assert.are.same({ nil, 'not found', false }, { d:incr('c', 1) })
    assert.are.equal(15, d:incr('c', 5, 10))
    assert.are.equal(13, d:incr('c', -2))
    assert.are.equal(13.5, d:incr('c', 0.5, 100))
    d:set('s', 'str')
    assert.are.same({ nil, 'not a number', false }, { d:incr('s', 1) })
    d:set('b', true)
    assert.are.same({ nil, 'not a number', false }, { d:incr('b', 1, 0) })
  end)

  it('compares and sets atomically', function()
    local d = fresh()
    assert.is_true(d:cas('k', nil, 'first'))     -- nil: only if absent
    assert.is_false(d:cas('k', nil, 'again'))
    assert.is_false(d:cas('k', 'other', 'x'))
    assert.is_true(d:cas('k', 'first', 2))
    assert.is_false(d:cas('k', '2', 3))           -- a string is not the number
    assert.is_true(d:cas('k', 2, true))
    assert.is_true(d:cas('k', true, nil))         -- new nil deletes
    assert.is_nil(d:get('k'))
  end)

  it('expires entries after their ttl, reports ttl and changes it with expire', function()
    local d = fresh()
    d:set('short', 'v', 0.05)
    d:set('forever', 'v')
    d:incr('counter', 1, 0, 0.05)
    local t = d:ttl('short')
    assert.is_true(t > 0 and t <= 0.05)
    assert.are.equal(0, d:ttl('forever'))
    assert.are.same({ nil, 'not found' }, { d:ttl('absent') })
    d:set('kept', 'v', 0.05)
    assert.is_true(d:expire('kept', 0))
    assert.are.same({ nil, 'not found' }, { d:expire('absent', 1) })
    await(h.sleep(120))
    assert.is_nil(d:get('short'))
    assert.is_nil(d:get('counter'))
    assert.are.same({ nil, 'not found' }, { d:ttl('short') })
    assert.are.equal('v', d:get('kept'))
    assert.is_true(d:add('short', 'again'))      -- an expired key is absent
  end)

  it('lists keys (1024 by default, max, 0 = all), skipping expired ones', function()
    local d = fresh('4m')
    for i = 1, 1500 do d:set('key' .. i, i) end
    d:set('gone', 1, 0.01)
    await(h.sleep(30))
    assert.are.equal(1024, #d:keys())
    assert.are.equal(10, #d:keys(10))
    local all = d:keys(0)
    assert.are.equal(1500, #all)
    local seen = {}
    for _, k in ipairs(all) do seen[k] = true end
    assert.is_true(seen.key1 and seen.key1500)
    assert.is_nil(seen.gone)
  end)

  it('empties with flushAll and reports freeSpace and capacity', function()
    local d = fresh('1m')
    local empty = d:freeSpace()
    assert.is_true(empty > 0.9 * d:capacity() and empty < d:capacity())
    for i = 1, 100 do d:set('k' .. i, ('v'):rep(100)) end
    assert.is_true(d:freeSpace() < empty - 100 * 100)
    d:flushAll()
    assert.are.equal(empty, d:freeSpace())
    assert.are.equal(0, #d:keys(0))
    assert.is_true(d:_check())
  end)

  it('evicts least recently used entries when full and says so with forcible', function()
    local d = fresh('256k')
    local value = ('v'):rep(1000)
    local forcible_seen = false
    d:set('hot', value)
    for i = 1, 2000 do
      local ok, err, forcible = d:set('k' .. i, value)
      assert.is_true(ok, err)
      if forcible then forcible_seen = true end
      if i % 20 == 0 then assert.are.equal(value, d:get('hot')) end -- recently used: kept
      if i % 100 == 0 then await(h.sleep(2)) end -- move the clock so ages differ
    end
    assert.is_true(forcible_seen)
    assert.are.equal(value, d:get('hot'))
    assert.is_nil(d:get('k1'))            -- the oldest went first
    assert.are.equal(value, d:get('k2000'))
    assert.is_true(d:_check())
  end)

  it('does not report forcible when only expired entries made room', function()
    local d = fresh('128k')
    local value = ('v'):rep(1000)
    for i = 1, 100 do d:set('old' .. i, value, 0.01) end
    await(h.sleep(30))
    local forcible_any = false
    for i = 1, 60 do
      local _, _, forcible = d:set('new' .. i, value)
      forcible_any = forcible_any or forcible
    end
    assert.is_false(forcible_any)
  end)
end)

describe('a shared dictionary across processes', function()
  it('is the same dictionary in the primary and in every cluster worker', function()
    local name = 'procs' .. process.pid
    local d = shared.dict(name, { size = '1m' })
    d:set('from_primary', 'hello')
    local workers = {}
    for i = 1, 2 do
      workers[i] = fork_script(([[
        local d = require('shared').dict(%q)
        for i = 1, 5000 do d:incr('total', 1, 0) end
        d:set('seen' .. require('cluster').worker.id, d:get('from_primary'))
        process.exit(0)
      ]]):format(name))
    end
    for i = 1, 2 do assert.are.equal(0, (exit_of(workers[i]))) end
    assert.are.equal(10000, d:get('total'))
    assert.are.equal('hello', d:get('seen' .. workers[1].id))
    assert.are.equal('hello', d:get('seen' .. workers[2].id))
  end)

  it('is a dictionary created in a worker after fork that the primary attaches to', function()
    local name = 'late' .. process.pid
    local w = fork_script(([[
      require('shared').dict(%q, { size = '512k' }):set('made_by', 'worker')
      process.exit(0)
    ]]):format(name))
    assert.are.equal(0, (exit_of(w)))
    local d = shared.dict(name)
    assert.are.equal('worker', d:get('made_by'))
    assert.are.equal(512 * 1024, d:capacity())
  end)

  it('is never shared with an unrelated luster run', function()
    local name = 'private' .. process.pid
    shared.dict(name):set('k', 'mine')
    local r = await(h.run({ h.bin, '-e', ([[
      local d = require('shared').dict(%q)
      print(tostring(d:get('k')))
    ]]):format(name) }))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal('nil\n', r.out)
  end)
end)

local function shm_objects_of(pid)
  local p = io.popen('ls /dev/shm 2>/dev/null')
  local found = 0
  for line in p:lines() do
    if line:find('^luster%-dict%-' .. pid .. '%-') then found = found + 1 end
  end
  p:close()
  return found
end

describe('the memory of a shared dictionary', function()
  it('is released when its scope process exits', function()
    local r = await(h.run({ h.bin, '-e', "require('shared').dict('bye'):set('k', 1) print(process.pid)" }))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(0, shm_objects_of(tonumber(r.out)))
  end)

  it('left by a process killed with SIGKILL is released by the next luster that opens one', function()
    local p = h.start({ h.bin, '-e', [[
      require('shared').dict('orphan'):set('k', 1)
      print('ready')
      setInterval(function() end, 1000)
    ]] })
    assert.is_true(h.wait_for(function() return p.out():find('ready') ~= nil end, 5000), p.err())
    assert.are.equal(1, shm_objects_of(p.pid))
    p.kill('SIGKILL')
    await(p.done)
    assert.are.equal(1, shm_objects_of(p.pid)) -- nobody ran its exit
    local r = await(h.run({ h.bin, '-e', "require('shared').dict('sweeper')" }))
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(0, shm_objects_of(p.pid))
  end)
end)

describe('a shared dictionary when a process dies holding its locks', function()
  it('keeps working and stays consistent after a SIGKILL in the middle of a store', function()
    local name = 'crash' .. process.pid
    local d = shared.dict(name, { size = '1m' })
    for i = 1, 200 do d:set('keep' .. i, i) end
    local w = fork_script(([[
      local d = require('shared').dict(%q)
      assert(d:_die_holding('victim') == 0)
      process.send('holding')
      setInterval(function() end, 1000)
    ]]):format(name))
    await(h.event(w, 'message'))
    os.execute('kill -9 ' .. w.process.pid)
    local _, signal = exit_of(w)
    assert.are.equal('SIGKILL', signal)
    -- the stripe and the heap were locked by the dead process
    assert.is_nil(d:get('victim'))            -- its half-made entry is gone
    assert.is_true(d:set('victim', 'ok'))
    assert.are.equal('ok', d:get('victim'))
    for i = 1, 200 do assert.are.equal(i, d:get('keep' .. i)) end
    assert.is_true(d:set('after', ('z'):rep(5000)))
    assert.is_true(d:_check())
  end)

  it('survives writers killed at random moments, again and again', function()
    local name = 'kills' .. process.pid
    local d = shared.dict(name, { size = '256k' })
    for round = 1, 6 do
      local w = fork_script(([[
        local d = require('shared').dict(%q)
        process.send('go')
        local i = 0
        while true do
          i = i + 1
          local k = 'k' .. (i %% 500)
          d:set(k, ('v'):rep(i %% 700))
          d:incr('n', 1, 0)
          d:cas(k, 'x', 'y')
          if i %% 7 == 0 then d:delete(k) end
        end
      ]]):format(name))
      await(h.event(w, 'message'))
      await(h.sleep(30 + round * 17))
      os.execute('kill -9 ' .. w.process.pid)
      exit_of(w)
      local ok, step = d:_check()
      assert.is_true(ok, 'inconsistent after kill ' .. round .. ': ' .. tostring(step))
      assert.is_true(d:set('probe', round))
      assert.are.equal(round, d:get('probe'))
      -- the writers' sets can evict 'n' (the dictionary is full): incr with
      -- an init value counts either way
      assert.is_number(d:incr('n', 0, 0))
    end
  end)
end)
