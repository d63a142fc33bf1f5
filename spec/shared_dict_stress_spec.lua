-- shared dictionaries under load: 4 cluster processes x 2 worker threads
-- hammer incr, cas and set (with constant eviction) on one dictionary for a
-- bounded time; every increment is accounted for and the structure is whole.
local shared = require('shared')
local cluster = require('cluster')
local h = require('helpers.cluster')

-- the issue's 20 s in a plain build; sanitized builds run 5 s (they are slow
-- and the same code paths are covered)
local SECONDS = tonumber(os.getenv('SHARED_STRESS_SECONDS'))
  or ((os.getenv('LUSTER_SANITIZE') or '') ~= '' and 5 or 20)

local WORKER = [[
local wt = require('worker_threads')
local name, seconds = process.env.DICT, tonumber(process.env.SECONDS)
local THREAD = [=[
  local wt = require('worker_threads')
  local hrtime = require('native.process').hrtime
  local d = require('shared').dict(wt.workerData.name)
  local tag, deadline = wt.workerData.tag, hrtime() + wt.workerData.seconds * 1e9
  local incrs, cases, forcible, torn, i = 0, 0, 0, 0, 0
  while hrtime() < deadline do
    for _ = 1, 100 do
      i = i + 1
      assert(d:incr('hits', 1, 0))
      incrs = incrs + 1
      while true do
        local v = d:get('cas')
        if d:cas('cas', v, (v or 0) + 1) then break end
      end
      cases = cases + 1
      local _, err, f = d:set(tag .. (i % 4000), ('v'):rep(50 + i % 1000))
      assert(err == nil, err)
      if f then forcible = forcible + 1 end
      -- keys every thread writes: a read sees one whole value or none
      d:set('any' .. (i % 500), string.char(97 + i % 26):rep(20 + i % 300))
      local v = d:get('any' .. (i * 7 % 500))
      if v ~= nil and not (#v >= 20 and #v < 320 and v == v:sub(1, 1):rep(#v)) then torn = torn + 1 end
    end
  end
  wt.parentPort:postMessage({ incrs = incrs, cases = cases, forcible = forcible, torn = torn })
]=]
local total, done = { incrs = 0, cases = 0, forcible = 0, torn = 0 }, 0
for t = 1, 2 do
  local w = wt.Worker(THREAD, { eval = true, workerData = {
    name = name, seconds = seconds, tag = ('p%d_t%d_'):format(process.pid, t) } })
  w:on('message', function(m)
    for k, v in pairs(m) do total[k] = total[k] + v end
  end)
  w:on('exit', function(code)
    assert(code == 0, 'thread exited with ' .. code)
    done = done + 1
    if done == 2 then process.send(total); process.exit(0) end
  end)
end
]]

describe('a shared dictionary under load', function()
  it('counts exactly and reads whole values with 4 processes x 2 threads doing incr/cas/set/get while it evicts', function()
    local name = 'stress' .. process.pid
    -- the threads' 32000 keys need more than 16m: it evicts all along, yet
    -- an entry ages for many milliseconds before it is the oldest (the
    -- counters are marked used far more often)
    local d = shared.dict(name, { size = '16m' })
    cluster.setupPrimary({ exec = h.script(WORKER), args = {} })
    local results, exits = {}, {}
    for i = 1, 4 do
      local w = cluster.fork({ DICT = name, SECONDS = tostring(SECONDS) })
      w:on('message', function(m) results[#results + 1] = m end)
      exits[i] = h.event(w, 'exit')
    end
    for i = 1, 4 do
      local e = await(exits[i])
      assert.are.equal(0, e[1])
    end
    assert.are.equal(4, #results)
    local incrs, cases, forcible, torn = 0, 0, 0, 0
    for _, r in ipairs(results) do
      incrs, cases, forcible, torn = incrs + r.incrs, cases + r.cases, forcible + r.forcible, torn + r.torn
    end
    assert.are.equal(0, torn)
    assert.is_true(incrs > 1000, 'too little work: ' .. incrs)
    assert.are.equal(incrs, d:get('hits'))
    assert.are.equal(cases, d:get('cas'))
    assert.is_true(forcible > 0, 'nothing was evicted')
    local ok, step = d:_check()
    assert.is_true(ok, 'inconsistent: ' .. tostring(step))
  end)
end)
