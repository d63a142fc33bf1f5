-- Worker life cycles at scale: thousands of workers created and ended do
-- not grow memory (each one's state, loop and thread are released), and
-- lua-cjson works in many threads at once.
local wt = require('worker_threads')

-- A batch that has not ended within a minute fails with what is still
-- missing (ctest would otherwise time the whole file out and say nothing).
local function within(ms, promise, describe)
  return Promise.new(function(resolve, reject)
    local timer = setTimeout(function() reject(describe()) end, ms)
    promise:next(function(v) clearTimeout(timer); resolve(v) end,
      function(e) clearTimeout(timer); reject(e) end)
  end)
end

local function run_batch(n, src, data)
  local left, seen = n, {}
  local all = Promise.new(function(resolve)
    for i = 1, n do
      local w = wt.Worker(src, { eval = true, workerData = data })
      -- no 'message' listener: the batch delivers as in the run that hung
      seen[i] = { id = w.threadId }
      w:on('online', function() seen[i].online = true end)
      w:on('exit', function()
        seen[i].exit = true
        left = left - 1
        if left == 0 then resolve() end
      end)
    end
  end)
  return within(60000, all, function()
    local missing = {}
    for _, s in ipairs(seen) do
      if not s.exit then
        missing[#missing + 1] = ('thread %s (online %s)'):format(s.id, tostring(s.online))
      end
    end
    return ('%d of %d workers never emitted exit: %s'):format(left, n, table.concat(missing, '; '))
  end)
end

-- Under ThreadSanitizer the allocator is TSan's (with its quarantine and
-- shadow memory): RSS says nothing about leaks there.
local function rss_meaningful()
  if require('native.worker').tsan then
    pending('RSS is not meaningful under ThreadSanitizer')
    return false
  end
  -- ASan keeps freed memory in quarantine: RSS grows by design there
  if (os.getenv('LUSTER_SANITIZE') or '') ~= '' then
    pending('RSS is not meaningful under ' .. os.getenv('LUSTER_SANITIZE'))
    return false
  end
  return true
end

describe('many workers', function()
  it('created and ended by the thousand do not grow RSS', function()
    if not rss_meaningful() then return end
    local src = "require('worker_threads').parentPort.postMessage({ ok = true, t = { 1, 2, 3 } })"
    local function churn(rounds)
      for _ = 1, rounds do await(run_batch(8, src)) end
      collectgarbage()
      collectgarbage()
    end
    churn(40) -- warm up: the allocator's arenas and caches settle
    local before = process.memoryUsage().rss
    churn(250) -- 2000 workers
    local after = process.memoryUsage().rss
    local growth_mb = (after - before) / 1048576
    assert.is_true(growth_mb < 8, ('RSS grew by %.1f MB over 2000 workers'):format(growth_mb))
  end)

  it('terminated while busy, by the hundred, do not grow RSS either', function()
    if not rss_meaningful() then return end
    local function churn(rounds)
      for _ = 1, rounds do
        local ws, exits = {}, {}
        for i = 1, 4 do
          ws[i] = wt.Worker("jit.off() local t = {} for i = 1, 1e9 do t[i % 100 + 1] = { i } end", { eval = true })
          exits[i] = Promise.new(function(r) ws[i]:on('exit', r) end)
        end
        for i = 1, 4 do ws[i]:terminate() end
        await(within(60000, Promise.all(exits), function() return 'terminated workers never emitted exit' end))
      end
      collectgarbage()
    end
    churn(10)
    local before = process.memoryUsage().rss
    churn(50)
    local growth_mb = (process.memoryUsage().rss - before) / 1048576
    assert.is_true(growth_mb < 8, ('RSS grew by %.1f MB over 200 terminated workers'):format(growth_mb))
  end)
end)

describe('lua-cjson in several threads at once', function()
  it('encodes and decodes correctly in 4 workers concurrently', function()
    local results = {}
    local done = Promise.new(function(resolve)
      local left = 4
      for k = 1, 4 do
        local w = wt.Worker(function(k)
          local cjson = require('cjson')
          local ok = 0
          for i = 1, 20000 do
            local t = { id = i, k = k, name = 'w' .. k, vals = { i, i + 0.5, -i }, nested = { flag = i % 2 == 0 } }
            local back = cjson.decode(cjson.encode(t))
            if back.id == i and back.k == k and back.vals[2] == i + 0.5 and back.nested.flag == (i % 2 == 0) then
              ok = ok + 1
            end
          end
          require('worker_threads').parentPort.postMessage(ok)
        end, { workerData = k })
        w:on('message', function(ok) results[k] = ok end)
        w:on('exit', function() left = left - 1; if left == 0 then resolve() end end)
      end
    end)
    local cjson = require('cjson')
    for i = 1, 20000 do assert(cjson.decode(cjson.encode({ i = i })).i == i) end
    await(done)
    assert.are.same({ 20000, 20000, 20000, 20000 }, results)
  end)
end)
